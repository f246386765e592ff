"""Errors raised to users of the library.

::

    TrioserveError
     ├── ConfigError          a spec string, option or registration that cannot work
     │    └── SpecError       an engine spec or server option that is unknown or malformed
     ├── RegistrationError    register()/restrict()/... named something that does not exist
     └── RequestError         a request that must be answered with a 4xx/5xx JSON body
          (status, code and message map 1:1 to :func:`trioserve.call.error_response`)

Bad input from a network peer never raises anything but :class:`RequestError` out of the
dispatcher; protocol cores (``fcgi``, digest) have their own typed errors that engines map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trioserve.call import Response

__all__ = ["ConfigError", "RegistrationError", "RequestError", "SpecError", "TrioserveError"]


class TrioserveError(Exception):
    pass


class ConfigError(TrioserveError, ValueError):
    pass


class SpecError(ConfigError):
    pass


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
