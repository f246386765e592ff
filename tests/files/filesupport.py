"""Helpers shared by the file-location tests (plain functions, no fixtures magic)."""

from __future__ import annotations

from collections.abc import AsyncIterable

import trio

from trioserve.call import Call, Response


def make_call(path: str = "/", method: str = "GET", **headers: str) -> Call:
    """A Call as an engine would build it; header names use ``_`` for ``-``."""
    return Call(
        method=method,
        path=path,
        headers=[(name.replace("_", "-").lower(), value) for name, value in headers.items()],
    )


async def collect(response: Response, *, max_chunk: int | None = None) -> bytes:
    """Read a response body as an engine would (``async for``), checking chunk sizes."""
    body = response.body
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    assert isinstance(body, AsyncIterable)
    chunks: list[bytes] = []
    with trio.fail_after(10):
        async for chunk in body:
            assert isinstance(chunk, bytes)
            assert chunk, "empty chunks confuse engines"
            if max_chunk is not None:
                assert len(chunk) <= max_chunk
            chunks.append(chunk)
    return b"".join(chunks)
