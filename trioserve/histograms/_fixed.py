"""``Fixed``: a JSON object whose contents never change, so its text is written once.

A histogram renders three ``TAxis`` objects and an empty ``TList`` every time it is asked for,
and while the program fills it they stay the same: about half of a small histogram's
render went to writing them again, in a request whose every microsecond is the observed
program's. A ``Fixed`` object is one of those, built once (``_root`` keeps them by their
contents) and immutable; the JSON writer keeps its text per layout on the object and
appends it, counting the objects inside for ``$ref`` numbering as if it had written them.

It is a value, not an identity: the writer never answers a second occurrence with a
``$ref`` (ROOT's axes are distinct objects, each written out), so one ``Fixed`` may stand in
many histograms and in one render twice.
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["Fixed"]


class Fixed(dict[str, Any]):
    """An immutable ``dict`` (``_typename`` and members) with its rendered texts.

    ``texts`` maps a layout key chosen by the writer to (text, number of objects in it).
    """

    __slots__ = ("texts",)
    #: listed (``h.json``'s ``_kind``) as the plain dict it stands for
    __trioserve_typename__ = "dict"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.texts: dict[Any, tuple[str, int]] = {}

    def _immutable(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(
            "this object (an axis, an empty TList) is shared by every render and cannot "
            "change: put a changed copy in its place, e.g. d['fXaxis'] = {**d['fXaxis'], ...}"
        )

    __setitem__ = __delitem__ = __ior__ = _immutable
    clear = pop = popitem = setdefault = update = _immutable

    def __reduce__(self) -> Any:  # copies and pickles are plain dicts
        return (dict, (dict(self),))
