"""Helpers for the HTTP/2 tests (no tests here): frames made by hand, and frames read back.

The frames are built with ``hyperframe`` and header blocks with ``hpack`` -- the libraries
``h2`` itself is made of, used here as a client that can also misbehave on purpose. What the
server answers is read back frame by frame (:func:`frames_of`), so a test sees exactly the
GOAWAY, RST_STREAM or SETTINGS the server wrote.
"""

from __future__ import annotations

from collections.abc import Iterable

from hpack import Decoder, Encoder
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    RstStreamFrame,
    SettingsFrame,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def request_headers(path: str = "/a/h.json", method: str = "GET", **extra: str) -> list:
    headers = [(":method", method), (":scheme", "http"), (":authority", "test"), (":path", path)]
    headers += [(name.replace("_", "-"), value) for name, value in extra.items()]
    return headers


class Client:
    """A client that writes frames by hand (with one HPACK encoder for the connection)."""

    def __init__(self) -> None:
        self.encoder = Encoder()

    def preface(self) -> bytes:
        return PREFACE + SettingsFrame(0).serialize()

    def block(self, headers: Iterable[tuple[str, str]]) -> bytes:
        return self.encoder.encode(list(headers))

    def headers(
        self, stream_id: int, headers: Iterable[tuple[str, str]] | None = None, *, end: bool = True
    ) -> bytes:
        flags = {"END_HEADERS"} | ({"END_STREAM"} if end else set())
        block = self.block(request_headers() if headers is None else headers)
        return HeadersFrame(stream_id, data=block, flags=flags).serialize()

    def request(self, stream_id: int, path: str = "/a/h.json") -> bytes:
        return self.headers(stream_id, request_headers(path))


def data(stream_id: int, payload: bytes, *, end: bool = False) -> bytes:
    return DataFrame(stream_id, data=payload, flags={"END_STREAM"} if end else set()).serialize()


def rst(stream_id: int, code: int = 8) -> bytes:
    return RstStreamFrame(stream_id, error_code=code).serialize()


def continuation(stream_id: int, payload: bytes, *, end: bool = False) -> bytes:
    frame = ContinuationFrame(stream_id, data=payload, flags={"END_HEADERS"} if end else set())
    return frame.serialize()


def raw_frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    """A frame exactly as given, valid or not."""
    header = len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream_id.to_bytes(4, "big")
    return header + payload


def frames_of(data: bytes) -> list[Frame]:
    """Every complete frame in ``data`` (server output: no preface)."""
    frames = []
    view = memoryview(data)
    while len(view) >= 9:
        frame, length = Frame.parse_frame_header(view[:9])
        if len(view) < 9 + length:
            break
        frame.parse_body(view[9 : 9 + length])
        frames.append(frame)
        view = view[9 + length :]
    return frames


def goaway_of(data: bytes) -> GoAwayFrame | None:
    found = [frame for frame in frames_of(data) if isinstance(frame, GoAwayFrame)]
    return found[-1] if found else None


def resets_of(data: bytes) -> dict[int, int]:
    """stream id -> error code of every RST_STREAM in ``data``."""
    return {
        frame.stream_id: frame.error_code
        for frame in frames_of(data)
        if isinstance(frame, RstStreamFrame)
    }


class RawH2:
    """An HTTP/2 client on a real socket that sends exactly the bytes a test gives it and
    reads the server's frames back one by one (header blocks decoded)."""

    def __init__(self, stream: object) -> None:
        import trio

        assert isinstance(stream, trio.abc.Stream)
        self.stream = stream
        self.buffer = b""
        self.decoder = Decoder()
        self.client = Client()
        self.eof = False

    @classmethod
    async def open(cls, address: object, settings: dict[int, int] | None = None) -> RawH2:
        from .test_http_support import connect

        raw = cls(await connect(address))
        frame = SettingsFrame(0, settings=settings or {})
        await raw.send(PREFACE + frame.serialize())
        return raw

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)  # type: ignore[attr-defined]

    async def next_frame(self) -> Frame | None:
        """The next frame, or None at the end of the connection."""
        import trio

        while True:
            if len(self.buffer) >= 9:
                frame, length = Frame.parse_frame_header(memoryview(self.buffer[:9]))
                if len(self.buffer) >= 9 + length:
                    frame.parse_body(memoryview(self.buffer[9 : 9 + length]))
                    self.buffer = self.buffer[9 + length :]
                    if isinstance(frame, HeadersFrame):
                        frame.decoded = self.decoder.decode(frame.data)  # type: ignore[attr-defined]
                    return frame
            if self.eof:
                return None
            try:
                data = await self.stream.receive_some(65536)  # type: ignore[attr-defined]
            except trio.BrokenResourceError:
                data = b""
            if not data:
                self.eof = True
            self.buffer += data

    async def until(self, done: object) -> list[Frame]:
        """Frames up to and including the first for which ``done(frame)`` is true (or up to
        the end of the connection)."""
        seen = []
        while True:
            frame = await self.next_frame()
            if frame is None:
                return seen
            seen.append(frame)
            if done(frame):  # type: ignore[operator]
                return seen

    async def response(self, stream_id: int) -> tuple[int, bytes, list[Frame]]:
        """Status and body of one stream's response (read until its END_STREAM); the frames
        read meanwhile."""
        frames = await self.until(
            lambda f: (
                f.stream_id == stream_id
                and ("END_STREAM" in f.flags or isinstance(f, RstStreamFrame))
            )
        )
        status = 0
        body = b""
        for frame in frames:
            if frame.stream_id != stream_id:
                continue
            if isinstance(frame, HeadersFrame):
                status = int(dict(frame.decoded)[":status"])  # type: ignore[attr-defined]
            elif isinstance(frame, DataFrame):
                body += frame.data
        return status, body, frames
