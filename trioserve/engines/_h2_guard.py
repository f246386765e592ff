"""HTTP/2 frames checked *before* ``h2`` buffers them: sizes, header blocks, floods.

``h2`` (python-hyper) parses frames correctly, but it is a protocol library, not a guard: it
buffers a frame whatever length its header announces until the whole frame has arrived, keeps
up to 64 CONTINUATION frames of one header block, and answers every PING and SETTINGS frame a
client cares to send. So, as :class:`~._http_parse.ChunkedGuard` does for chunked HTTP/1.1
bodies, :class:`FrameGuard` reads the 9-byte frame headers of the raw bytes ahead of ``h2``
(RFC 9113 §4.1) and refuses, while the bytes are still small:

* a frame longer than the ``SETTINGS_MAX_FRAME_SIZE`` we advertised (``FRAME_SIZE_ERROR``,
  §4.2), before its payload is buffered;
* a header block (HEADERS plus CONTINUATION frames, §4.3) longer than the header list budget,
  or in more than ``max_continuations`` CONTINUATION frames: CVE-2024-27316, the CONTINUATION
  flood (``ENHANCE_YOUR_CALM``);
* floods of frames that cost the server work but carry no request (CVE-2019-9512/9515/9518 and
  CVE-2023-44487, the rapid reset): SETTINGS, PING, RST_STREAM, PRIORITY and unknown frames,
  frames with an empty payload that end nothing, and WINDOW_UPDATE frames beyond those our
  own DATA frames call for. Each kind has a budget per :attr:`H2Limits.flood_window`
  seconds (:class:`FloodCounter`); over budget, the connection ends with
  ``ENHANCE_YOUR_CALM``.

The clock is an argument (``now``), so every rule is a plain call in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from h2.errors import ErrorCodes

__all__ = [
    "PREFACE",
    "FloodCounter",
    "FrameGuard",
    "FrameType",
    "GuardError",
    "H2Limits",
]

#: the client connection preface (RFC 9113 §3.4)
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_FRAME_HEADER = 9
#: payload sizes fixed by the RFC (§6.3, §6.4, §6.7, §6.9): other sizes are FRAME_SIZE_ERROR
_FIXED_LENGTH = {2: 5, 3: 4, 6: 8, 8: 4}
#: frame flags (RFC 9113 §6)
_END_STREAM = 0x1
_ACK = 0x1
_END_HEADERS = 0x4
_PADDED = 0x8


class FrameType(IntEnum):
    """Frame type numbers (RFC 9113 §6)."""

    DATA = 0
    HEADERS = 1
    PRIORITY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PUSH_PROMISE = 5
    PING = 6
    GOAWAY = 7
    WINDOW_UPDATE = 8
    CONTINUATION = 9


@dataclass(frozen=True, slots=True)
class H2Limits:
    """What one HTTP/2 connection may cost; the engine builds it from its options
    (:meth:`~._h2_state.H2State` reads it). Defaults follow the peers that had to pick them
    under attack: nghttp2/Go/nginx for streams and frames, Netty for rapid resets."""

    #: ``SETTINGS_MAX_CONCURRENT_STREAMS``: streams served at once (a stream counts until its
    #: task has ended, even after the client reset it); more are refused (REFUSED_STREAM)
    max_concurrent_streams: int = 100
    #: ``SETTINGS_MAX_HEADER_LIST_SIZE`` (RFC 9113 §6.5.2 counting); also the bound on a
    #: header block's bytes on the wire, which an honest encoder keeps below the list size
    max_header_list_size: int = 16384 + 8192
    #: ``SETTINGS_HEADER_TABLE_SIZE``: the HPACK dynamic table the client may make us keep
    header_table_size: int = 4096
    #: ``SETTINGS_MAX_FRAME_SIZE`` (the protocol's minimum, and the default)
    max_frame_size: int = 16384
    #: ``SETTINGS_INITIAL_WINDOW_SIZE``: request body bytes a stream may send ahead
    initial_window_size: int = 256 * 1024
    #: CONTINUATION frames one header block may use
    max_continuations: int = 16
    #: request body bytes per stream (413 beyond)
    max_body: int = 16 * 1024 * 1024
    #: the flood budgets below are per this many seconds
    flood_window: float = 10.0
    #: RST_STREAM frames received plus streams we refused (the rapid reset, CVE-2023-44487)
    max_resets: int = 200
    #: SETTINGS frames (acknowledgements included)
    max_settings: int = 100
    #: PING frames (acknowledgements included)
    max_pings: int = 100
    #: PRIORITY and unknown frames
    max_other: int = 1000
    #: DATA, HEADERS and CONTINUATION frames with no payload that end nothing
    max_empty: int = 100
    #: WINDOW_UPDATE frames beyond two per DATA frame we sent
    max_window_updates: int = 1000


class GuardError(Exception):
    """The connection must end: a GOAWAY with ``code``; ``reason`` goes to the log."""

    def __init__(self, code: ErrorCodes, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class FloodCounter:
    """Frames of each kind per :attr:`H2Limits.flood_window` seconds, in fixed windows.

    A fixed window lets a burst of twice the budget through at a window edge, which is
    harmless here (the budgets are about sustained floods, not bursts) and costs two
    numbers per kind.
    """

    __slots__ = ("_counts", "_credit", "_limits", "_start", "_window")

    def __init__(self, limits: H2Limits) -> None:
        self._window = limits.flood_window
        self._limits = {
            "reset": limits.max_resets,
            "settings": limits.max_settings,
            "ping": limits.max_pings,
            "other": limits.max_other,
            "empty": limits.max_empty,
            "window_update": limits.max_window_updates,
        }
        self._counts = dict.fromkeys(self._limits, 0)
        self._start: float | None = None
        #: WINDOW_UPDATE frames our DATA frames entitle the client to (stream + connection)
        self._credit = 0

    def count(self, kind: str, now: float) -> None:
        """One more frame of ``kind``; :class:`GuardError` when its budget is spent."""
        if self._start is None or now - self._start >= self._window:
            self._start = now
            self._counts = dict.fromkeys(self._limits, 0)
        self._counts[kind] += 1
        if self._counts[kind] > self._limits[kind]:
            raise GuardError(
                ErrorCodes.ENHANCE_YOUR_CALM,
                f"{kind} flood: more than {self._limits[kind]} in {self._window:g} s",
            )

    def data_sent(self) -> None:
        """We sent a DATA frame: the client may answer it with two WINDOW_UPDATE frames."""
        self._credit = min(self._credit + 2, 1 << 20)

    def window_update(self, now: float) -> None:
        if self._credit > 0:
            self._credit -= 1
            return
        self.count("window_update", now)


class FrameGuard:
    """Follows the raw bytes of one connection, from the preface on, frame header by frame
    header; :meth:`feed` raises :class:`GuardError` for what must end the connection."""

    __slots__ = (
        "_block_bytes",
        "_block_frames",
        "_flood",
        "_header",
        "_limits",
        "_preface",
        "_probe_length",
        "_settings_due",
        "_skip",
        "frames",
    )

    def __init__(self, limits: H2Limits, flood: FloodCounter) -> None:
        self._limits = limits
        self._flood = flood
        #: preface bytes still expected
        self._preface = PREFACE
        #: the preface's SETTINGS frame is still due (it must be the first frame, §3.4)
        self._settings_due = True
        self._header = bytearray()
        #: payload bytes of the current frame still to pass
        self._skip = 0
        #: a padded DATA frame's length, while its first payload byte (the pad length) is due
        self._probe_length = 0
        #: the header block in progress: its bytes and CONTINUATION frames (None: none open)
        self._block_bytes: int | None = None
        self._block_frames = 0
        #: frames seen (for the tests and statistics)
        self.frames = 0

    @property
    def header_block_open(self) -> bool:
        """A HEADERS frame came without END_HEADERS and its block is not complete: the
        engine holds the client to ``header_timeout`` until it is."""
        return self._block_bytes is not None

    def feed(self, data: bytes, now: float) -> None:
        view = memoryview(data)
        index = 0
        if self._preface:
            take = min(len(self._preface), len(view))
            if bytes(view[:take]) != self._preface[:take]:
                raise GuardError(ErrorCodes.PROTOCOL_ERROR, "invalid connection preface")
            self._preface = self._preface[take:]
            index = take
        end = len(view)
        while index < end:
            if self._skip:
                take = min(self._skip, end - index)
                if self._probe_length:
                    pad = view[index]
                    if pad + 1 >= self._probe_length:  # padding only: an empty DATA frame
                        self._flood.count("empty", now)
                    self._probe_length = 0
                self._skip -= take
                index += take
                continue
            take = min(_FRAME_HEADER - len(self._header), end - index)
            self._header += view[index : index + take]
            index += take
            if len(self._header) == _FRAME_HEADER:
                header = bytes(self._header)
                self._header.clear()
                self._frame(header, now)

    def _frame(self, header: bytes, now: float) -> None:
        length = int.from_bytes(header[:3], "big")
        kind = header[3]
        flags = header[4]
        self.frames += 1
        if length > self._limits.max_frame_size:
            raise GuardError(
                ErrorCodes.FRAME_SIZE_ERROR,
                f"frame of {length} bytes (SETTINGS_MAX_FRAME_SIZE {self._limits.max_frame_size})",
            )
        self._skip = length
        if self._settings_due:
            if kind != FrameType.SETTINGS or flags & _ACK:
                raise GuardError(
                    ErrorCodes.PROTOCOL_ERROR, "the preface must end with a SETTINGS frame"
                )
            self._settings_due = False
        fixed = _FIXED_LENGTH.get(kind)
        if (fixed is not None and length != fixed) or (
            kind == FrameType.SETTINGS and (length % 6 or (flags & _ACK and length))
        ):
            raise GuardError(ErrorCodes.FRAME_SIZE_ERROR, f"frame of type {kind} of {length} bytes")
        if kind == FrameType.CONTINUATION:
            self._continuation(length, flags, now)
        elif kind in (FrameType.HEADERS, FrameType.PUSH_PROMISE):
            self._block_frames = 0
            self._block_bytes = 0
            self._grow_block(length)
            if flags & _END_HEADERS:
                self._block_bytes = None
            elif length == 0:
                self._flood.count("empty", now)
        elif kind == FrameType.DATA:
            if not flags & _END_STREAM:
                if length == 0:
                    self._flood.count("empty", now)
                elif flags & _PADDED:
                    self._probe_length = length
        elif kind == FrameType.SETTINGS:
            self._flood.count("settings", now)
        elif kind == FrameType.PING:
            self._flood.count("ping", now)
        elif kind == FrameType.RST_STREAM:
            self._flood.count("reset", now)
        elif kind == FrameType.WINDOW_UPDATE:
            self._flood.window_update(now)
        elif kind != FrameType.GOAWAY:
            self._flood.count("other", now)  # PRIORITY, and extension frames we ignore

    def _continuation(self, length: int, flags: int, now: float) -> None:
        if self._block_bytes is None:
            return  # a CONTINUATION outside a header block: h2 ends the connection for it
        self._block_frames += 1
        if self._block_frames > self._limits.max_continuations:
            raise GuardError(
                ErrorCodes.ENHANCE_YOUR_CALM,
                f"header block in more than {self._limits.max_continuations} CONTINUATION frames",
            )
        self._grow_block(length)
        if flags & _END_HEADERS:
            self._block_bytes = None
        elif length == 0:
            self._flood.count("empty", now)

    def _grow_block(self, length: int) -> None:
        assert self._block_bytes is not None
        self._block_bytes += length
        if self._block_bytes > self._limits.max_header_list_size:
            raise GuardError(
                ErrorCodes.ENHANCE_YOUR_CALM,
                f"header block over {self._limits.max_header_list_size} bytes",
            )
