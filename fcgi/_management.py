"""Answers to management records (request id 0): GET_VALUES and unknown types.

Management records belong to no request, so they bypass the per-request state table in
:mod:`fcgi._state`; the answer depends only on the record and on what the connection was
configured to report. :class:`~fcgi.ServerConnection` queues the bytes returned here for
``data_to_send()``.
"""

from __future__ import annotations

from fcgi._nvpairs import decode_pairs, encode_params
from fcgi._records import RecordType, encode_record

__all__ = ["management_reply"]

#: GET_VALUES queries are tiny; a bigger one is not worth decoding
_MAX_GET_VALUES_NAMES = 64


def management_reply(
    rtype: int, content: bytes, *, max_conns: int, max_reqs: int, mpxs: bool
) -> bytes:
    """The record answering one management record of type ``rtype``.

    GET_VALUES gets a GET_VALUES_RESULT naming only the variables we know (unknown names are
    left out, as the specification asks); any other type gets UNKNOWN_TYPE. A GET_VALUES body
    that does not decode raises :class:`~fcgi.ProtocolError`.
    """
    if rtype != RecordType.GET_VALUES:
        # the body of UNKNOWN_TYPE is the type byte plus 7 reserved bytes
        return encode_record(RecordType.UNKNOWN_TYPE, 0, bytes((rtype,)) + b"\0" * 7)
    known = {
        "FCGI_MAX_CONNS": str(max_conns),
        "FCGI_MAX_REQS": str(max_reqs),
        "FCGI_MPXS_CONNS": "1" if mpxs else "0",
    }
    names = decode_pairs(content, max_count=_MAX_GET_VALUES_NAMES)
    reply = [
        (name, known[text].encode())
        for name, _ in names
        if (text := name.decode("latin-1")) in known
    ]
    return encode_record(RecordType.GET_VALUES_RESULT, 0, encode_params(reply))
