"""Listening sockets and the accept loop shared by the HTTP and FastCGI engines.

* :func:`open_tcp_listeners` binds with a real backlog (measured behind Apache and lighttpd:
  Python's socketserver default of 5 drops bursts; we use :data:`DEFAULT_BACKLOG`; see
  docs/deployment.md, section 7) and returns the real
  bound address (port 0 = ephemeral, for tests).
* :func:`open_unix_listener` creates a unix socket safely: it never unlinks a file that is not
  a socket, refuses a socket some process still listens on, replaces a stale one, and gives
  the socket its final mode *before* it appears under its name (bound inside a private 0700
  directory, chmod-ed, then hard-linked into place, which also cannot clobber a file that
  appeared meanwhile). :meth:`UnixSocketFile.remove` unlinks it on shutdown only if the name
  still points to our inode.
* :func:`accept_forever` accepts everything the backlog holds each time the listening socket
  is readable (a burst is not accepted one connection per scheduler pass), with TCP_NODELAY
  (set by ``trio.SocketStream`` itself on every accepted TCP socket; :func:`set_nodelay` is
  for streams made elsewhere), and retries EMFILE/ENFILE/ENOMEM/ENOBUFS after a short sleep
  instead of dying.
* who gets a slot (the connection cap, per-peer admission, the websocket/long-poll cap) is
  :mod:`._slots`'s, re-exported here for the engines.
"""

from __future__ import annotations

import errno
import logging
import os
import socket as _stdsocket
import stat
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from trioserve.engines._slots import (
    TOO_MANY_LONG_LIVED,
    WAITING_ROOM,
    LongLived,
    Slots,
    peer_key,
)
from trioserve.spec import EngineSpec

__all__ = [
    "ACCEPT_BATCH",
    "ACCEPT_RETRY_DELAY",
    "DEFAULT_BACKLOG",
    "TOO_MANY_LONG_LIVED",
    "WAITING_ROOM",
    "LongLived",
    "Slots",
    "UnixSocketFile",
    "accept_forever",
    "open_tcp_listeners",
    "open_unix_listener",
    "peer_key",
    "peer_name",
    "set_nodelay",
]

log = logging.getLogger("trioserve.listen")

#: listen(2) backlog; the kernel caps it at net.core.somaxconn
DEFAULT_BACKLOG = 1024
#: seconds to wait before accepting again after running out of file descriptors or memory
ACCEPT_RETRY_DELAY = 0.1
#: connections accepted per wake-up of an accept loop before other tasks get their turn
ACCEPT_BATCH = 64
_CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
#: accept() errors that mean the listening socket was closed under us (the engine stops)
_CLOSED_ERRNOS = frozenset({errno.EBADF, errno.ENOTSOCK})
#: accept() errors about one connection only (the ones Trio's own accept skips)
_IGNORED_ACCEPT_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "EPERM ECONNABORTED EPROTO ENETDOWN ENOPROTOOPT EHOSTDOWN ENONET EHOSTUNREACH "
        "EOPNOTSUPP ENETUNREACH ENOSR ESOCKTNOSUPPORT EPROTONOSUPPORT ETIMEDOUT ECONNRESET"
    ).split()
    if hasattr(errno, name)
)
#: seconds to wait for a connect() probing whether a unix socket is live
_PROBE_TIMEOUT = 1.0
#: longest unix socket path we bind directly (sun_path is 108 bytes on Linux)
_MAX_UNIX_PATH = 100


def set_nodelay(stream: trio.abc.Stream) -> None:
    """Disable Nagle on a TCP stream (small replies must not wait 40 ms for an ACK)."""
    if isinstance(stream, trio.SocketStream) and stream.socket.family in (
        _stdsocket.AF_INET,
        _stdsocket.AF_INET6,
    ):
        stream.setsockopt(_stdsocket.IPPROTO_TCP, _stdsocket.TCP_NODELAY, True)


def peer_name(stream: trio.abc.Stream) -> str:
    """The peer address as text for logs (``"-"`` for unix sockets and unknown streams)."""
    if isinstance(stream, trio.SocketStream):
        try:
            address = stream.socket.getpeername()
        except OSError:
            return "-"
        if isinstance(address, tuple):
            return str(address[0])
    return "-"


async def open_tcp_listeners(
    host: str, port: int, *, backlog: int = DEFAULT_BACKLOG
) -> tuple[list[trio.SocketListener], tuple[str, int]]:
    """Bind ``host:port``; return the listeners and the real ``(host, port)`` of the first.

    Raises :class:`OSError` (e.g. EADDRINUSE) when the address cannot be bound.
    """
    listeners = await trio.open_tcp_listeners(port, host=host, backlog=max(backlog, 128))
    sockname = listeners[0].socket.getsockname()
    return listeners, (str(sockname[0]), int(sockname[1]))


@dataclass(slots=True)
class UnixSocketFile:
    """The file of a listening unix socket we created, identified by its inode."""

    path: str
    device: int
    inode: int

    def remove(self) -> bool:
        """Unlink the socket file if it is still ours; return whether it was removed."""
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return False
        if (info.st_dev, info.st_ino) != (self.device, self.inode):
            log.warning("not removing %s: it was replaced by another file", self.path)
            return False
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            return False
        return True


async def _socket_is_live(path: str) -> bool:
    probe = trio.socket.socket(_stdsocket.AF_UNIX, _stdsocket.SOCK_STREAM)
    try:
        with trio.move_on_after(_PROBE_TIMEOUT):
            await probe.connect(path)
            return True
        return True  # a listener that does not even complete connect() is still someone's
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    finally:
        probe.close()


async def open_unix_listener(
    path: str, *, mode: int = 0o600, backlog: int = DEFAULT_BACKLOG
) -> tuple[trio.SocketListener, UnixSocketFile]:
    """Create and listen on a unix socket at ``path``; see the module docstring for the rules.

    Raises :class:`FileExistsError` when ``path`` is something other than a socket and
    :class:`OSError` (EADDRINUSE) when a live server already listens there.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    if info is not None:
        if not stat.S_ISSOCK(info.st_mode):
            raise FileExistsError(
                errno.EEXIST, "refusing to replace a file that is not a socket", path
            )
        if await _socket_is_live(path):
            raise OSError(errno.EADDRINUSE, "a server is already listening on this socket", path)
        log.info("replacing stale unix socket %s", path)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    directory = os.path.dirname(os.path.abspath(path))
    private = tempfile.mkdtemp(prefix=".ts", dir=directory)  # mode 0700
    temp_path = os.path.join(private, "s")
    dir_fd: int | None = None
    bind_path = temp_path
    if len(os.fsencode(temp_path)) > _MAX_UNIX_PATH and os.path.isdir("/proc/self/fd"):
        # sun_path holds ~107 bytes; reach the private directory through a short magic link
        dir_fd = os.open(private, os.O_RDONLY | os.O_DIRECTORY)
        bind_path = f"/proc/self/fd/{dir_fd}/s"
    sock = trio.socket.socket(_stdsocket.AF_UNIX, _stdsocket.SOCK_STREAM)
    try:
        try:
            await sock.bind(bind_path)
            os.chmod(temp_path, mode)
            os.link(temp_path, path)  # EEXIST if something appeared meanwhile: never clobber
        finally:
            if dir_fd is not None:
                os.close(dir_fd)
            try:
                os.unlink(temp_path)
            except FileNotFoundError:
                pass
            os.rmdir(private)
        sock.listen(max(backlog, 128))
        info = os.lstat(path)
    except BaseException:
        sock.close()
        raise
    return trio.SocketListener(sock), UnixSocketFile(path, info.st_dev, info.st_ino)


async def open_listeners(
    spec: EngineSpec, *, socket_mode: int = 0o600
) -> tuple[list[trio.SocketListener], object, UnixSocketFile | None]:
    """Bind what an engine spec names: a unix socket (``spec.path``) or ``host:port``.

    Returns the listeners, the address to report from ``task_status.started()`` (the socket
    path, or the real ``(host, port)``) and the socket file to remove on shutdown (if any).
    """
    if spec.path is not None:
        listener, socket_file = await open_unix_listener(spec.path, mode=socket_mode)
        return [listener], spec.path, socket_file
    listeners, address = await open_tcp_listeners(spec.host, spec.port)
    return listeners, address, None


# -- who gets a connection slot ---------------------------------------------------------------


def _listening_socket(listener: trio.SocketListener) -> _stdsocket.socket | None:
    """The stdlib socket behind a Trio listener, to accept without a checkpoint per
    connection.

    ``SocketType._sock`` is private to Trio: if a Trio version names it otherwise, None, and
    the listener is used through its public ``accept()``, slower under bursts but correct.
    """
    sock = getattr(listener.socket, "_sock", None)
    if not isinstance(sock, _stdsocket.socket) or sock.fileno() != listener.socket.fileno():
        return None
    return sock


async def accept_forever(
    listener: trio.abc.Listener[trio.SocketStream],
    nursery: trio.Nursery,
    handler: Callable[[trio.SocketStream], Awaitable[None]],
    *,
    limiter: trio.CapacityLimiter | None = None,
    slots: Slots | None = None,
    logger: logging.Logger = log,
) -> None:
    """Accept connections until the listener is closed, running ``handler(stream)`` in
    ``nursery`` for each one that gets a slot (``slots``, shared by all listeners of one
    engine; or a plain cap of ``limiter``'s tokens). The handler owns the stream and must
    close it; it must not raise.

    Each time the listening socket is readable, everything in the backlog is accepted (up to
    :data:`ACCEPT_BATCH` connections) before other tasks get their turn: accepted one per
    trip through the scheduler, the last connection of a burst of hundreds waited for
    hundreds of scheduler passes, each longer than the last as the connections already
    accepted were served (seconds at c=500: wrk's timeouts).
    """
    if slots is None:
        if limiter is None:
            raise TypeError("accept_forever needs slots= or limiter=")
        slots = Slots(limiter, logger=logger)
    async with listener:
        raw = _listening_socket(listener) if isinstance(listener, trio.SocketListener) else None
        if raw is None or not isinstance(listener, trio.SocketListener):
            await _accept_one_by_one(listener, nursery, handler, slots, logger)
        else:
            await _accept_batches(listener.socket, raw, nursery, handler, slots, logger)


async def _accept_batches(
    listening: trio.socket.SocketType,
    raw: _stdsocket.socket,
    nursery: trio.Nursery,
    handler: Callable[[trio.SocketStream], Awaitable[None]],
    slots: Slots,
    logger: logging.Logger,
) -> None:
    while True:
        await slots.wait_accepting()
        if listening.fileno() < 0:
            return  # the engine closed the listener: it is shutting down
        try:
            await trio.lowlevel.wait_readable(listening)
        except trio.ClosedResourceError:
            return
        for _ in range(ACCEPT_BATCH):
            if not slots.accepting:
                break
            try:
                sock, address = raw.accept()
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno in _CLOSED_ERRNOS:
                    return
                if exc.errno in _IGNORED_ACCEPT_ERRNOS:
                    continue
                if exc.errno not in _CAPACITY_ERRNOS:
                    raise
                await _wait_for_capacity(exc, logger)
                break
            stream = trio.SocketStream(trio.socket.from_stdlib_socket(sock))
            host = address[0] if isinstance(address, tuple) else "-"
            slots.arrive(stream, peer_key(str(host)), handler, nursery)


async def _accept_one_by_one(
    listener: trio.abc.Listener[trio.SocketStream],
    nursery: trio.Nursery,
    handler: Callable[[trio.SocketStream], Awaitable[None]],
    slots: Slots,
    logger: logging.Logger,
) -> None:
    while True:
        await slots.wait_accepting()
        try:
            stream = await listener.accept()
        except trio.ClosedResourceError:
            return  # the engine closed the listener: it is shutting down
        except OSError as exc:
            if exc.errno not in _CAPACITY_ERRNOS:
                raise
            await _wait_for_capacity(exc, logger)
            continue
        slots.arrive(stream, peer_key(peer_name(stream)), handler, nursery)


async def _wait_for_capacity(exc: OSError, logger: logging.Logger) -> None:
    logger.warning(
        "accept failed (%s); retrying in %.1f s", os.strerror(exc.errno or 0), ACCEPT_RETRY_DELAY
    )
    await trio.sleep(ACCEPT_RETRY_DELAY)
