"""Python objects as ROOT-style JSON: the dialect of TBufferJSON that JSROOT reads.

``render_json(obj, compact=0)`` is what ``root.json?compact=N`` answers (ROOT's
``TBufferJSON::ToJSON``). Sans-IO and pure: no Trio, no sockets.

The ``compact`` number, digit by digit (as ``TBufferJSON::SetCompact``):

* units — 0: newline before every member, 2-space indent per object level, ``" : "``;
  1: newlines, no indentation; 2: no newlines; 3: no spaces at all (``:`` and ``,``).
  Members are separated by ``,`` (+ newline for 0/1); array elements by ``", "`` (``","`` for
  3); arrays are always written on one line. Digits 5..9 mean the same as 0..4 (ROOT's
  map-as-object flag; our dicts are always objects).
* tens — 0: plain arrays; 10: zero suppression; 20: same-value suppression; 30: base64
  (see :mod:`trioserve.render._arr`); other values behave like 10, as in ROOT. Applies to
  numeric arrays of at least 6 elements (numpy arrays, bytes, and lists made only of ints, only
  of floats/ints, or only of bools); N-D arrays are nested lists whose innermost rows are
  compressed, as ROOT does for multi-dimensional members.
* hundreds — 100: no ``_typename`` anywhere (not readable back by JSROOT).

Objects
  Every JSON object starts with ``"_typename"`` (:func:`~trioserve.render.introspect.typename`).
  Dataclasses, plain objects, namedtuples and dicts become objects holding exactly their
  :func:`~trioserve.render.introspect.public_members` (nothing starting with ``_`` or ``$``).
  A dict's own ``"_typename"`` string, if it has one, is used as its type name (this is how
  ``__trioserve_json__`` output names nested objects such as a ``TAxis``). Integer-like keys
  are written first in ascending order because JavaScript enumerates them first: that keeps
  our object numbering equal to JSROOT's (below).

References (``$ref``)
  JSROOT's ``parse`` numbers *every* JSON object it meets, depth-first in key order, starting
  with the top object as 0, except ``$ref``, ``$arr`` and ``$pair`` objects (read in JSROOT
  7.11 core.mjs and checked with its ``parse``); ROOT's writer numbers objects the same way
  (``fJsonrCnt``). We count identically, and when the same Python object (by identity) comes
  again — repeated or a cycle — write ``{"$ref":N}`` with N its number. Lists are JSON arrays,
  which JSROOT cannot reference: a repeated list is written again, and a list that contains
  itself is written as ``null`` at the point of recursion. Nesting deeper than
  ``MAX_DEPTH`` is cut with ``null`` rather than overflowing the stack.

Scalars
  ``None`` → ``null``; bool; int; float (see ``_numbers.fmt_float``: ``1`` for 1.0, NaN →
  ``null``, ±Inf → ``±2e308``, what ROOT writes); ``str`` → valid UTF-8 JSON string with ``/``
  written as ``\\/`` (as ROOT does; so ``</script>`` can never appear), U+2028/U+2029 escaped,
  lone surrogates replaced by U+FFFD; ``bytes``/``bytearray``/``memoryview`` → a ``Uint8``
  numeric array (plain, or ``$arr``/base64 per the tens digit; JSROOT turns it into a
  Uint8Array); ``IntEnum``/``IntFlag`` → their integer, other ``Enum`` → member name;
  ``datetime``/``date``/``time`` → ISO 8601 string; ``timedelta`` → seconds; ``Decimal`` /
  ``Fraction`` → number; ``complex`` → ``{"_typename":"complex","re":..,"im":..}``; UUID and
  paths → string; sets → arrays (sorted when sortable); numpy scalars like their Python value;
  modules, classes, functions and other callables → ``null`` (never traversed).

Custom representation protocol
  A class may define ``__trioserve_json__(self) -> object`` returning a JSON-able structure
  (dicts, lists, numbers, strings, numpy arrays, other objects — rendered by these same rules).
  If it returns a dict, that dict stands for the object: it gets the object's ``$ref`` number,
  its ``"_typename"`` entry (if a string) or else ``typename(obj)``, and its other ``_`` keys
  are dropped. Our histograms use it to produce ``TH1D``/``TH2D``/``TProfile``/``TGraph``.
  The protocol is called on every render, so it should be cheap and must not mutate.
  The axes and the empty ``fFunctions`` list our histograms return are shared, immutable
  :class:`~trioserve.histograms.Fixed` objects whose text is written once per layout: to
  change one, put a changed copy in its place (``d["fXaxis"] = {**d["fXaxis"], ...}``).
"""

from __future__ import annotations

from trioserve.render._json_text import fmt_str
from trioserve.render._json_writer import MAX_DEPTH, Compact, _Writer
from trioserve.render._numbers import numeric_list

__all__ = [
    "MAX_DEPTH",
    "Compact",
    "fmt_str",
    "numeric_list",
    "parse_compact",
    "render_json",
    "render_json_bytes",
]


_COMPACTS: dict[int, Compact] = {}


def parse_compact(compact: int) -> Compact:
    """Decode ``compact`` like ``TBufferJSON::SetCompact`` (negative → 0)."""
    level = max(int(compact), 0)
    known = _COMPACTS.get(level)
    if known is not None:
        return known
    fmt = level % 10
    if fmt >= 5:
        fmt -= 5
    fmt = min(fmt, 3)
    arrays = (level // 10) % 10 * 10
    if arrays > 30:
        arrays = 10
    decoded = Compact(fmt=fmt, arrays=arrays, typeinfo=(level // 100) % 10 != 1)
    if level < 1000:  # the levels ROOT defines, remembered (a Compact is immutable)
        _COMPACTS[level] = decoded
    return decoded


def render_json(obj: object, compact: int = 0) -> str:
    """``obj`` as ROOT-style JSON text (see the module docstring for every rule)."""
    writer = _Writer(parse_compact(compact))
    writer.write(obj, 0, 0)
    return writer.text()


def render_json_bytes(obj: object, compact: int = 0) -> bytes:
    """:func:`render_json` encoded as UTF-8, the way a reply needs it: large arrays are
    written as bytes and stay bytes (no decode and re-encode of megabytes of numbers)."""
    writer = _Writer(parse_compact(compact))
    writer.write(obj, 0, 0)
    return writer.utf8()
