"""One float as the text ROOT's TBufferJSON writes for a double, adapted to valid JSON.

* integral values without a fractional part (``1`` for ``1.0``), everything else as the
  shortest text that reads back to the same double (Python's ``repr``);
* ``NaN`` as ``null`` and ``±Inf`` as ``±2e308`` — exactly what ROOT 6 writes (the literal
  overflows to ``Infinity`` in JavaScript and in Python's ``json``; ROOT reads ``null`` back
  as NaN). Python's ``json`` would write ``NaN``/``Infinity``, which is not JSON.
* float32/float16 data is first reduced to its own shortest text (``0.1`` not
  ``0.10000000149011612``) and then written as the double with that text.

This is the definition every faster writer (the orjson array path, the JSON writer's
per-type table) is held to. It sits at the bottom of the number modules so that all of them
can use it.
"""

from __future__ import annotations

__all__ = ["fmt_exact_float", "fmt_float"]

_INFINITIES = (float("inf"), float("-inf"))
#: ``repr`` of the floats that are not numbers in JSON, and what ROOT writes for them
_NOT_FINITE = {"nan": "null", "inf": "2e308", "-inf": "-2e308"}


def fmt_float(x: float) -> str:
    """One double as ROOT-style valid JSON text."""
    if x != x:
        return "null"
    if x in _INFINITIES:
        return "2e308" if x > 0 else "-2e308"
    r = repr(float(x))
    if r.endswith(".0"):
        r = r[:-2]
    return r


def fmt_exact_float(x: float) -> str:
    """:func:`fmt_float` for an object of type ``float`` exactly (not a subclass), faster.

    ``float.__repr__`` already tells the three values that are not numbers apart, so one
    ``repr`` and a look at its end decide everything.
    """
    r = x.__repr__()
    if r[-2:] == ".0":
        return r[:-2]
    return _NOT_FINITE.get(r, r)
