"""FastCGI 1.0 wire constants: versions, sizes and the record, role and status numbers.

They sit below every other module of the package (records, errors, the state table), so that
:class:`~fcgi.ProtocolError` can name a protocol status without importing the record codec
that raises it.
"""

from __future__ import annotations

import enum

__all__ = [
    "FCGI_VERSION_1",
    "HEADER_LEN",
    "MAX_CONTENT",
    "BeginFlags",
    "ProtocolStatus",
    "RecordType",
    "Role",
]

FCGI_VERSION_1 = 1
HEADER_LEN = 8
MAX_CONTENT = 0xFFFF


class RecordType(enum.IntEnum):
    BEGIN_REQUEST = 1
    ABORT_REQUEST = 2
    END_REQUEST = 3
    PARAMS = 4
    STDIN = 5
    STDOUT = 6
    STDERR = 7
    DATA = 8
    GET_VALUES = 9
    GET_VALUES_RESULT = 10
    UNKNOWN_TYPE = 11


class Role(enum.IntEnum):
    RESPONDER = 1
    AUTHORIZER = 2
    FILTER = 3


class BeginFlags(enum.IntFlag):
    KEEP_CONN = 1


class ProtocolStatus(enum.IntEnum):
    REQUEST_COMPLETE = 0
    CANT_MPX_CONN = 1
    OVERLOADED = 2
    UNKNOWN_ROLE = 3
