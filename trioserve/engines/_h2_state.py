"""HTTP/2 for the HTTP engine, the sans-IO half: ``h2`` driven the house's way.

:class:`H2State` owns one ``h2.connection.H2Connection`` (server side) and the rules ``h2``
leaves to its user. Bytes in (:meth:`H2State.receive`, with the time), events out -- our own
frozen dataclasses, the few the engine acts on; calls in (:meth:`~H2State.send_head`,
:meth:`~H2State.send_data_nowait`, :meth:`~H2State.reset`, :meth:`~H2State.goaway`), bytes
out (:meth:`~H2State.data_to_send`). No socket, no Trio, no clock: the Trio driver is
:mod:`._h2_conn`, and the tests call this directly.

The rules, in the order a frame meets them:

1. :class:`~._h2_guard.FrameGuard` reads the raw frame headers first (frame size, header
   block size and CONTINUATION count, floods) and ends the connection with a GOAWAY before
   ``h2`` buffers anything hostile.
2. ``h2`` checks the protocol (preface, stream states, HPACK, pseudo-headers, connection
   headers, flow control); what it refuses ends the connection with the GOAWAY ``h2`` wrote
   (RFC 9113 §5.4.1 lets a stream error be treated as a connection error, and ``h2`` does).
   The HPACK decoder holds the header list size and table size we advertise from the first
   request on, not only once the client acknowledged our SETTINGS.
3. A request beyond ``max_concurrent_streams`` *live streams* is refused with REFUSED_STREAM
   after its header block was decoded (so HPACK stays in step). A stream is live from its
   request until the engine calls :meth:`~H2State.stream_done` -- after its task ended, even
   if the client reset it long before: a reset frees no slot until the work it started has
   stopped. That, and the reset budget of the guard, is the rapid-reset defence
   (CVE-2023-44487): a flood of opened-and-reset streams costs at most one dispatch per
   stream, as many HTTP/1.1 requests would, and the flooding connection gets GOAWAY
   ENHANCE_YOUR_CALM. A stream opened and reset within one read is never reported at all.
4. The request head is checked like an HTTP/1.1 one (:func:`request_head`): ``:path``
   decoded with the same rules (no escapes above the root), ``:authority`` as ``Host``,
   CONNECT refused. A bad head is not a protocol error: the request is reported with its
   :class:`~._http_parse.HeadError`, which the engine answers on that stream.
5. Bodies: every DATA byte is given back to the flow-control windows at once (the budget is
   ``max_body`` per stream, not the window), and a stream over ``max_body`` is reported
   (:class:`BodyTooLarge`) so the engine answers 413; what still arrives for it is dropped.
   Trailers are ignored (only the end of stream they carry counts).

Graceful GOAWAY (shutdown, idle timeout) is written by hand rather than by
``h2.close_connection``, which would close ``h2``'s state machine and forbid the in-flight
streams their remaining DATA frames.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from hpack.exceptions import HPACKError, OversizedHeaderListError
from hyperframe.frame import GoAwayFrame

from trioserve.engines._h2_guard import PREFACE, FloodCounter, FrameGuard, GuardError, H2Limits
from trioserve.engines._http_parse import HeadError, decode_path, valid_host

__all__ = [
    "CONNECTION_HEADERS",
    "PREFACE",
    "BodyTooLarge",
    "ConnectionEnded",
    "ErrorCodes",
    "H2Head",
    "H2Limits",
    "H2State",
    "PeerGoAway",
    "RequestBody",
    "RequestEnded",
    "RequestReceived",
    "StreamGone",
    "StreamReset",
    "WindowOpened",
    "h2c_upgrade_settings",
    "request_head",
]

#: a GOAWAY without debug data, as h2 writes one: its size and its first five bytes
_GOAWAY_SIZE = 17
_GOAWAY_HEAD = b"\x00\x00\x08\x07\x00"
#: what a response field may hold (RFC 9110 §5.1, §5.5): tokens, and no CR, LF or NUL
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-z]+")
_FIELD_VALUE_BAD = re.compile(r"[\x00\r\n]")

#: response headers HTTP/2 forbids (RFC 9113 §8.2.2): the engine never sends them
CONNECTION_HEADERS = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
)


# -- events ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class H2Head:
    """A request head, as the engine's :class:`~trioserve.call.Call` wants it."""

    method: str
    #: the raw ``:path`` (what digest auth compares its ``uri`` against)
    target: str
    #: the decoded path (``*`` for ``OPTIONS *``)
    path: str
    query: str
    #: lower-case names; ``:authority`` comes as ``host``
    headers: list[tuple[str, str]]
    content_length: int | None


@dataclass(frozen=True, slots=True)
class RequestReceived:
    stream_id: int
    #: None when the head was refused: ``error`` says how to answer
    head: H2Head | None
    #: the request has no body (END_STREAM on its HEADERS)
    ended: bool
    error: HeadError | None = None
    #: the raw method and target for the access log, whatever the head's fate
    method: str = "-"
    target: str = "-"


@dataclass(frozen=True, slots=True)
class RequestBody:
    stream_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class RequestEnded:
    stream_id: int


@dataclass(frozen=True, slots=True)
class BodyTooLarge:
    """The stream's body went over ``max_body``: answer 413 and reset it."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class StreamReset:
    """The client reset a live stream: its work should stop."""

    stream_id: int
    code: int


@dataclass(frozen=True, slots=True)
class WindowOpened:
    """A send window grew: of one stream, or (0) of the connection or every stream."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class PeerGoAway:
    """The client sent GOAWAY: no new streams; finish the live ones and close."""

    code: int
    last_stream_id: int


@dataclass(frozen=True, slots=True)
class ConnectionEnded:
    """We sent a GOAWAY for an error: flush :meth:`H2State.data_to_send` and close."""

    code: int
    reason: str


Event = (
    RequestReceived
    | RequestBody
    | RequestEnded
    | BodyTooLarge
    | StreamReset
    | WindowOpened
    | PeerGoAway
    | ConnectionEnded
)


class StreamGone(Exception):
    """The stream can take nothing more (the client reset it, or the connection ended)."""


# -- the h2c upgrade (RFC 7540 §3.2) ----------------------------------------------------------


def h2c_upgrade_settings(headers: list[tuple[str, str]], has_body: bool) -> bytes | None:
    """The ``HTTP2-Settings`` payload when an HTTP/1.1 request asks to upgrade to h2c and may,
    else None (the request is then served over HTTP/1.1, as RFC 7540 §3.2 allows).

    Upgraded only: a request without a body (so nothing of it is left to read when the
    connection changes protocol), with ``Upgrade`` listing ``h2c``, ``Connection`` naming
    ``Upgrade`` and ``HTTP2-Settings``, and exactly one ``HTTP2-Settings`` holding
    base64url SETTINGS parameters (whole 6-byte entries).
    """
    if has_body:
        return None

    def tokens(name: str) -> set[str]:
        return {
            token.strip().lower()
            for key, value in headers
            if key == name
            for token in value.split(",")
        }

    if "h2c" not in tokens("upgrade"):
        return None
    if not {"upgrade", "http2-settings"} <= tokens("connection"):
        return None
    values = [value for key, value in headers if key == "http2-settings"]
    if len(values) != 1:
        return None
    text = values[0].strip()
    try:
        payload = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(payload) % 6:
        return None
    return text.encode("ascii")


# -- the request head ------------------------------------------------------------------------


def request_head(raw: list[tuple[bytes, bytes]], *, max_url_length: int) -> H2Head:
    """Check a request's decoded header list (``h2`` has checked the pseudo-header rules of
    RFC 9113 §8.3 already) the way the HTTP/1.1 engine checks a head; :class:`HeadError`
    for what it refuses."""
    pseudo: dict[bytes, bytes] = {}
    fields: list[tuple[str, str]] = []
    host: str | None = None
    for name, value in raw:
        if name.startswith(b":"):
            pseudo[name] = value
            continue
        text = value.decode("utf-8", "replace")
        if name == b"host":
            host = text
        fields.append((name.decode("latin-1"), text))
    method = pseudo.get(b":method", b"").decode("latin-1")
    if method == "CONNECT":
        raise HeadError(405, "method_not_allowed", "CONNECT is not served here", close=False)
    target = pseudo.get(b":path", b"")
    if len(target) > max_url_length:
        raise HeadError(414, "uri_too_long", f"the request target exceeds {max_url_length} bytes")
    authority = pseudo.get(b":authority")
    if authority is not None:
        if not valid_host(authority):
            raise HeadError(400, "bad_host", "invalid :authority (RFC 9113 §8.3.1)")
        if host is None:  # as a proxy would translate it (RFC 9113 §8.3.1)
            fields.insert(0, ("host", authority.decode("latin-1")))
    elif host is not None and not valid_host(host.encode("latin-1", "replace")):
        raise HeadError(400, "bad_host", "invalid Host header field")
    raw_path, _, query = target.partition(b"?")
    if raw_path == b"*" and method == "OPTIONS" and not query:
        path = "*"
    elif raw_path.startswith(b"/"):
        path = decode_path(raw_path)
    else:
        raise HeadError(400, "bad_target", "unsupported :path form")
    length: int | None = None
    for key, text in fields:
        if key == "content-length":
            length = int(text)  # h2 has refused a malformed one
    return H2Head(
        method=method,
        target=target.decode("latin-1"),
        path=path,
        query=query.decode("latin-1"),
        headers=fields,
        content_length=length,
    )


# -- the connection --------------------------------------------------------------------------


class _ServerSettings(h2.settings.Settings):
    """Our SETTINGS as advertised, with ``h2``'s own concurrency check moved out of the way.

    ``h2`` treats a stream beyond ``SETTINGS_MAX_CONCURRENT_STREAMS`` as a connection error
    *before* decoding its header block; we refuse such a stream alone, after decoding (see the
    module docstring, rule 3). So ``h2`` checks against :attr:`hard_cap`, a multiple of what
    we advertise, which only a client ignoring our SETTINGS wholesale ever reaches.
    """

    hard_cap = 0

    @property
    def max_concurrent_streams(self) -> int:
        return self.hard_cap

    @max_concurrent_streams.setter
    def max_concurrent_streams(self, value: int) -> None:
        self[SettingCodes.MAX_CONCURRENT_STREAMS] = value


@dataclass(slots=True)
class _Stream:
    """What the state knows of one live stream."""

    received: int = 0
    #: a request we answer without its body (refused head, body over the limit, refused
    #: authentication): its DATA is dropped
    discard: bool = False
    #: reset by the client (it stays live until :meth:`H2State.stream_done`)
    reset: bool = False
    events: list[Event] = field(default_factory=list)


class H2State:
    """One HTTP/2 server connection; see the module docstring for its rules."""

    def __init__(
        self,
        limits: H2Limits,
        *,
        max_url_length: int = 8192,
        upgrade_settings: bytes | None = None,
    ) -> None:
        self.limits = limits
        self._max_url_length = max_url_length
        self._flood = FloodCounter(limits)
        self._guard = FrameGuard(limits, self._flood)
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self._h2 = h2.connection.H2Connection(config)
        settings = _ServerSettings(
            client=False,
            initial_values={
                SettingCodes.MAX_CONCURRENT_STREAMS: limits.max_concurrent_streams,
                SettingCodes.MAX_HEADER_LIST_SIZE: limits.max_header_list_size,
                SettingCodes.HEADER_TABLE_SIZE: limits.header_table_size,
                SettingCodes.INITIAL_WINDOW_SIZE: limits.initial_window_size,
                SettingCodes.MAX_FRAME_SIZE: limits.max_frame_size,
            },
        )
        settings.hard_cap = 2 * limits.max_concurrent_streams + 16
        self._h2.local_settings = settings
        self._h2.max_inbound_frame_size = limits.max_frame_size
        # enforced from the first request on (h2 would wait for the SETTINGS ack)
        self._h2.decoder.max_header_list_size = limits.max_header_list_size
        self._h2.decoder.max_allowed_table_size = limits.header_table_size
        self._streams: dict[int, _Stream] = {}
        self._pending = b""
        #: the last stream our graceful GOAWAY let in (None: none sent)
        self.goaway_stream: int | None = None
        #: the client said GOAWAY
        self.peer_gone = False
        #: a GOAWAY for an error was queued: nothing more will be read
        self.ended = False
        #: streams reported to the engine so far
        self.requests = 0
        if upgrade_settings is None:
            self._h2.initiate_connection()
        else:
            self._h2.initiate_upgrade_connection(upgrade_settings)
            # the upgraded request is stream 1 (RFC 7540 §3.2), already complete
            self._streams[1] = _Stream()
            self.requests = 1
        # the connection window starts at 65535 whatever SETTINGS say (RFC 9113 §6.9.2):
        # open it to the streams' window so a first upload is not held to the default
        extra = limits.initial_window_size - 65535
        if extra > 0:
            self._h2.increment_flow_control_window(extra)

    # -- what the engine reads --------------------------------------------------------------

    @property
    def live_streams(self) -> int:
        return len(self._streams)

    @property
    def header_block_open(self) -> bool:
        return self._guard.header_block_open

    @property
    def highest_stream(self) -> int:
        return self._h2.highest_inbound_stream_id

    @property
    def accepting(self) -> bool:
        """New streams may still come: no GOAWAY either way."""
        return self.goaway_stream is None and not self.peer_gone and not self.ended

    # -- bytes in ----------------------------------------------------------------------------

    def receive(self, data: bytes, now: float) -> list[Event]:
        """Feed received bytes; the events they make. After a :class:`ConnectionEnded`
        nothing more is read."""
        if self.ended:
            return []
        try:
            self._guard.feed(data, now)
        except GuardError as error:
            return [self._end(error.code, error.reason)]
        try:
            h2_events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            # h2 has queued its GOAWAY already
            self.ended = True
            code = int(getattr(exc, "error_code", ErrorCodes.PROTOCOL_ERROR))
            if isinstance(exc.__cause__, HPACKError) and not isinstance(
                exc.__cause__, OversizedHeaderListError
            ):
                code = self._recode_goaway(ErrorCodes.COMPRESSION_ERROR)
            return [ConnectionEnded(code, str(exc) or type(exc).__name__)]
        try:
            return self._translate(h2_events, now)
        except GuardError as error:
            return [self._end(error.code, error.reason)]

    def _translate(self, h2_events: list[h2.events.Event], now: float) -> list[Event]:
        out: list[Event] = []
        opened: set[int] = set()
        for event in h2_events:
            if isinstance(event, h2.events.RequestReceived):
                if self._open(event, now, out):
                    opened.add(event.stream_id)
            elif isinstance(event, h2.events.DataReceived):
                self._data(event, out)
            elif isinstance(event, h2.events.StreamEnded):
                stream = self._streams.get(event.stream_id)
                if stream is not None and not stream.discard:
                    out.append(RequestEnded(event.stream_id))
            elif isinstance(event, h2.events.StreamReset):
                stream = self._streams.get(event.stream_id)
                if stream is not None and not stream.reset:
                    stream.reset = True
                    if event.stream_id in opened:
                        # opened and reset within one read: never reported at all
                        del self._streams[event.stream_id]
                        out = [e for e in out if getattr(e, "stream_id", 0) != event.stream_id]
                        opened.discard(event.stream_id)
                        self.requests -= 1
                    else:
                        out.append(StreamReset(event.stream_id, int(event.error_code)))
            elif isinstance(event, h2.events.WindowUpdated):
                out.append(WindowOpened(event.stream_id))
            elif isinstance(event, h2.events.RemoteSettingsChanged):
                if SettingCodes.INITIAL_WINDOW_SIZE in event.changed_settings:
                    out.append(WindowOpened(0))
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.peer_gone = True
                out.append(PeerGoAway(int(event.error_code or 0), event.last_stream_id or 0))
            # TrailersReceived: ignored (its END_STREAM arrives as StreamEnded); PING and
            # SETTINGS are acknowledged by h2 itself; PRIORITY is advice we do not take
        return out

    def _open(self, event: h2.events.RequestReceived, now: float, out: list[Event]) -> bool:
        stream_id = event.stream_id
        ended = event.stream_ended is not None
        if not self.accepting:
            # after our GOAWAY (or theirs): not processed, the client may retry it elsewhere
            self._reset_quietly(stream_id, ErrorCodes.REFUSED_STREAM)
            return False
        if len(self._streams) >= self.limits.max_concurrent_streams:
            self._reset_quietly(stream_id, ErrorCodes.REFUSED_STREAM)
            self._flood.count("reset", now)  # refusals feed the rapid-reset budget too
            return False
        raw = [(bytes(name), bytes(value)) for name, value in event.headers]
        method = target = "-"
        for name, value in raw:
            if name == b":method":
                method = value.decode("latin-1")
            elif name == b":path":
                target = value.decode("latin-1")
        stream = self._streams[stream_id] = _Stream()
        self.requests += 1
        try:
            head = request_head(raw, max_url_length=self._max_url_length)
        except HeadError as refused:
            stream.discard = True
            out.append(RequestReceived(stream_id, None, ended, refused, method, target))
            return True
        if head.content_length is not None and head.content_length > self.limits.max_body:
            stream.discard = True
            too_large = HeadError(
                413, "body_too_large", f"the request body exceeds {self.limits.max_body} bytes"
            )
            out.append(RequestReceived(stream_id, None, ended, too_large, method, target))
            return True
        out.append(RequestReceived(stream_id, head, ended, None, method, target))
        return True

    def _data(self, event: h2.events.DataReceived, out: list[Event]) -> None:
        stream_id = event.stream_id
        # the budget is max_body per stream, so windows are given back at once
        if event.flow_controlled_length:
            try:
                self._h2.acknowledge_received_data(event.flow_controlled_length, stream_id)
            except h2.exceptions.ProtocolError:
                pass  # the stream closed meanwhile; h2 gave back the connection's share
        stream = self._streams.get(stream_id)
        if stream is None or stream.discard or stream.reset:
            return
        stream.received += len(event.data)
        if stream.received > self.limits.max_body:
            stream.discard = True
            out.append(BodyTooLarge(stream_id))
            return
        if event.data:
            out.append(RequestBody(stream_id, bytes(event.data)))

    def _recode_goaway(self, code: ErrorCodes) -> int:
        """Give the GOAWAY ``h2`` just queued another code: ``h2`` says PROTOCOL_ERROR for a
        field block it cannot decode, RFC 9113 §4.3 says COMPRESSION_ERROR."""
        pending = self._h2.data_to_send()
        tail = pending[-_GOAWAY_SIZE:]
        if len(tail) == _GOAWAY_SIZE and tail[:5] == _GOAWAY_HEAD:
            last = int.from_bytes(tail[9:13], "big") & 0x7FFFFFFF
            frame = GoAwayFrame(stream_id=0, last_stream_id=last, error_code=int(code))
            pending = pending[:-_GOAWAY_SIZE] + frame.serialize()
        else:  # not the frame we expected: leave h2's words as they are
            code = ErrorCodes.PROTOCOL_ERROR
        self._pending += pending
        return int(code)

    # -- calls in ----------------------------------------------------------------------------

    def discard_body(self, stream_id: int) -> None:
        """Drop what still arrives for this stream (the engine answered without it)."""
        stream = self._streams.get(stream_id)
        if stream is not None:
            stream.discard = True

    def send_head(
        self, stream_id: int, status: int, fields: list[tuple[str, str]], *, end_stream: bool
    ) -> None:
        """A response head; connection-specific fields are dropped, names lower-cased.
        :class:`ValueError` for a field no HTTP version may carry."""
        headers = [(":status", str(status))]
        for name, value in fields:
            lower = name.lower()
            if not _FIELD_NAME.fullmatch(lower) or _FIELD_VALUE_BAD.search(value):
                raise ValueError(f"invalid response field {name!r}")
            if lower not in CONNECTION_HEADERS:
                headers.append((lower, value))
        try:
            self._h2.send_headers(stream_id, headers, end_stream=end_stream)
        except h2.exceptions.StreamClosedError:
            raise StreamGone(f"stream {stream_id} is closed") from None
        except h2.exceptions.ProtocolError as exc:
            raise StreamGone(str(exc)) from None

    def window(self, stream_id: int) -> int:
        """Bytes the stream may send now (its window, the connection's, one frame)."""
        try:
            window = self._h2.local_flow_control_window(stream_id)
        except h2.exceptions.ProtocolError:
            raise StreamGone(f"stream {stream_id} is closed") from None
        return min(window, self._h2.max_outbound_frame_size)

    def send_data_nowait(self, stream_id: int, data: bytes | memoryview, *, end: bool) -> int:
        """Send what the windows let through of ``data`` now (at most one frame), ending the
        stream with the last byte when ``end``; return how much. 0: wait for
        :class:`WindowOpened`. :class:`StreamGone` when the stream can take no more."""
        size = min(len(data), self.window(stream_id))
        if size == 0 and len(data):
            return 0
        last = end and size == len(data)
        try:
            self._h2.send_data(stream_id, bytes(data[:size]), end_stream=last)
        except h2.exceptions.ProtocolError as exc:
            raise StreamGone(str(exc)) from None
        self._flood.data_sent()
        return size

    def end_stream(self, stream_id: int) -> None:
        """End the response with an empty DATA frame."""
        try:
            self._h2.end_stream(stream_id)
        except h2.exceptions.ProtocolError as exc:
            raise StreamGone(str(exc)) from None

    def reset(self, stream_id: int, code: ErrorCodes = ErrorCodes.CANCEL) -> None:
        """Reset a stream (nothing happens if it is closed already); it stays live until
        :meth:`stream_done`."""
        self.discard_body(stream_id)
        self._reset_quietly(stream_id, code)

    def _reset_quietly(self, stream_id: int, code: ErrorCodes) -> None:
        try:
            self._h2.reset_stream(stream_id, code)
        except h2.exceptions.ProtocolError:
            pass  # closed already (both ends done, or reset)

    def stream_done(self, stream_id: int) -> None:
        """The stream's task has ended: it no longer counts against the concurrency limit."""
        self._streams.pop(stream_id, None)

    def goaway(self, code: ErrorCodes = ErrorCodes.NO_ERROR, reason: bytes = b"") -> None:
        """A graceful GOAWAY: streams above the last one processed are refused, the live ones
        go on (see the module docstring). Idempotent."""
        if self.goaway_stream is not None or self.ended:
            return
        self.goaway_stream = self._h2.highest_inbound_stream_id
        frame = GoAwayFrame(
            stream_id=0,
            last_stream_id=self.goaway_stream,
            error_code=int(code),
            additional_data=reason,
        )
        self._pending += self._h2.data_to_send() + frame.serialize()

    def close(self, code: ErrorCodes, reason: str) -> ConnectionEnded:
        """End the connection for an error with a GOAWAY ``code``."""
        return self._end(code, reason)

    def _end(self, code: ErrorCodes, reason: str) -> ConnectionEnded:
        if not self.ended:
            self.ended = True
            try:
                self._h2.close_connection(error_code=code, additional_data=reason.encode()[:64])
            except h2.exceptions.ProtocolError:
                pass
        return ConnectionEnded(int(code), reason)

    # -- bytes out ---------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        data = self._pending + self._h2.data_to_send()
        self._pending = b""
        return data
