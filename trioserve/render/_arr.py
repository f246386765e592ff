"""ROOT's ``$arr`` compression of a 1-D numeric array (the tens digit of ``compact``).

Follows ``TBufferJSON::JsonWriteArrayCompress`` (read in ROOT's io/io/src/TBufferJSON.cxx):
arrays of fewer than 6 elements stay plain (decided by the caller); the ``$arr`` object is
always written on one line with bare ``:`` and the array separator between entries. Mode 10
suppresses zeros, 20 also runs of equal values, 30 writes base64 where JSROOT can decode it.
The blocks of the same-value mode come from a table computed with numpy on *runs*
(:func:`_block_table`). Up to a few hundred blocks are written one by one, their values all
formatted in one call and sliced out of its text; many blocks (up to one per three elements
in the worst case) are written by formatting every number of the object — values,
positions, counts and key suffixes — in one orjson call and splicing the constant key texts
between them, so no Python loop runs per block either.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from trioserve.render._byte_edits import _ranges
from trioserve.render._numbers import number_bytes, number_pieces
from trioserve.render._orjson_layout import Pieces

__all__ = [
    "BASE64_OK",
    "MIN_COMPRESS",
    "arr_blocks",
    "arr_object",
    "array_piece",
    "array_text",
]

# JSROOT decodes base64 only into native typed arrays of the *same* element layout; Bool is a
# plain Array (decoding throws) and Int64/Uint64 land in a Float64Array (bytes misread).
BASE64_OK = frozenset({"Int8", "Uint8", "Int16", "Uint16", "Int32", "Uint32", "Float32", "Float64"})

_COMMA = ord(",")
#: arrays (rows) shorter than this are written plain, as ROOT does
MIN_COMPRESS = 6
_NO_INDEX = np.zeros(0, dtype=np.intp)
#: more blocks than this are written by the vectorised $arr writer
_FEW_BLOCKS = 256


class _Blocks(NamedTuple):
    """The blocks of a compressed 1-D array, as arrays (one entry per block)."""

    lo: np.ndarray  # first element
    hi: np.ndarray  # end (exclusive)
    same: np.ndarray  # True: arr[lo] repeated hi - lo times (written with an "n" count)


def _nonzero_span(arr: np.ndarray) -> tuple[int, int] | None:
    """First nonzero element and the end of the last one (NaN counts as nonzero)."""
    nonzero = arr != 0
    if not nonzero.any():
        return None
    return int(nonzero.argmax()), arr.shape[0] - int(nonzero[::-1].argmax())


def _has_long_run(seg: np.ndarray) -> bool:
    """Whether ``seg`` holds 6 equal values in a row (cheaper than finding all runs)."""
    if seg.shape[0] < 6:
        return False
    eq = seg[1:] == seg[:-1]
    two = eq[:-1] & eq[1:]
    four = two[:-2] & two[2:]
    return bool((four[:-1] & eq[4:]).any())


def _block_table(arr: np.ndarray, mode: int) -> _Blocks:
    """The blocks ``TBufferJSON`` writes for ``arr`` in compression ``mode`` 10 or 20.

    Mode 10 writes the span from the first to the last nonzero value. Mode 20 also writes
    runs of more than 5 equal nonzero values as one value and a count, and leaves out runs
    of more than 9 zeros; the material between such runs is written as arrays, never
    starting with a zero. NaN never equals NaN, as in C++.
    """
    span = _nonzero_span(arr)
    if span is None:
        return _Blocks(_NO_INDEX, _NO_INDEX, np.zeros(0, dtype=np.bool_))
    a, b = span
    seg = arr[a:b]
    if mode != 20 or not _has_long_run(seg):
        return _Blocks(np.array([a]), np.array([b]), np.array([False]))
    # (written with few numpy calls: each costs about a microsecond on histogram-sized data)
    change = (seg[1:] != seg[:-1]).nonzero()[0]
    bounds = np.empty(change.size + 2, dtype=np.intp)  # run r covers bounds[r]:bounds[r + 1]
    bounds[0] = 0
    bounds[1:-1] = change
    bounds[1:-1] += 1
    bounds[-1] = seg.shape[0]
    starts = bounds[:-1]
    is_zero = seg[starts] == 0
    special = (bounds[1:] - starts > np.where(is_zero, 9, 5)).nonzero()[0]
    k = special.size
    # the gaps between special runs: runs first[g]:end[g], minus a leading (short) zero run
    first = np.empty(k + 1, dtype=np.intp)
    first[0] = 0
    first[1:] = special
    first[1:] += 1
    end = np.empty(k + 1, dtype=np.intp)
    end[:-1] = special
    end[-1] = starts.size
    first += is_zero[np.minimum(first, starts.size - 1)] & (first < end)
    lo = np.empty(2 * k + 1, dtype=np.intp)
    hi = np.empty(2 * k + 1, dtype=np.intp)
    valid = np.empty(2 * k + 1, dtype=np.bool_)
    lo[0::2] = bounds[first]
    hi[0::2] = bounds[end]
    valid[0::2] = first < end
    lo[1::2] = starts[special]
    hi[1::2] = bounds[special + 1]
    valid[1::2] = ~is_zero[special]
    same = np.zeros(2 * k + 1, dtype=np.bool_)
    same[1::2] = True
    lo += a
    hi += a
    return _Blocks(lo[valid], hi[valid], same[valid])


def array_text(data: np.ndarray, arr_type: str, mode: int, sep: str) -> str:
    """The text of a numeric array of any dimension in compression ``mode`` 0/10/20/30.

    N-D arrays are nested lists whose innermost rows are compressed, as ROOT does for
    multi-dimensional members; rows too short to compress leave the whole array plain.
    """
    piece = array_piece(data, arr_type, mode, sep)
    return piece if isinstance(piece, str) else b"".join(piece).decode("ascii")


def array_piece(data: np.ndarray, arr_type: str, mode: int, sep: str) -> str | Pieces:
    """:func:`array_text` as the writers produce it: ASCII bytes for the paths that write
    bytes anyway (plain arrays, one-span and many-block ``$arr`` objects), so a render that
    ends as bytes never decodes and re-encodes megabytes of numbers."""
    if mode == 0 or data.size == 0:
        return _plain(data, sep)
    if data.shape[-1] < MIN_COMPRESS and mode != 30:
        return _plain(data, sep)  # (one call for the whole array, not one per row)
    if data.ndim > 1:
        return "[" + sep.join([array_text(row, arr_type, mode, sep) for row in data]) + "]"
    return _arr_piece(data, arr_type, mode, sep)


#: a plain array's bytes are kept as bytes from this size up (smaller: decoded right away,
#: which is cheaper than carrying a separate piece through the writer)
_BYTES_FROM = 1 << 15


def _plain(data: np.ndarray, sep: str) -> str | Pieces:
    return _large(number_pieces(data, sep))


def _large(pieces: Pieces) -> str | Pieces:
    """Large texts stay buffers; small ones become ``str`` at once."""
    if sum(map(len, pieces)) >= _BYTES_FROM:
        return pieces
    return b"".join(pieces).decode("ascii")


def arr_blocks(arr: np.ndarray, mode: int) -> Iterator[tuple[int | None, np.ndarray, int]]:
    """Blocks of a compressed 1-D array: (position or None, values, repeat count).

    ``position`` is None when the block starts where the previous one ended (first block: at
    index 0). ``repeat`` > 1 means a single value written with an ``n`` counter.
    """
    table = _block_table(arr, mode)
    last = 0
    for lo, hi, same in zip(table.lo.tolist(), table.hi.tolist(), table.same.tolist(), strict=True):
        if same:
            yield (lo if lo != last else None), arr[lo : lo + 1], hi - lo
        else:
            yield (lo if lo != last else None), arr[lo:hi], 1
        last = hi


def arr_object(arr: np.ndarray, arr_type: str, mode: int, sep: str) -> str:
    """The ``{"$arr":...}`` text of a 1-D numeric array for compression ``mode`` 10/20/30."""
    piece = _arr_piece(arr, arr_type, mode, sep)
    return piece if isinstance(piece, str) else b"".join(piece).decode("ascii")


def _arr_piece(arr: np.ndarray, arr_type: str, mode: int, sep: str) -> str | Pieces:
    head = f'{{"$arr":"{arr_type}","len":{int(arr.shape[0])}'
    if mode == 30 and arr_type in BASE64_OK:
        members, payload = _base64_members(arr)
        return (head + members).replace(",", sep) + payload
    table = _block_table(arr, 20 if mode == 30 else mode)
    many = _many_blocks(arr, arr_type, table, head) if table.lo.size > _FEW_BLOCKS else None
    piece: str | Pieces = _few_blocks(arr, table, head) if many is None else [many]
    if isinstance(piece, list):
        piece = _large(piece)
    if sep == ",":
        return piece
    if isinstance(piece, str):
        return piece.replace(",", sep)
    return [b"".join(piece).replace(b",", sep.encode("ascii"))]


def _base64_members(arr: np.ndarray) -> tuple[str, str]:
    """The members before the base64 text, and the rest (which holds no separator)."""
    span = _nonzero_span(arr)
    if span is None:
        return ',"b":', '""}'
    a, b = span
    size = arr.dtype.itemsize
    if a * size < 5:
        a = 0
    offset = f',"o":{a * size}' if a > 0 else ""
    raw = np.ascontiguousarray(arr[a:b], dtype=arr.dtype.newbyteorder("<")).tobytes()
    return f'{offset},"b":', f'"{base64.b64encode(raw).decode("ascii")}"}}'


def _few_blocks(arr: np.ndarray, table: _Blocks, head: str) -> str | Pieces:
    """Members of a few blocks, one block at a time, their numbers written in one call.

    The values of every block (one for a repeated value or a single element, all of them
    for an array block) are gathered and written by one :func:`number_bytes` call, and each
    block takes its slice of that text: numpy's cost per call is paid once, not per block.
    """
    lo, hi, same = table
    if not lo.size:
        return head + "}"
    scalar = same | (hi - lo == 1)
    if lo.size == 1 and not scalar[0]:  # one span of values (most arrays): no gathering
        start, end = int(lo[0]), int(hi[0])
        at = f',"p":{start}' if start else ""
        key = f'{head}{at},"v":'.encode("ascii")
        return [key, *number_pieces(arr[start:end]), b"}"]
    counts = np.where(scalar, 1, hi - lo)
    raw = number_bytes(arr[_ranges(lo, lo + counts)])
    text = raw.decode("ascii")
    # token k is text[cuts[k] + 1 : cuts[k + 1]]; a block's tokens are one slice of it
    commas = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == _COMMA)
    cuts = np.concatenate(([0], commas, [len(text) - 1]))
    first = np.cumsum(counts) - counts
    rows = zip(
        lo.tolist(),
        hi.tolist(),
        same.tolist(),
        scalar.tolist(),
        (cuts[first] + 1).tolist(),
        cuts[first + counts].tolist(),
        strict=True,
    )
    parts = [head]
    last = 0
    for idx, (start, end, repeated, single, a, b) in enumerate(rows):
        suffix = str(idx) if idx else ""
        if start != last:
            parts.append(f',"p{suffix}":{start}')
        if single:
            parts.append(f',"v{suffix}":{text[a:b]}')
            if repeated:
                parts.append(f',"n{suffix}":{end - start}')
        else:
            parts.append(f',"v{suffix}":[{text[a:b]}]')
        last = end
    parts.append("}")
    return "".join(parts)


# The texts between the numbers of a many-block $arr object; the numbers are, per block:
# "p" key suffix, position, "v" key suffix, value(s), "n" key suffix, count. Block 0 has no
# key suffixes. The "]" variants close the previous block's array.
_GLUE = (b",", b',"p', b'],"p', b',"v', b'],"v', b'":', b'":[')
_GLUE0 = (b',"p":', b',"v":', b',"v":[', b',"n":', b',"n')
_G_KEEP, _G_P, _G_CLOSE_P, _G_V, _G_CLOSE_V, _G_COLON, _G_COLON_OPEN = range(7)
_G0_P, _G0_V, _G0_V_OPEN, _G0_N, _G_N = range(7, 12)
_GLUE_ALL = (*_GLUE, *_GLUE0)
_GLUE_SIZES = np.array([len(g) for g in _GLUE_ALL], dtype=np.intp)
_GLUE_ROWS = np.array([list(g.ljust(8, b" ")) for g in _GLUE_ALL], dtype=np.uint8)


def _many_blocks(arr: np.ndarray, arr_type: str, table: _Blocks, head: str) -> bytes | None:
    """Members of many blocks: all numbers in one orjson call, the key texts spliced in."""
    lo, hi, same = table
    nb = lo.size
    values = arr
    if arr_type == "Bool":
        # true/false go through the integer stream as -1/-2 (no other number is negative)
        values = np.where(arr, -1, -2)
        dtype: type[np.generic] = np.int64
    elif arr_type == "Float64":
        dtype = np.float64
    elif arr_type == "Float32":
        if arr.shape[0] >= 2**24:  # positions must stay exact in the float32 stream
            return None
        dtype = np.float32
    else:
        dtype = np.uint64 if arr_type == "Uint64" else np.int64
    block = np.arange(nb)
    keyed = block > 0
    scalar = same | (hi - lo == 1)
    at_pos = lo != np.concatenate(([0], hi[:-1]))
    nvals = np.where(scalar, 1, hi - lo)
    # tokens per block and slot: "p" suffix, position, "v" suffix, values, "n" suffix, count
    counts = np.stack([at_pos & keyed, at_pos, keyed, nvals, same & keyed, same], axis=1)
    counts = counts.astype(np.intp)
    ends = np.cumsum(counts.ravel()).reshape(nb, 6)
    first = ends - counts  # token index of each slot's first token
    stream = np.empty(int(ends[-1, -1]), dtype=dtype)
    for slot, number in ((0, block), (1, lo), (2, block), (4, block), (5, hi - lo)):
        present = counts[:, slot] > 0
        stream[first[present, slot]] = number[present]
    stream[_ranges(first[:, 3], ends[:, 3])] = values[_ranges(lo, lo + nvals)]

    # the text that replaces the comma before each slot's first token (later values keep it)
    closes = keyed & np.concatenate(([False], ~scalar[:-1]))  # after an array block
    glue = np.stack(
        [
            _G_P + (closes & at_pos),
            np.where(keyed, _G_COLON, _G0_P),
            _G_V + (closes & ~at_pos),
            np.where(keyed, _G_COLON, _G0_V) + ~scalar,
            np.full(nb, _G_N),
            np.where(keyed, _G_COLON, _G0_N),
        ],
        axis=1,
    )
    present = counts > 0
    tokens = first[present]
    gids = glue[present]

    buf = np.frombuffer(number_bytes(stream), dtype=np.uint8)[1:-1]
    where = np.flatnonzero(buf == _COMMA)[tokens[1:] - 1]  # token 0 starts the text
    body = _replace_bytes(buf, where, _GLUE_ROWS[gids[1:]], _GLUE_SIZES[gids[1:]])
    out = b"".join(
        [
            head.encode("ascii"),
            _GLUE_ALL[gids[0]],
            body.tobytes(),
            b"}" if scalar[-1] else b"]}",
        ]
    )
    if arr_type == "Bool":
        out = out.replace(b"-1", b"true").replace(b"-2", b"false")
    return out


def _replace_bytes(
    buf: np.ndarray, where: np.ndarray, rows: np.ndarray, sizes: np.ndarray
) -> np.ndarray:
    """``buf`` with the byte at offset ``where[i]`` (sorted) replaced by ``rows[i, :sizes[i]]``.

    The inner loop of a many-block ``$arr`` object, where the pieces are rows of a padded
    table: piece ``i`` lands after the ``i`` pieces (``sizes[:i].sum()`` bytes) before it.
    """
    total = int(sizes.sum())
    dest = np.repeat(where - np.arange(where.size), sizes) + np.arange(total)
    out = np.empty(buf.size - where.size + total, dtype=np.uint8)
    inserted = np.zeros(out.size, dtype=np.bool_)
    inserted[dest] = True
    out[dest] = rows[np.arange(rows.shape[1]) < sizes[:, None]]
    keep = np.ones(buf.size, dtype=np.bool_)
    keep[where] = False
    out[~inserted] = buf[keep]
    return out
