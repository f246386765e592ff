"""The FastCGI engine: the sans-IO :mod:`fcgi` core on Trio streams, TCP or a unix socket.

Front-ends (Apache ``mod_proxy_fcgi``, lighttpd ``mod_fastcgi``, nginx ``fastcgi_pass``) handle
TLS and authentication and talk to us over FastCGI; docs/deployment.md (section 7) says what
they really send. This module is
the entry: listeners, connections, the idle timeout, shutdown. The engine's parts, each with
its decisions written at its top:

* :mod:`._fcgi_conn` -- one connection: the read loop feeding :class:`fcgi.ServerConnection`,
  requests in flight, the send lock, when it was last active (this module's one sweeper task
  closes connections idle for ``idle_timeout``);
* :mod:`._fcgi_request` -- one request: dispatch, then its reply as STDOUT records (one write
  when small, slices when big, streamed bodies with abort);
* :mod:`._fcgi_call` -- params → :class:`~trioserve.call.Call` (:func:`app_path`,
  :func:`build_call`): where the path and the user come from behind each front-end;
* :mod:`._fcgi_reply` -- :class:`~trioserve.call.Response` → the CGI header block
  (:func:`response_head`);
* :mod:`._fcgi_options` -- the spec's options and their defaults.

Connections are accepted by the shared loop of :mod:`._listen` (a burst at once: lighttpd
opens a connection per request), up to ``max_connections``; past it they wait in the kernel
backlog. Every connection comes from the front-end, so there is no per-peer admission here:
limiting clients is the front-end's job (see ``docs/deployment.md``). Long-poll requests --
the websocket emulation JSROOT uses behind a front-end -- are counted against
``max_websockets`` (half ``max_connections``; 503 beyond), so parked polls cannot hold every
connection.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Any

import trio

from trioserve.accesslog import AccessLog
from trioserve.engines._fcgi_call import app_path, build_call
from trioserve.engines._fcgi_conn import FastcgiConnection
from trioserve.engines._fcgi_options import (
    DEFAULT_GRACE,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_WEBSOCKETS,
    FastcgiOptions,
)
from trioserve.engines._fcgi_reply import response_head
from trioserve.engines._listen import LongLived, Slots, accept_forever, open_listeners
from trioserve.engines.base import EngineContext
from trioserve.spec import EngineSpec
from trioserve.startup import describe_engine

__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_WEBSOCKETS",
    "app_path",
    "build_call",
    "response_head",
    "serve_fastcgi",
]

log = logging.getLogger("trioserve.fastcgi")


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
    options = FastcgiOptions.from_spec(spec)
    listeners, address, socket_file = await open_listeners(spec, socket_mode=options.socket_mode)
    slots = Slots(trio.CapacityLimiter(options.max_connections), logger=log)
    ctx = dataclasses.replace(ctx, handle=LongLived(options.max_websockets).counting(ctx.handle))
    access = AccessLog(spec.options.get("log") or None, tag=spec.text)
    log.info("FastCGI engine serving on %s", describe_engine("fastcgi", address))
    live: set[FastcgiConnection] = set()
    shutdown_deadline: float | None = None

    async def handler(stream: trio.SocketStream) -> None:
        connection = FastcgiConnection(ctx, options, access, stream)
        live.add(connection)
        if shutdown_deadline is not None:
            connection.shut_down(shutdown_deadline)
        try:
            await connection.serve()  # shielded inside: see FastcgiConnection.serve
        finally:
            live.discard(connection)

    try:
        async with trio.open_nursery() as nursery:
            for one in listeners:
                nursery.start_soon(
                    functools.partial(
                        accept_forever, one, nursery, handler, slots=slots, logger=log
                    )
                )
            nursery.start_soon(_close_idle_connections, live, options.idle_timeout)
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


#: the idle sweeper never wakes more often than this (an idle_timeout of 0 must not spin)
_MIN_SWEEP_INTERVAL = 0.01


async def _close_idle_connections(live: set[FastcgiConnection], idle_timeout: float) -> None:
    """Close every connection that had nothing in flight and heard nothing for
    ``idle_timeout`` seconds (front-ends that died without closing, leaked connections).

    One task per engine instead of a timeout around every read: a connection only records
    when it was last active (:attr:`FastcgiConnection.last_activity`), and this task sleeps
    until the earliest moment one of them can expire. Activity only moves a connection's
    expiry later, and a connection opened after a sweep expires after that sweep's wake-up
    time, so no expiry is missed.
    """
    while True:
        now = trio.current_time()
        wake = now + idle_timeout
        for connection in list(live):
            if connection.requests:
                continue
            expires = connection.last_activity + idle_timeout
            if expires <= now:
                connection.close_idle()
            elif expires < wake:
                wake = expires
        await trio.sleep_until(max(wake, now + _MIN_SWEEP_INTERVAL))
