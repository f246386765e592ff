"""The FastCGI engine: the sans-IO :mod:`fcgi` core on Trio streams, TCP or a unix socket.

Front-ends (Apache ``mod_proxy_fcgi``, lighttpd ``mod_fastcgi``) handle TLS and
authentication and talk to us over FastCGI; see
``shared/reference/fastcgi-frontends/FINDINGS.md`` for what they really send. Per connection
one task reads records and feeds :class:`fcgi.ServerConnection`; every request whose input
is complete runs as its own child task (so multiplexed requests run concurrently and
ABORT_REQUEST cancels exactly one of them); all writes go through one lock per connection so
records of different requests never interleave mid-record.

Decisions worth knowing:

* The in-app path comes from :func:`app_path` (PATH_INFO, else SCRIPT_FILENAME stripped of
  Apache's ``proxy:fcgi://host:port`` prefix and percent-decoded), which works behind every
  front-end configuration measured, unlike ROOT's ``PATH_INFO ?: SCRIPT_FILENAME``.
* Params stay a dict; HTTP_* params become lower-case headers. They are never re-serialised
  into ``Name: value`` lines (Apache can deliver a decoded CR/LF inside SCRIPT_NAME).
* The body is STDIN up to its empty record; CONTENT_LENGTH is never trusted.
* A response always starts with ``Status:``; ``Content-Length`` is sent whenever known (it
  makes a truncated reply detectable behind lighttpd). Small replies go out in one write
  (with TCP_NODELAY that is one packet); big ones are sliced so no second copy of a large
  body is ever built.
* If a streamed body fails after its headers went out, the connection is closed *without*
  END_REQUEST: front-ends then report a truncated reply instead of a complete-looking one.
"""

from __future__ import annotations

import functools
import http
import logging
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import trio

import fcgi
from trioserve.accesslog import AccessLog
from trioserve.auth import frontend_user
from trioserve.call import Call, Response, error_response
from trioserve.debugpage import render_debug_page
from trioserve.engines._listen import (
    accept_forever,
    open_listeners,
    peer_name,
)
from trioserve.engines.base import EngineContext
from trioserve.errors import RequestError, SpecError
from trioserve.spec import EngineSpec

__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_CONNECTIONS",
    "app_path",
    "build_call",
    "response_head",
    "serve_fastcgi",
]

log = logging.getLogger("trioserve.fastcgi")

#: largest request body we buffer for one request (413 beyond it)
DEFAULT_MAX_BODY = 16 * 1024 * 1024
DEFAULT_MAX_CONNECTIONS = 1000
#: seconds a connection with no request in flight may stay silent before we close it;
#: long, because Apache keeps reused (enablereuse) connections open between requests
DEFAULT_IDLE_TIMEOUT = 600.0
#: seconds requests in flight get to finish when the engine shuts down
DEFAULT_GRACE = 2.0
#: replies up to this size (head + body) are written with a single send
_SMALL_REPLY = 64 * 1024
#: a large body is written in slices of this size, each under the send lock
_SLICE = 256 * 1024
_READ_SIZE = 64 * 1024
#: how long an error reply may take before we give up on a connection anyway
_ERROR_REPLY_TIMEOUT = 2.0

#: HTTP_* params that describe the front-end's hop, not the request the app sees
_DROPPED_HTTP_PARAMS = frozenset(
    {
        "HTTP_TRANSFER_ENCODING",  # Apache forwards it for chunked uploads; STDIN is de-chunked
        "HTTP_CONTENT_LENGTH",  # lighttpd's copy; we state the real length instead
        "HTTP_EXPECT",  # Apache already answered 100-continue (FINDINGS §5)
        "HTTP_CONNECTION",
        "HTTP_KEEP_ALIVE",
        "HTTP_PROXY",  # httpoxy
    }
)
#: response headers the engine owns or that are meaningless in a CGI header block
_OWN_HEADERS = frozenset(
    {"status", "content-type", "content-length", "connection", "transfer-encoding", "keep-alive"}
)


# ---------------------------------------------------------------------- params -> Call


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 on an already decoded path; doubled slashes are left alone."""
    if "." not in path:
        return path
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(out) > 1:
                out.pop()
        elif segment != ".":
            out.append(segment)
    result = "/".join(out)
    if path.endswith(("/.", "/..")):
        result += "/"
    return result if result.startswith("/") else "/" + result


def app_path(params: Mapping[str, str]) -> tuple[str | None, str]:
    """``(path inside the app, mount prefix)`` from a request's params (FINDINGS §4.2).

    1. ``PATH_INFO`` when present: lighttpd, and Apache with
       ``SetEnvIf Request_URI "^" proxy-fcgi-pathinfo=unescape`` or ``ProxyFCGISetEnvIf``.
       It is already decoded; the mount prefix is ``SCRIPT_NAME``.
    2. ``SCRIPT_FILENAME`` starting ``proxy:`` (Apache's default, "FPM" backend type, TCP
       ``proxy:fcgi://127.0.0.1:9000/x`` and unix ``proxy:fcgi://localhost/x``): the text
       after ``scheme://authority``, percent-decoded (Apache sends it encoded).
    3. ``SCRIPT_FILENAME`` starting ``/`` without ``REDIRECT_STATUS`` (Apache with
       ``ProxyFCGIBackendType GENERIC``): percent-decoded as is.
    4. Otherwise the request hit the mount point itself without a trailing slash (lighttpd,
       ``/root.app``): ``None``, and the engine redirects to ``SCRIPT_NAME + "/"`` so that
       relative links in pages resolve under the mount point.

    In cases 2 and 3 the mount prefix is ``SCRIPT_NAME`` minus the path at its end. The result
    has dot segments removed (both front-ends normalise already; this is belt and braces).
    """
    script_name = params.get("SCRIPT_NAME", "")
    if "PATH_INFO" in params:
        return _remove_dot_segments(params["PATH_INFO"] or "/"), script_name
    filename = params.get("SCRIPT_FILENAME", "")
    if filename.startswith("proxy:"):
        rest = filename.split("://", 1)[-1]
        slash = rest.find("/")
        path = unquote(rest[slash:]) if slash >= 0 else "/"
    elif filename.startswith("/") and "REDIRECT_STATUS" not in params:
        path = unquote(filename)
    else:
        return None, script_name
    path = _remove_dot_segments(path or "/")
    if script_name.endswith(path):
        mount = script_name[: len(script_name) - len(path)]
    elif path == "/" and script_name.endswith("/"):
        mount = script_name[:-1]
    else:
        mount = script_name
    return path, mount.rstrip("/")


def _headers(params: Mapping[str, str], body_length: int) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for name, value in params.items():
        if name.startswith("HTTP_") and name not in _DROPPED_HTTP_PARAMS:
            headers.append((name[5:].lower().replace("_", "-"), value))
    if params.get("CONTENT_TYPE"):
        headers.append(("content-type", params["CONTENT_TYPE"]))
    if body_length or "CONTENT_LENGTH" in params:
        headers.append(("content-length", str(body_length)))
    return headers


def build_call(
    params: Mapping[str, str],
    body: bytes,
    *,
    top_name: str | None = None,
    peer: str = "-",
) -> Call:
    """The protocol-neutral :class:`Call` for one FastCGI request.

    The user is ``REMOTE_USER`` only when ``AUTH_TYPE`` is non-empty, i.e. when the front-end
    says it authenticated the request (ROOT's rule, minus its prefix-match quirk).
    """
    path, mount = app_path(params)
    user = frontend_user(params.get("REMOTE_USER"), params.get("AUTH_TYPE"))
    return Call(
        method=(params.get("REQUEST_METHOD") or "GET").upper(),
        path=path if path is not None else "/",
        query=params.get("QUERY_STRING", ""),
        headers=_headers(params, len(body)),
        body=body,
        user=user,
        engine="fastcgi",
        top_name=top_name,
        script_name=mount,
        peer=params.get("REMOTE_ADDR") or peer,
    )


# ---------------------------------------------------------------------- Response -> bytes


def _clean(text: str) -> str:
    """Header text without CR, LF or NUL: one header can never become two."""
    return text.replace("\r", " ").replace("\n", " ").replace("\0", " ")


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _body_allowed(method: str, status: int) -> bool:
    return method != "HEAD" and status >= 200 and status not in (204, 304)


def response_head(response: Response, method: str) -> bytes:
    """The CGI header block: ``Status:`` always, then type, length and the extra headers."""
    status = response.status
    lines = [f"Status: {status} {_reason(status)}"]
    if response.content_type and status not in (204, 304):
        lines.append(f"Content-Type: {_clean(response.content_type)}")
    length = response.length
    if length is not None and status not in (204, 304) and status >= 200:
        lines.append(f"Content-Length: {length}")
    for name, value in response.headers:
        if name.lower() in _OWN_HEADERS or not name.strip():
            continue
        lines.append(f"{_clean(name).replace(':', '')}: {_clean(value)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")


# ---------------------------------------------------------------------- the engine


@dataclass(frozen=True, slots=True)
class _Options:
    debug: bool
    top_name: str | None
    max_body: int
    max_params: int
    max_connections: int
    limiter: trio.CapacityLimiter | None
    socket_mode: int
    idle_timeout: float
    grace: float

    @classmethod
    def from_spec(cls, spec: EngineSpec) -> _Options:
        thrds = spec.options.get("thrds")
        limiter = None
        if thrds is not None:
            # ROOT: thrds=0 means one thread does everything, i.e. one request at a time
            limiter = trio.CapacityLimiter(max(spec.int_option("thrds", 0), 1))
        mode_text = spec.options.get("socket_mode") or "600"
        try:
            socket_mode = int(mode_text, 8)
        except ValueError:
            raise SpecError(f"socket_mode={mode_text!r} in {spec.text!r} is not octal") from None
        return cls(
            debug=spec.flag("debug"),
            top_name=spec.options.get("top") or None,
            max_body=spec.int_option("max_body", DEFAULT_MAX_BODY),
            max_params=spec.int_option("max_params", fcgi.DEFAULT_MAX_PARAMS_BYTES),
            max_connections=spec.int_option("max_connections", DEFAULT_MAX_CONNECTIONS),
            limiter=limiter,
            socket_mode=socket_mode,
            idle_timeout=spec.float_option("idle_timeout", DEFAULT_IDLE_TIMEOUT),
            grace=spec.float_option("grace", DEFAULT_GRACE),
        )


async def serve_fastcgi(
    ctx: EngineContext,
    spec: EngineSpec,
    *,
    task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve FastCGI on ``spec`` until cancelled; ``started()`` gets the bound address.

    ``fastcgi:9000`` binds 127.0.0.1 (ROOT binds every interface; we only do when asked,
    ``fastcgi:0.0.0.0:9000``); ``fastcgi:/path/app.sock`` serves a unix socket created with
    mode 0600 (``socket_mode=0660`` to let a front-end in another group connect) and removed
    on shutdown. Binding errors raise here, before ``started()``.
    """
    options = _Options.from_spec(spec)
    listeners, address, socket_file = await open_listeners(spec, socket_mode=options.socket_mode)
    connections = trio.CapacityLimiter(options.max_connections)
    access = AccessLog(spec.options.get("log") or None, tag=spec.text)
    log.info("FastCGI engine listening on %s", address)
    live: set[_Connection] = set()
    shutdown_deadline: float | None = None

    async def handler(stream: trio.SocketStream) -> None:
        connection = _Connection(ctx, options, access, stream)
        # Shielded: cancelling the engine must not cut a reply in half. Shutdown gives the
        # connection's requests ``grace`` seconds instead (see _Connection.shut_down).
        with trio.CancelScope(shield=True) as scope:
            connection.scope = scope
            live.add(connection)
            if shutdown_deadline is not None:
                connection.shut_down(shutdown_deadline)
            try:
                await connection.serve()
            finally:
                live.discard(connection)

    try:
        async with trio.open_nursery() as nursery:
            for one in listeners:
                nursery.start_soon(
                    functools.partial(
                        accept_forever, one, nursery, handler, limiter=connections, logger=log
                    )
                )
            task_status.started(address)
            try:
                await trio.sleep_forever()
            finally:
                # listeners first (new connects are refused), then the connections: idle
                # ones close now, busy ones when their requests end or the grace runs out
                for one in listeners:
                    one.socket.close()
                shutdown_deadline = trio.current_time() + options.grace
                for connection in list(live):
                    connection.shut_down(shutdown_deadline)
    finally:
        access.close()
        for one in listeners:
            one.socket.close()
        if socket_file is not None:
            socket_file.remove()


class _ConnectionGone(Exception):
    """The stream broke, or a reply failed mid-body: the connection must end now."""


@dataclass(eq=False, slots=True)
class _Request:
    rid: int
    keep_conn: bool
    params: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    #: the task is running (input complete) or an early answer (413, abort) is on its way
    answered: bool = False
    aborted: bool = False
    #: the cancel scope of whatever the request is waiting on right now (dispatch, body)
    scope: trio.CancelScope | None = None


class _Connection:
    def __init__(
        self,
        ctx: EngineContext,
        options: _Options,
        access: AccessLog,
        stream: trio.SocketStream,
    ) -> None:
        self.ctx = ctx
        self.options = options
        self.access = access
        self.stream = stream
        self.peer = peer_name(stream)
        self.conn = fcgi.ServerConnection(
            max_params_bytes=options.max_params,
            max_conns=options.max_connections,
            mpxs=True,
        )
        self.send_lock = trio.Lock()
        self.requests: dict[int, _Request] = {}
        self.nursery: trio.Nursery | None = None
        #: when the last request ended (or the connection opened), for the idle timeout
        self.last_activity = trio.current_time()
        #: the shielded scope the engine runs this connection in (see serve_fastcgi)
        self.scope: trio.CancelScope | None = None
        self.shutting_down = False

    def shut_down(self, deadline: float) -> None:
        """Engine shutdown: close now when idle, else once the requests in flight are
        answered, and in any case at ``deadline``."""
        self.shutting_down = True
        if self.scope is None:
            return
        if not self.requests:
            self.scope.cancel()
        else:
            self.scope.deadline = min(self.scope.deadline, deadline)

    # ------------------------------------------------------------ plumbing

    async def serve(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self.nursery = nursery
                try:
                    await self._read_loop()
                except _ConnectionGone:
                    pass
                nursery.cancel_scope.cancel()
        except Exception:  # a bug in here must cost one connection, not the engine
            log.exception("FastCGI connection from %s failed", self.peer)
        finally:
            if self.requests:
                log.info(
                    "FastCGI connection from %s closed with %d request(s) in flight",
                    self.peer,
                    len(self.requests),
                )
            await trio.aclose_forcefully(self.stream)

    def _close_soon(self) -> None:
        if self.nursery is not None:
            self.nursery.cancel_scope.cancel()

    async def _send(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        async with self.send_lock:
            await self._send_locked(data)

    async def _send_locked(self, data: bytes | bytearray | memoryview) -> None:
        try:
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise _ConnectionGone from exc

    # ------------------------------------------------------------ reading

    async def _receive_or_idle(self) -> bytes | None:
        """The next bytes (``b""`` at EOF), or None once the connection has had nothing in
        flight and received nothing for ``idle_timeout`` seconds."""
        limit = self.options.idle_timeout
        while True:
            with trio.move_on_after(limit) as waited:
                try:
                    return await self.stream.receive_some(_READ_SIZE)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return b""
            if waited.cancelled_caught and not self.requests:
                quiet = trio.current_time() - self.last_activity
                if quiet >= limit:
                    return None
                limit = self.options.idle_timeout - quiet
            else:
                limit = self.options.idle_timeout

    async def _read_loop(self) -> None:
        conn = self.conn
        while True:
            try:
                event = conn.next_event()
            except fcgi.ProtocolError as exc:
                await self._protocol_error(exc)
                return
            if event is fcgi.NEED_DATA:
                await self._send(conn.data_to_send())
                if conn.must_close:
                    return
                # a connection with nothing in flight may idle only so long: front-ends
                # that died without closing (or leaked connections) must not pile up
                data = await self._receive_or_idle()
                if data is None:
                    log.info(
                        "closing FastCGI connection from %s: idle for %.0f s",
                        self.peer,
                        self.options.idle_timeout,
                    )
                    return
                conn.receive_data(data)
            elif isinstance(event, fcgi.ConnectionClosed):
                return  # the front-end went away: cancel only this connection's requests
            else:
                self._on_event(event)

    def _on_event(self, event: fcgi.Event) -> None:
        assert self.nursery is not None
        if isinstance(event, fcgi.RequestStarted):
            self.requests[event.request_id] = _Request(event.request_id, event.keep_conn)
            return
        request = self.requests.get(getattr(event, "request_id", -1))
        if request is None:
            return
        if isinstance(event, fcgi.Params):
            request.params = event.params
        elif isinstance(event, fcgi.StdinData):
            if request.answered:
                return
            if len(request.body) + len(event.data) > self.options.max_body:
                request.answered = True
                request.body = bytearray()
                message = f"the request body exceeds {self.options.max_body} bytes"
                reply = error_response(413, "body_too_large", message)
                self.nursery.start_soon(self._reply_early, request, reply)
                return
            request.body += event.data
        elif isinstance(event, fcgi.StdinEnd):
            if not request.answered:
                request.answered = True
                self.nursery.start_soon(self._run_request, request)
        elif isinstance(event, fcgi.RequestAborted):
            request.aborted = True
            if request.scope is not None:
                request.scope.cancel()
            elif not request.answered:
                request.answered = True
                self.nursery.start_soon(self._reply_early, request, None)

    async def _protocol_error(self, exc: fcgi.ProtocolError) -> None:
        log.warning("closing FastCGI connection from %s: %s", self.peer, exc.message)
        rid = exc.request_id
        if (
            rid is not None
            and exc.protocol_status is not None
            and rid in self.conn.requests_in_flight
        ):
            with trio.move_on_after(_ERROR_REPLY_TIMEOUT):
                async with self.send_lock:
                    data = self.conn.end_request(rid, 1, exc.protocol_status)
                    await self._send_locked(data)

    # ------------------------------------------------------------ one request

    async def _finish(self, request: _Request, data: bytes, app_status: int = 0) -> None:
        """Send ``data`` and END_REQUEST together, then forget the request."""
        async with self.send_lock:
            data += self.conn.end_request(request.rid, app_status)
            await self._send_locked(data)
        if self.requests.get(request.rid) is request:  # the id may already be reused
            del self.requests[request.rid]
        self.last_activity = trio.current_time()
        if self.conn.must_close or (self.shutting_down and not self.requests):
            self._close_soon()

    async def _reply_early(self, request: _Request, response: Response | None) -> None:
        """Answer before the input is complete (413) or an aborted, never-dispatched request."""
        try:
            data = b""
            if response is not None:
                method = request.params.get("REQUEST_METHOD", "GET")
                data = self.conn.send_stdout(request.rid, response_head(response, method))
                if isinstance(response.body, bytes) and _body_allowed(method, response.status):
                    data += self.conn.send_stdout(request.rid, response.body)
            await self._finish(request, data)
        except _ConnectionGone:
            self._close_soon()

    async def _run_request(self, request: _Request) -> None:
        try:
            await self._respond(request)
        except _ConnectionGone:
            self._close_soon()

    async def _respond(self, request: _Request) -> None:
        params = request.params
        call = build_call(
            params, bytes(request.body), top_name=self.options.top_name, peer=self.peer
        )
        request.body = bytearray()
        path, _mount = app_path(params)
        response: Response | None
        if path is None and call.method in ("GET", "HEAD"):
            response = _redirect_to_mount(params)
        elif self.options.debug:
            response = render_debug_page("FastCGI echo", call, params.items())
        else:
            response = await self._dispatch(request, call)
        if response is None:  # aborted while dispatching
            await self._finish(request, b"")
            return
        sent = await self._write(request, call.method, response)
        target = params.get("REQUEST_URI") or call.script_name + call.path
        protocol = params.get("SERVER_PROTOCOL") or "FastCGI"
        request_line = f"{call.method} {target} {protocol}"
        self.access.log(call.peer, call.user, request_line, response.status, sent)

    async def _dispatch(self, request: _Request, call: Call) -> Response | None:
        with trio.CancelScope() as scope:
            request.scope = scope
            if request.aborted:
                scope.cancel()
            try:
                if self.options.limiter is not None:
                    async with self.options.limiter:
                        return await self.ctx.handle(call)
                return await self.ctx.handle(call)
            except RequestError as exc:
                return error_response(exc.status, exc.code, exc.message)
            except Exception:
                log.exception("dispatching %s %s failed", call.method, call.path)
                return error_response(500, "internal_error", "the request failed on the server")
            finally:
                request.scope = None
        return None

    async def _write(self, request: _Request, method: str, response: Response) -> int:
        """Write the reply; return how many body bytes went out (for the access log)."""
        rid, conn = request.rid, self.conn
        head = response_head(response, method)
        body = response.body
        send_body = _body_allowed(method, response.status)
        if isinstance(body, bytes | bytearray | memoryview):
            payload = memoryview(body) if send_body else memoryview(b"")
            if len(head) + len(payload) <= _SMALL_REPLY:
                await self._finish(request, conn.send_stdout(rid, head + payload))
                return len(payload)
            await self._send(conn.send_stdout(rid, head))
            for start in range(0, len(payload), _SLICE):
                await self._send(conn.send_stdout(rid, payload[start : start + _SLICE]))
            await self._finish(request, b"")
            return len(payload)
        await self._send(conn.send_stdout(rid, head))
        if not send_body:
            await _close_iterable(body)
            await self._finish(request, b"")
            return 0
        sent = [0]
        completed = await self._stream(request, body, sent)
        await self._finish(request, b"", app_status=0 if completed else 1)
        return sent[0]

    async def _stream(self, request: _Request, body: AsyncIterable[bytes], sent: list[int]) -> bool:
        """Send an async-iterable body chunk by chunk (counting into ``sent[0]``); False if
        the request was aborted."""
        iterator: AsyncIterator[bytes] = aiter(body)
        try:
            while True:
                with trio.CancelScope() as scope:
                    request.scope = scope
                    if request.aborted:
                        scope.cancel()
                    try:
                        chunk = await anext(iterator)
                    except StopAsyncIteration:
                        return True
                    except Exception as exc:
                        log.exception("streaming the reply of request %d failed", request.rid)
                        raise _ConnectionGone from exc
                    finally:
                        request.scope = None
                if scope.cancelled_caught:
                    return False
                view = memoryview(chunk)
                for start in range(0, len(view), _SLICE):
                    piece = view[start : start + _SLICE]
                    await self._send(self.conn.send_stdout(request.rid, piece))
                    sent[0] += len(piece)
        finally:
            await _close_iterable(iterator)


async def _close_iterable(body: object) -> None:
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        with trio.CancelScope(shield=True), trio.move_on_after(1):
            try:
                await aclose()
            except Exception:
                log.debug("closing a reply body failed", exc_info=True)


def _redirect_to_mount(params: Mapping[str, str]) -> Response:
    """lighttpd hands us ``/root.app`` (no slash, no PATH_INFO): send the browser to
    ``/root.app/`` so that relative links in our pages resolve under the mount point."""
    location = params.get("SCRIPT_NAME", "") + "/"
    if params.get("QUERY_STRING"):
        location += "?" + params["QUERY_STRING"]
    response = Response(status=301, content_type="text/plain; charset=utf-8", body=b"")
    response.set_header("Location", location)
    return response
