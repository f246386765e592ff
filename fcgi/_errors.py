"""The one error the protocol core raises for bad input from the peer.

::

    Exception
     └── ProtocolError   the front-end sent bytes that are not valid FastCGI (or broke a limit)

A :class:`ProtocolError` carries hints so the engine does not have to guess how to answer:
``protocol_status`` and ``request_id`` say whether an ``END_REQUEST`` can still be sent for a
particular request before closing, and ``close`` says whether the connection is beyond repair
(it always is for framing errors, because the byte stream has lost its record boundaries).
Mistakes made by the *application* (writing to a request that has ended, ...) are ordinary
``ValueError``/``RuntimeError``: they are bugs in our code, not in the peer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fcgi._constants import ProtocolStatus

__all__ = ["ProtocolError"]


class ProtocolError(Exception):
    """The peer violated the FastCGI protocol or a configured limit.

    Once raised, the :class:`~fcgi.ServerConnection` stays in an error state: every later
    ``next_event()`` raises the same error again, so a forgetful caller cannot carry on
    parsing a stream whose framing is lost.
    """

    def __init__(
        self,
        message: str,
        *,
        request_id: int | None = None,
        protocol_status: ProtocolStatus | None = None,
        close: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: the request the error concerns, when there is one worth answering
        self.request_id = request_id
        #: the END_REQUEST protocol status to send for ``request_id`` (if any) before closing
        self.protocol_status = protocol_status
        #: whether the connection must be closed (True for every framing error)
        self.close = close

    def __repr__(self) -> str:
        return (
            f"ProtocolError({self.message!r}, request_id={self.request_id!r}, "
            f"protocol_status={self.protocol_status!r}, close={self.close!r})"
        )
