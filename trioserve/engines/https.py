"""The https engine: the HTTP engine (:mod:`.http`) over TLS, as ROOT's ``https:`` engine.

Spec kind ``https`` (``https:8443?ssl_cert=server.pem``, ``https:0.0.0.0:8443?...``; the
default port is ROOT's 8480). Every option of the http engine means the same here, and
everything it does works the same over TLS -- every request kind, digest, websockets (as
``wss://``), long-poll, files, limits, timeouts, admission, shutdown, the access log --
because it *is* the http engine: the same listeners, accept loop, slots and request loop,
with each connection's bytes going through a ``trio.SSLStream`` (stdlib :mod:`ssl`)
instead of straight to the socket. The seam is four methods of the connection
(:class:`._http_state.ConnectionState`): ``read_nowait``/``receive`` and
``write_nowait``/``send_some``; :class:`TlsConnection` overrides them, and the plain
engine's descriptor fast path is untouched.

=====================  ========================================================================
ssl_cert               PEM with the certificate chain and its private key (ROOT's); required
ssl_key                the private key in a file of its own (ssl_cert then holds the chain)
ssl_ca                 PEM of CA certificates: a client certificate signed by one of them is
                       *required*; its subject's CN names the request's user, unless
                       another authentication applies (see below)
hsts                   ``Strict-Transport-Security: max-age=SECONDS`` on every answer but
                       the engine's own to a broken request head (``hsts`` alone: one
                       year); off by default, since a browser then
                       refuses plain http for that host name -- other ports included --
                       until it expires
=====================  ========================================================================

TLS itself (versions, ciphers, ALPN, the files' checks and their reloading) is
:mod:`._tls`'s. A certificate file that is missing, unreadable, without a key, with an
encrypted key or a key that does not match: one :class:`~trioserve.errors.SpecError`
naming the file, before anything listens.

* **The handshake** counts against ``header_timeout``: a client has that long from connect
  to the first request head, handshake included; a silent or stalled one is dropped then
  (its log line says so), like a silent plain-HTTP client.
* **A plain-HTTP client on this port** fails the handshake at its first bytes: it gets a
  plain-text ``400`` JSON answer saying this port speaks https (as nginx does) and the
  connection closes. Other clients do not notice: each handshake runs in its own
  connection task.
* **Client certificates and digest**: with ``ssl_ca`` only, the certificate's CN is the
  user (the policy's rules apply to that name; a certificate without a usable CN connects
  as anonymous). With ``ssl_ca`` and ``auth_file`` both, a client needs both: the
  certificate opens the connection, the digest password authenticates each request, and
  the *digest* user names it. The same holds for any authenticator (tokens): what
  authenticates the request wins over the certificate.
* **Replacing the certificate** needs no restart: write the new files (an atomic rename is
  best) and new connections use them within a second; or call
  :func:`reload_certificates` (it raises if the new files cannot be used; the old
  certificate then stays). Open connections keep theirs.
* **Writes**: a TLS stream cannot write without waiting, so replies go out in pieces of
  :data:`SEND_PIECE` bytes, each under ``write_timeout`` (a client must take a piece per
  ``write_timeout``; on the plain engine, any progress resets it).
* **Closing**: ``https_compatible`` (Trio's term) both ways: a client that closes without
  ``close_notify`` is a normal end, and we close without one (HTTP/1.1 framing already says
  where a reply ends; waiting to send an alert to a client that stopped reading could hang).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

import trio

from trioserve.call import Response
from trioserve.engines._http_conn import HttpConnection
from trioserve.engines._http_options import HttpOptions
from trioserve.engines._http_response import engine_error, raw_response_bytes
from trioserve.engines._http_state import RECEIVE_SIZE, EngineState
from trioserve.engines._tls import (
    ALPN_HTTP1,
    ALPN_PROTOCOLS,
    Certificates,
    TlsFiles,
    certificate_user,
)
from trioserve.engines.base import EngineContext
from trioserve.engines.http import serve_http
from trioserve.errors import ConfigError, SpecError
from trioserve.spec import EngineSpec
from trioserve.startup import engine_name

if TYPE_CHECKING:
    from trioserve.call import Call
    from trioserve.engines._http_parse import RequestHead

__all__ = [
    "HSTS_DEFAULT",
    "SEND_PIECE",
    "TlsConnection",
    "reload_certificates",
    "serve_https",
]

log = logging.getLogger("trioserve.https")

#: bytes handed to the TLS stream per send (each send under ``write_timeout``)
SEND_PIECE = 64 * 1024
#: ``hsts`` without a value: one year, what browsers' preload lists ask for
HSTS_DEFAULT = 365 * 24 * 3600
#: the answer to a plain-HTTP request on the TLS port
PLAIN_HTTP_MESSAGE = "this port speaks https: use an https:// URL"

#: the certificates of the https engines running in this process, for reload_certificates
_LIVE: set[Certificates] = set()


async def serve_https(
    ctx: EngineContext,
    spec: EngineSpec,
    *,
    task_status: trio.TaskStatus[object] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve https on ``spec`` until cancelled; see the module docstring. The certificate
    files are read (and their errors raised) before anything listens."""
    hsts = _hsts_header(spec)
    alpn = ALPN_PROTOCOLS if HttpOptions.from_spec(spec).http2 else ALPN_HTTP1
    certificates = Certificates(TlsFiles.from_spec(spec), where=engine_name(spec), alpn=alpn)
    connection = partial(TlsConnection, certificates=certificates, hsts=hsts)
    _LIVE.add(certificates)
    try:
        await serve_http(ctx, spec, task_status=task_status, connection=connection)
    finally:
        _LIVE.discard(certificates)


def reload_certificates() -> int:
    """Re-read the certificate files of every https engine running in this process (what
    the engines also do by themselves when a file changes); return how many engines
    reloaded. :class:`~trioserve.errors.ConfigError` naming the files that cannot be used
    (those engines keep the certificate they had; the others reload)."""
    failures: list[str] = []
    done = 0
    for certificates in list(_LIVE):
        try:
            certificates.reload()
        except SpecError as exc:
            failures.append(str(exc))
        else:
            done += 1
    if failures:
        raise ConfigError("; ".join(failures))
    return done


def _hsts_header(spec: EngineSpec) -> str | None:
    if "hsts" not in spec.options:
        return None
    seconds = spec.int_option("hsts", HSTS_DEFAULT)
    if seconds < 0:
        raise SpecError(f"{engine_name(spec)}: hsts=SECONDS must be 0 or more")
    return f"max-age={seconds}"


class TlsConnection(HttpConnection):
    """One https connection: the HTTP request loop over a ``trio.SSLStream``, after a
    handshake bounded by ``header_timeout``."""

    __slots__ = ("hsts", "tls_user")

    #: the TLS state lives in the Trio stream: only the server's thread may use it
    parkable = False

    def __init__(
        self,
        engine: EngineState,
        stream: trio.SocketStream,
        *,
        certificates: Certificates,
        hsts: str | None = None,
    ) -> None:
        super().__init__(engine, stream)
        self.stream = trio.SSLStream(
            stream, certificates.current(), server_side=True, https_compatible=True
        )
        #: ``Strict-Transport-Security`` value put on every answer, or None
        self.hsts = hsts
        #: the user the client certificate names (``ssl_cert`` engines with ``ssl_ca``)
        self.tls_user: str | None = None

    # -- the transport seam (see _http_state.ConnectionState) ------------------------------

    def negotiated_h2(self) -> bool:
        """ALPN chose ``h2`` in the handshake: the request loop hands the connection to the
        HTTP/2 driver before reading any request."""
        assert isinstance(self.stream, trio.SSLStream)
        protocol: str | None = self.stream.selected_alpn_protocol()
        return protocol == "h2"

    def read_nowait(self) -> bytes | None:
        return None  # an SSLStream reads only by awaiting: receive() does

    async def receive(self) -> bytes:
        self.waited = True
        data = await self.stream.receive_some(RECEIVE_SIZE)
        return data if isinstance(data, bytes) else bytes(data)

    def write_nowait(self, data: memoryview) -> int:
        return 0  # an SSLStream writes only by awaiting: send_some() does

    async def send_some(self, data: memoryview) -> int:
        piece = data[:SEND_PIECE]
        await self.stream.send_all(piece)
        return len(piece)

    # -- the connection ----------------------------------------------------------------------

    async def run(self) -> None:
        if await self._handshake():
            await super().run()

    async def _handshake(self) -> bool:
        """Complete the TLS handshake before ``header_timeout`` (from connect) runs out. The
        deadline is put on the connection's scope, as the wait for a first request does, so
        that it, a shed or a shutdown ends the connection with the reason in ``idle``."""
        assert isinstance(self.stream, trio.SSLStream)
        scope = self.scope
        assert scope is not None, "a connection runs inside its engine's scope"
        saved = scope.deadline
        scope.deadline = min(saved, self.accepted_at + self.engine.options.header_timeout)
        self.idle = "no TLS handshake within header_timeout"
        self.idle_since = trio.current_time()
        try:
            await self.stream.do_handshake()
        except trio.BrokenResourceError as exc:
            self.idle = None
            await self._handshake_failed(exc)
            return False
        scope.deadline = saved
        self.idle = None
        self.tls_user = certificate_user(self.stream.getpeercert())
        return True

    async def _handshake_failed(self, exc: trio.BrokenResourceError) -> None:
        self.dropped = True
        cause = exc.__cause__
        reason = getattr(cause, "reason", None) or type(cause or exc).__name__
        if reason != "HTTP_REQUEST":
            log.info("dropped connection from %s: TLS handshake failed (%s)", self.peer, reason)
            return
        # a plain-HTTP request: OpenSSL read its first bytes and sent nothing back, so the
        # socket can still carry a plain answer saying why
        answer = engine_error(400, "https_required", PLAIN_HTTP_MESSAGE)
        data = raw_response_bytes(answer, server=self.engine.ctx.server_header)
        assert isinstance(self.stream, trio.SSLStream)
        with trio.move_on_after(self.engine.options.write_timeout):
            try:
                await self.stream.transport_stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
        size = len(answer.body) if isinstance(answer.body, bytes) else 0
        self.engine.access.log(self.peer, None, "-", 400, size)
        log.info("dropped connection from %s: plain HTTP on the https port", self.peer)

    async def _answer(self, call: Call, head: RequestHead, request_line: str) -> Response | None:
        # the certificate's user, unless an authenticator (run by the request loop) names one
        if self.tls_user is not None:
            call.user = self.tls_user
        response = await super()._answer(call, head, request_line)
        if response is not None and self.hsts is not None:
            response.set_header("Strict-Transport-Security", self.hsts)
        return response
