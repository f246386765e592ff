"""A sans-IO FastCGI 1.0 protocol implementation (application side), in the spirit of h11.

Feed bytes to a :class:`ServerConnection`, read events, and send the bytes its output
methods return. Nothing here touches a socket, a thread or an event loop::

    conn = fcgi.ServerConnection()
    conn.receive_data(data)
    while (event := conn.next_event()) is not fcgi.NEED_DATA:
        ...
    sock.sendall(conn.data_to_send() + conn.send_stdout(rid, b"Status: 200 OK\\r\\n\\r\\n"))

The encoders (:func:`encode_record`, :func:`encode_params`, ...) double as a minimal client
side for tests.
"""

from __future__ import annotations

from fcgi._connection import (
    DEFAULT_MAX_CONNS,
    DEFAULT_MAX_PARAMS_BYTES,
    DEFAULT_MAX_PARAMS_COUNT,
    DEFAULT_MAX_REQS,
    ConnectionStatistics,
    ServerConnection,
)
from fcgi._errors import ProtocolError
from fcgi._events import (
    NEED_DATA,
    ConnectionClosed,
    Data,
    DataEnd,
    Event,
    NeedData,
    Params,
    RequestAborted,
    RequestStarted,
    StdinData,
    StdinEnd,
)
from fcgi._nvpairs import decode_pairs, decode_params, encode_pair, encode_params
from fcgi._records import (
    FCGI_VERSION_1,
    HEADER_LEN,
    MAX_CONTENT,
    BeginFlags,
    ProtocolStatus,
    Record,
    RecordReader,
    RecordType,
    Role,
    decode_end_body,
    encode_begin_request,
    encode_end_request,
    encode_record,
    encode_stream,
)

__all__ = [
    "DEFAULT_MAX_CONNS",
    "DEFAULT_MAX_PARAMS_BYTES",
    "DEFAULT_MAX_PARAMS_COUNT",
    "DEFAULT_MAX_REQS",
    "FCGI_VERSION_1",
    "HEADER_LEN",
    "MAX_CONTENT",
    "NEED_DATA",
    "BeginFlags",
    "ConnectionClosed",
    "ConnectionStatistics",
    "Data",
    "DataEnd",
    "Event",
    "NeedData",
    "Params",
    "ProtocolError",
    "ProtocolStatus",
    "Record",
    "RecordReader",
    "RecordType",
    "RequestAborted",
    "RequestStarted",
    "Role",
    "ServerConnection",
    "StdinData",
    "StdinEnd",
    "decode_end_body",
    "decode_pairs",
    "decode_params",
    "encode_begin_request",
    "encode_end_request",
    "encode_pair",
    "encode_params",
    "encode_record",
    "encode_stream",
]
