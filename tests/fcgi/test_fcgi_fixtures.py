"""Byte streams captured from real Apache 2.4 and lighttpd 1.4 fed straight into the parser.

The captures live in the shared reference (FINDINGS.md, fixtures/index.json). The Apache ones
were redacted after capture: the harness directory in DOCUMENT_ROOT and CONTEXT_DOCUMENT_ROOT
was replaced by the 13-byte text ``<harness-dir>`` without fixing the length fields (the
original was 37 bytes), so each redacted file is 48 bytes per request shorter than
index.json says. We restore a same-length placeholder and check the size matches the index;
the redacted file as-is must fail as a ProtocolError, never as anything else.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pytest

import fcgi
from fcgi import Params, RequestStarted, StdinData

#: copies of the shared reference captures (see captures/README.md)
FIXTURES = Path(__file__).resolve().parents[1] / "fcgi" / "captures"
_REDACTED = b"<harness-dir>"
_ORIGINAL_LEN = 37


def _index() -> dict[str, int]:
    entries = json.loads((FIXTURES / "index.json").read_text())
    return {Path(path).name: size for path, size, _names in entries}


def load(name: str) -> bytes:
    raw = (FIXTURES / name).read_bytes()
    restored = raw.replace(_REDACTED, b"/" + b"h" * (_ORIGINAL_LEN - 1))
    assert len(restored) == _index()[name], "capture does not match index.json"
    return restored


def parse(wire: bytes, drain: Callable) -> list[fcgi.Event]:
    conn = fcgi.ServerConnection()
    conn.receive_data(wire)
    conn.receive_data(b"")
    events = drain(conn, end_requests=True)
    assert events[-1] == fcgi.ConnectionClosed()
    assert conn.data_to_send() == b""
    return events[:-1]


def requests_in(events: list[fcgi.Event]) -> list[tuple[bool, dict[str, str], bytes]]:
    """(keep_conn, params, stdin) per request, in order."""
    out: list[tuple[bool, dict[str, str], bytes]] = []
    for event in events:
        if isinstance(event, RequestStarted):
            assert event.role == fcgi.Role.RESPONDER and event.request_id == 1
            out.append((event.keep_conn, {}, b""))
        elif isinstance(event, Params):
            out[-1] = (out[-1][0], event.params, out[-1][2])
        elif isinstance(event, StdinData):
            out[-1] = (out[-1][0], out[-1][1], out[-1][2] + event.data)
    return out


def test_every_capture_parses(drain: Callable) -> None:
    names = sorted(_index())
    assert len(names) == 8
    for name in names:
        reqs = requests_in(parse(load(name), drain))
        assert reqs, name
        for _keep, params, _body in reqs:
            assert params["REQUEST_METHOD"] in ("GET", "POST")
            assert params["HTTP_X_PROBE_ID"].startswith("fixture/")


def test_apache_keepconn_four_requests(drain: Callable) -> None:
    reqs = requests_in(parse(load("apache-keepconn-4requests.in.bin"), drain))
    assert [r[1]["HTTP_X_PROBE_ID"] for r in reqs] == [
        "fixture/apache-get-json",
        "fixture/apache-post-small",
        "fixture/apache-post-300k-chunked",
        "fixture/apache-get-longquery",
    ]
    assert all(keep for keep, _, _ in reqs)
    get, small, chunked, longq = (r[1] for r in reqs)
    assert "PATH_INFO" not in get
    assert get["SCRIPT_FILENAME"] == "proxy:fcgi://127.0.0.1:9000/Objects/subfolder/obj/root.json"
    assert get["QUERY_STRING"] == "compact=3"
    assert small["CONTENT_LENGTH"] == "46" and len(reqs[1][2]) == 46
    # the chunked upload: no CONTENT_LENGTH at all, yet 300 000 bytes of STDIN
    assert "CONTENT_LENGTH" not in chunked
    assert chunked["HTTP_TRANSFER_ENCODING"] == "chunked"
    assert len(reqs[2][2]) == 300_000
    # PARAMS split over two records (8792 + 8070 bytes) decoded as one stream
    assert len(longq["QUERY_STRING"]) == 8002
    assert reqs[3][2] == b""


@pytest.mark.parametrize(
    ("name", "user", "keep"),
    [("apache-digest-get.in.bin", "user", True), ("lighttpd-digest-get.in.bin", "user", False)],
)
def test_digest_captures_carry_the_user(name: str, user: str, keep: bool, drain: Callable) -> None:
    [(keep_conn, params, body)] = requests_in(parse(load(name), drain))
    assert (params["REMOTE_USER"], params["AUTH_TYPE"]) == (user, "Digest")
    assert keep_conn is keep and body == b""
    # Apache never forwards Authorization; lighttpd does
    assert ("HTTP_AUTHORIZATION" in params) is name.startswith("lighttpd")


def test_apache_noreuse(drain: Callable) -> None:
    [(keep_conn, params, _)] = requests_in(parse(load("apache-noreuse-get.in.bin"), drain))
    assert keep_conn is False
    assert params["SCRIPT_FILENAME"].startswith("proxy:fcgi://localhost:9000/")


@pytest.mark.parametrize(
    ("name", "path_info", "body_len"),
    [
        ("lighttpd-get-json.in.bin", "/Objects/subfolder/obj/root.json", 0),
        ("lighttpd-post-small.in.bin", "/multi.json", 46),
        ("lighttpd-post-300k.in.bin", "/upload.json", 300_000),
        ("lighttpd-get-noslash.in.bin", None, 0),
    ],
)
def test_lighttpd_captures(
    name: str, path_info: str | None, body_len: int, drain: Callable
) -> None:
    events = parse(load(name), drain)
    [(keep_conn, params, body)] = requests_in(events)
    assert keep_conn is False
    assert params.get("PATH_INFO") == path_info
    assert params["SCRIPT_NAME"] == "/root.app"
    assert params["CONTENT_LENGTH"] == str(body_len)
    assert len(body) == body_len
    if body_len == 300_000:
        # streamed record by record, exactly as lighttpd split it
        sizes = [len(e.data) for e in events if isinstance(e, StdinData)]
        assert sizes == [65535, 65535, 65535, 65535, 4, 37856]


@pytest.mark.parametrize("name", ["apache-digest-get.in.bin", "apache-noreuse-get.in.bin"])
def test_redacted_capture_as_is_is_a_protocol_error(name: str, drain: Callable) -> None:
    conn = fcgi.ServerConnection()
    conn.receive_data((FIXTURES / name).read_bytes())
    conn.receive_data(b"")
    with pytest.raises(fcgi.ProtocolError):
        drain(conn)


@pytest.mark.parametrize("size", [1, 7, 8, 9, 100, 4096])
def test_capture_fed_in_small_pieces(size: int, drain: Callable) -> None:
    """The first 20 kB (all of the first two requests' framing) in ``size``-byte pieces, the
    rest in 64 KiB pieces: the events are those of the whole stream at once."""
    wire = load("apache-keepconn-4requests.in.bin")
    whole = parse(wire, drain)
    cuts = [*range(0, 20_000, size), *range(20_000, len(wire), 65536), len(wire)]
    conn = fcgi.ServerConnection()
    events: list[fcgi.Event] = []
    for start, stop in itertools.pairwise(cuts):
        conn.receive_data(wire[start:stop])
        events += drain(conn, end_requests=True)
    conn.receive_data(b"")
    events += drain(conn)
    assert events[:-1] == whole
