"""Why an engine could not start, and where one listens, each said in one line.

A failed ``bind`` surfaces as a bare :class:`OSError` whose text (``[Errno 98] Address
already in use``) names neither the address nor what to do about it, and Trio wraps it in an
exception group on its way out. :meth:`trioserve.Server.serve` turns it into a
:class:`~trioserve.errors.BindError` with :func:`bind_error`, whose message names the engine
and the address and says what to do; the command line prints that as its one line.

:func:`describe_engine` says where an engine listens in the words a user needs: a URL to
browse for HTTP, and for FastCGI an address that is *not* a URL, because a browser or curl
pointed at it gets an empty reply: it is for a web front-end.

Pure functions of the spec and the exception: no socket is opened here (``socket`` is
imported only for its ``gaierror`` class).
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Any

from trioserve.errors import BindError
from trioserve.spec import EngineSpec

__all__ = ["FASTCGI_NOTE", "bind_error", "describe_engine", "engine_name"]

#: what a FastCGI address is for, wherever one is printed
FASTCGI_NOTE = "an address for a web front-end: see docs/deployment.md"

BUSY_PORT_ADVICE = "stop the program that listens there, or choose another port"


def engine_name(spec: EngineSpec) -> str:
    """``http engine 'http:8080'``: the engine as the user wrote it."""
    return f"{spec.kind} engine {spec.text or spec.describe()!r}"


def _host_port(host: str, port: object) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind_error(spec: EngineSpec, exc: OSError) -> BindError:
    """The :class:`BindError` for ``exc``, raised while ``spec``'s engine started."""
    name = engine_name(spec)
    code = exc.errno
    if spec.path is not None:
        return _unix_error(spec.path, name, exc)
    where = _host_port(spec.host, spec.port)
    if isinstance(exc, socket.gaierror):
        return BindError(
            f"the host name {spec.host!r} cannot be resolved ({name})",
            "check the name, or give an IP address such as 127.0.0.1",
            code,
        )
    if code == errno.EADDRINUSE:
        return BindError(f"{where} is already in use ({name})", BUSY_PORT_ADVICE, code)
    if code == errno.EADDRNOTAVAIL:
        return BindError(
            f"{spec.host} is not an address of this machine ({name})",
            "bind 127.0.0.1 (the default), 0.0.0.0 for every interface, "
            "or one of this machine's addresses",
            code,
        )
    if code == errno.EACCES:
        return BindError(
            f"no permission to listen on {where} ({name})",
            "ports below 1024 need privileges: choose a port above 1023 and put a web "
            "front-end in front (docs/deployment.md)",
            code,
        )
    return BindError(f"cannot listen on {where} ({name}): {exc.strerror or exc}", "", code)


def _unix_error(path: str, name: str, exc: OSError) -> BindError:
    code = exc.errno
    directory = os.path.dirname(os.path.abspath(path))
    if isinstance(exc, FileExistsError):
        return BindError(
            f"{path} exists and is not a socket ({name})",
            "remove it or choose another socket path",
            code,
        )
    if code == errno.EADDRINUSE:
        return BindError(
            f"another server already listens on {path} ({name})",
            "stop it, or choose another socket path",
            code,
        )
    if code in (errno.ENOENT, errno.ENOTDIR):
        return BindError(
            f"the directory {directory} of the socket {path} does not exist ({name})",
            "create it, or choose a socket path in an existing directory",
            code,
        )
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return BindError(
            f"no permission to create the socket {path} ({name})",
            "choose a directory this user may write to",
            code,
        )
    return BindError(f"cannot listen on {path} ({name}): {exc.strerror or exc}", "", code)


def describe_engine(kind: str, address: Any) -> str:
    """Where an engine listens: ``http://127.0.0.1:8080/`` (``https://`` for TLS) to browse,
    or for FastCGI ``127.0.0.1:9000 (an address for a web front-end: see
    docs/deployment.md)``."""
    if isinstance(address, tuple) and len(address) >= 2:
        where = _host_port(str(address[0]), address[1])
        if kind == "fastcgi":
            return f"{where} ({FASTCGI_NOTE})"
        scheme = "https" if kind == "https" else "http"
        return f"{scheme}://{where}/"
    if kind == "fastcgi":
        return f"unix socket {address} ({FASTCGI_NOTE})"
    return f"unix socket {address} (curl --unix-socket {address} http://localhost/h.json)"
