"""File bodies: the async iterators an engine drains to send a file, at the engine's pace.

A body is built together with the headers, but the file is only read when the engine asks for
the first chunk. If the file changed size or mtime in between, :class:`FileChangedError` is
raised from the body iterator; the engine must then drop the connection, because the promised
Content-Length and ETag would be a lie.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import trio

__all__ = ["GZIP_LEVEL", "FileBody", "FileChangedError", "NoBody", "read_all"]

#: one fixed level (and gzip mtime 0, see :mod:`trioserve.files.response`) keeps our gzip
#: output deterministic, which is what makes the strong gzip ETag honest
GZIP_LEVEL = 6


class FileChangedError(OSError):
    """The file changed between building the headers and reading it; abort the response."""


class NoBody:
    """An async body with no chunks: HEAD replies carry ``content_length`` but send nothing."""

    def __aiter__(self) -> NoBody:
        return self

    async def __anext__(self) -> bytes:
        raise StopAsyncIteration

    async def aclose(self) -> None:
        return None


class FileBody:
    """Async iterator over a file's bytes (or a list of slices and literal parts).

    Why a class and not an async generator: an engine whose ``async for`` is cancelled does not
    close a generator, so its file would stay open until garbage collection. Here the file is
    opened lazily on the first ``__anext__`` (an unconsumed HEAD/error body never opens it),
    closed at the end, on any exception inside ``__anext__`` (cancellation included), by
    :meth:`aclose`, and as a last resort in ``__del__``. Engines should still ``aclose()``
    bodies that have it in their ``finally``.

    One chunk is read per ``__anext__``, so the consumer's pace is the read pace
    (backpressure); at most ``chunk_size`` bytes of the file are in memory at once.
    """

    def __init__(
        self,
        path: Path,
        parts: list[bytes | tuple[int, int]],
        *,
        expect: tuple[int, int],
        chunk_size: int = 64 * 1024,
        gzip: bool = False,
    ) -> None:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self._path = path
        self._parts = list(parts)
        self._expect = expect  # (size, mtime_ns) the headers were built from
        self._chunk_size = chunk_size
        self._file: Any = None  # trio's AsyncIOWrapper around a binary file
        self._index = 0
        self._remaining: int | None = None
        self._compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31) if gzip else None
        self._done = False

    @property
    def closed(self) -> bool:
        return self._done and self._file is None

    def __aiter__(self) -> FileBody:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        try:
            chunk = await self._next_chunk()
        except BaseException:
            self._close_now()
            raise
        if chunk is None:
            self._close_now()
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        """Close the file; safe to call many times, never blocks, never raises."""
        self._close_now()

    def _close_now(self) -> None:
        # Closing a read-only regular file does not block, so do it synchronously: this works
        # inside a cancelled scope and from __del__, where awaiting is impossible.
        self._done = True
        if self._file is not None:
            file, self._file = self._file, None
            file.wrapped.close()

    def __del__(self) -> None:
        if self._file is not None:
            self._close_now()

    async def _open(self) -> None:
        file = await trio.open_file(self._path, "rb")
        self._file = file
        st = os.fstat(file.wrapped.fileno())
        if (st.st_size, st.st_mtime_ns) != self._expect:
            raise FileChangedError(f"{self._path} changed while being served")

    async def _next_chunk(self) -> bytes | None:
        while self._index < len(self._parts):
            part = self._parts[self._index]
            if isinstance(part, bytes):
                self._index += 1
                if part:
                    return part
                continue
            start, length = part
            if self._remaining is None:
                if self._file is None:
                    await self._open()
                assert self._file is not None
                await self._file.seek(start)
                self._remaining = length
            if self._remaining == 0:
                self._remaining = None
                self._index += 1
                continue
            assert self._file is not None
            data = await self._file.read(min(self._chunk_size, self._remaining))
            if not data:
                raise FileChangedError(f"{self._path} shrank while being served")
            self._remaining -= len(data)
            if self._compressor is None:
                return bytes(data)
            out = self._compressor.compress(data)
            if out:
                return out
        if self._compressor is not None:
            out = self._compressor.flush()
            self._compressor = None
            if out:
                return out
        return None


async def read_all(body: FileBody) -> bytes:
    """Drain ``body`` into bytes and close it (also when reading fails)."""
    try:
        return b"".join([chunk async for chunk in body])
    finally:
        await body.aclose()
