"""The package's shape: no I/O imported, and a pinned public API."""

from __future__ import annotations

import json
import subprocess
import sys

import fcgi

FORBIDDEN = ["socket", "select", "selectors", "threading", "asyncio", "trio", "ssl", "_socket"]


def test_fcgi_imports_no_io() -> None:
    code = (
        "import sys, json; before = set(sys.modules); import fcgi; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=str(__import__("pathlib").Path(fcgi.__file__).parent.parent),
        timeout=30,
    )
    loaded = json.loads(out.stdout)
    assert "fcgi._connection" in loaded  # the check looks at the right thing
    assert [m for m in loaded if m.split(".")[0] in FORBIDDEN] == []


def test_public_api_is_pinned() -> None:
    assert sorted(fcgi.__all__) == sorted(
        [
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
    )
    for name in fcgi.__all__:
        assert hasattr(fcgi, name)


def test_wire_constants_are_the_specification_values() -> None:
    assert [t.value for t in fcgi.RecordType] == list(range(1, 12))
    assert (fcgi.Role.RESPONDER, fcgi.Role.AUTHORIZER, fcgi.Role.FILTER) == (1, 2, 3)
    assert fcgi.BeginFlags.KEEP_CONN == 1
    assert [s.value for s in fcgi.ProtocolStatus] == [0, 1, 2, 3]
    assert (fcgi.FCGI_VERSION_1, fcgi.HEADER_LEN, fcgi.MAX_CONTENT) == (1, 8, 65535)


def test_events_are_frozen_and_slotted() -> None:
    event = fcgi.StdinData(1, b"x")
    assert not hasattr(event, "__dict__")
    try:
        event.data = b"y"  # type: ignore[misc]
    except AttributeError:
        pass
    else:
        raise AssertionError("events must be immutable")
    assert repr(fcgi.NEED_DATA) == "NEED_DATA"
