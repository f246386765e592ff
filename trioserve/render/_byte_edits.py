"""Deletions and insertions at many offsets of one text, applied together with numpy.

The orjson layout fixes (:mod:`trioserve.render._orjson_layout`) edit thousands of number
texts at once; a Python loop per edit would cost more than writing the numbers did. So the
edits are collected as arrays of offsets and applied in a few numpy passes over the buffer
(or, for a handful of edits, by slicing the text once). :func:`_ranges` — every offset of many
half-open ranges, in order — is the one helper both this and the ``$arr`` writer need.
"""

from __future__ import annotations

import numpy as np

#: up to this many edits (or one per KiB) are applied by slicing the text, more with numpy
_FEW_EDITS = 64


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Every offset k with lo[i] <= k < hi[i], for all i, in order."""
    counts = hi - lo
    begin = np.cumsum(counts) - counts
    return np.repeat(lo - begin, counts) + np.arange(int(counts.sum()))


class _Edits:
    """Deletions and insertions at offsets of one text, applied together."""

    def __init__(self) -> None:
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.at: list[np.ndarray] = []
        self.counts: list[np.ndarray] = []
        self.data: list[np.ndarray] = []

    def delete(self, lo: np.ndarray, hi: np.ndarray) -> None:
        """Delete offsets lo[i] <= k < hi[i]."""
        self.lo.append(lo)
        self.hi.append(hi)

    def insert(self, at: np.ndarray, piece: bytes) -> None:
        """Insert ``piece`` before every offset in ``at``."""
        self.at.append(at)
        self.counts.append(np.full(at.size, len(piece), dtype=np.intp))
        self.data.append(np.tile(np.frombuffer(piece, dtype=np.uint8), at.size))

    def insert_run(self, at: np.ndarray, counts: np.ndarray, byte: int) -> None:
        """Insert ``counts[i]`` copies of ``byte`` before offset ``at[i]``."""
        self.at.append(at)
        self.counts.append(counts)
        self.data.append(np.full(int(counts.sum()), byte, dtype=np.uint8))

    def apply(self, text: bytes) -> bytes:
        if not self.lo and not self.at:
            return text
        empty = np.zeros(0, dtype=np.intp)
        lo = np.concatenate(self.lo) if self.lo else empty
        hi = np.concatenate(self.hi) if self.hi else empty
        at = np.concatenate(self.at) if self.at else empty
        counts = np.concatenate(self.counts) if self.at else empty
        data = np.concatenate(self.data) if self.at else np.zeros(0, dtype=np.uint8)
        if lo.size + at.size <= max(_FEW_EDITS, len(text) >> 10):
            return _splice_few(text, lo, hi, at, counts, data)
        order = np.argsort(at, kind="stable")
        begin = np.cumsum(counts) - counts
        data = data[_ranges(begin[order], begin[order] + counts[order])]
        deleted = np.sort(_ranges(lo, hi))
        buf = np.frombuffer(text, dtype=np.uint8)
        return _splice(buf, deleted, at[order], counts[order], data).tobytes()


def _splice_few(
    text: bytes,
    lo: np.ndarray,
    hi: np.ndarray,
    at: np.ndarray,
    counts: np.ndarray,
    data: np.ndarray,
) -> bytes:
    """:meth:`_Edits.apply` for a few edits: slices of the text joined once."""
    raw = data.tobytes()
    ends = np.cumsum(counts).tolist()
    edits = [
        (p, p, raw[e - c : e]) for p, c, e in zip(at.tolist(), counts.tolist(), ends, strict=True)
    ]
    edits += [(a, b, b"") for a, b in zip(lo.tolist(), hi.tolist(), strict=True)]
    edits.sort(key=lambda edit: edit[:2])  # an insertion goes before a deletion at its offset
    parts = []
    last = 0
    for a, b, piece in edits:
        parts.append(text[last:a])
        parts.append(piece)
        last = b
    parts.append(text[last:])
    return b"".join(parts)


def _splice(
    buf: np.ndarray, deleted: np.ndarray, at: np.ndarray, counts: np.ndarray, data: np.ndarray
) -> np.ndarray:
    """``buf`` without the bytes at ``deleted`` (sorted offsets) and with ``data`` inserted.

    ``data`` is the concatenation of pieces of ``counts[i]`` bytes, piece ``i`` going before
    original offset ``at[i]`` (``at`` sorted; pieces at one offset keep their order). A few
    numpy passes over the buffer, whatever the number of edits.
    """
    if deleted.size:
        keep = np.ones(buf.size, dtype=np.bool_)
        keep[deleted] = False
        buf = buf[keep]
        at = at - np.searchsorted(deleted, at)
    dest = np.repeat(at, counts) + np.arange(data.size)
    out = np.empty(buf.size + data.size, dtype=np.uint8)
    inserted = np.zeros(out.size, dtype=np.bool_)
    inserted[dest] = True
    out[dest] = data
    out[~inserted] = buf
    return out
