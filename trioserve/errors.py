"""Errors raised to users of the library.

::

    TrioserveError
     ├── ConfigError          a spec string, option or registration that cannot work
     │    ├── SpecError       an engine spec or server option that is unknown or malformed
     │    │                   (also a StartupError: no server starts with it)
     │    └── ConfigFileError a ``trioserve serve --config`` file: names the file and the key
     ├── StartupError         the server could not start; ``__cause__`` is the original error
     │    ├── SpecError       (see above)
     │    └── BindError       an engine cannot listen (also an :class:`OSError`, errno kept):
     │                        a busy port, a socket in a missing directory, a host address
     │                        this machine does not have, a host name that does not resolve
     ├── RegistrationError    register()/restrict()/... named something that does not exist
     └── RequestError         a request that must be answered with a 4xx/5xx JSON body
          (status, code and message map 1:1 to :func:`trioserve.call.error_response`)

Bad input from a network peer never raises anything but :class:`RequestError` out of the
dispatcher; protocol cores (``fcgi``, digest) have their own typed errors that engines map.

**Catching a failed start.** Everything :meth:`trioserve.Server.serve` (and
``create_engine``) raises before the server is up is one :class:`StartupError` whose message
says what is wrong and what to do, never an exception group to unpack::

    try:
        await nursery.start(server.serve, "http:8080")
    except StartupError as exc:
        sys.exit(f"cannot start: {exc}")

:class:`BindError` stays an :class:`OSError` (with the original ``errno``) and
:class:`SpecError` a :class:`ConfigError`, so code written as ``except OSError`` or
``except SpecError`` before :class:`StartupError` existed still catches what it caught.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trioserve.call import Response

__all__ = [
    "BindError",
    "ConfigError",
    "ConfigFileError",
    "RegistrationError",
    "RequestError",
    "SpecError",
    "StartupError",
    "TrioserveError",
]


class TrioserveError(Exception):
    pass


class ConfigError(TrioserveError, ValueError):
    pass


class StartupError(TrioserveError):
    """The server could not start; the message says what is wrong and what to do."""


class SpecError(ConfigError, StartupError):
    pass


class ConfigFileError(ConfigError):
    """A configuration file that cannot work; the message starts with ``FILE: KEY:``."""

    def __init__(self, path: str, key: str | None, message: str) -> None:
        super().__init__(f"{path}: {key}: {message}" if key else f"{path}: {message}")
        self.path = path
        self.key = key


class BindError(StartupError, OSError):
    """An engine cannot listen at its address.

    ``problem`` says what is wrong, ``advice`` what to do; ``errno`` is the original one
    (``None`` for a host name that does not resolve). ``str()`` is ``"problem: advice"``.
    """

    def __init__(self, problem: str, advice: str, errno: int | None = None) -> None:
        OSError.__init__(self, errno, f"{problem}: {advice}" if advice else problem)
        self.problem = problem
        self.advice = advice

    def __str__(self) -> str:
        return f"{self.problem}: {self.advice}" if self.advice else self.problem


class RegistrationError(TrioserveError, LookupError):
    pass


class RequestError(TrioserveError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def to_response(self) -> Response:
        from trioserve.call import error_response

        return error_response(self.status, self.code, self.message)
