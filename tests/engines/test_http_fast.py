"""The fast path claims a request or a response only where h11 would do exactly the same.

Each promise of :mod:`trioserve.engines._http_fast` is checked against h11 itself: for every
head the fast parser accepts, h11 fed the same bytes yields the same request, keep-alive and
without a body; for every response head it writes, h11 writes the same bytes. Tables cover the
shapes that must go to h11; hypothesis throws arbitrary heads and header values at both.
"""

from __future__ import annotations

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trioserve.engines._http_fast import parse_simple_head, simple_response_head


def h11_request(head: bytes) -> tuple[h11.Request, h11.Connection] | None:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(head)
    try:
        event = conn.next_event()
    except h11.RemoteProtocolError:
        return None
    if not isinstance(event, h11.Request):
        return None
    return event, conn


def assert_same_as_h11(head: bytes) -> None:
    simple = parse_simple_head(head)
    if simple is None:
        return
    parsed = h11_request(head)
    assert parsed is not None, f"h11 refuses a head the fast path took: {head!r}"
    request, conn = parsed
    assert simple == (request.method, request.target, request.http_version, list(request.headers))
    assert isinstance(conn.next_event(), h11.EndOfMessage)  # no body
    assert conn.their_state is h11.DONE
    assert conn.our_state is h11.SEND_RESPONSE
    # keep-alive: after a framed response, h11 would be ready for the next request
    conn.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
    conn.send(h11.EndOfMessage())
    assert conn.our_state is h11.DONE
    conn.start_next_cycle()


FAST = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /Objects/h/root.json?compact=3 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
    b"HEAD /x HTTP/1.1\r\nhost: a\r\nAccept: */*\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nUser-Agent: x y\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Spaces:   v  \r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nCookie: a=\x01b\r\nX: \xff\xfe\r\n\r\n",
    b"GET http://a/b?c HTTP/1.1\r\nHost: a\r\n\r\n",
]

TO_H11 = [
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n",  # a body
    b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
    b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.0\r\nHost: a\r\n\r\n",  # HTTP/1.0 keep-alive rules are h11's
    b"GET / HTTP/1.1\r\n\r\n",  # no Host: h11 answers
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n",  # obs-fold
    b"GET / HTTP/1.1\nHost: a\n\n",  # bare LF
    b"GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX : b\r\n\r\n",  # space before the colon
    b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
    b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n",  # incomplete
]


@pytest.mark.parametrize("head", FAST)
def test_common_heads_take_the_fast_path_and_agree_with_h11(head: bytes) -> None:
    assert parse_simple_head(head) is not None
    assert_same_as_h11(head)


@pytest.mark.parametrize("head", TO_H11)
def test_unusual_heads_are_left_to_h11(head: bytes) -> None:
    assert parse_simple_head(head) is None


_header_name = st.sampled_from(
    [b"Host", b"host", b"Accept", b"X-A", b"Connection", b"Content-Length", b"Upgrade", b"X y"]
)
_header_value = st.binary(max_size=12)
_line = st.tuples(_header_name, st.sampled_from([b":", b": ", b" :", b":\t"]), _header_value)


@settings(max_examples=600, deadline=None)
@given(
    method=st.sampled_from([b"GET", b"HEAD", b"POST", b"get", b"G T"]),
    target=st.sampled_from([b"/", b"/a?b=c", b"/\x7f", b"*", b"/a b", b"http://x/"]),
    version=st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/1.2", b"http/1.1"]),
    lines=st.lists(_line, max_size=5),
    host_first=st.booleans(),
)
def test_any_head_the_fast_path_takes_h11_reads_the_same(
    method: bytes,
    target: bytes,
    version: bytes,
    lines: list[tuple[bytes, bytes, bytes]],
    host_first: bool,
) -> None:
    fields = [name + sep + value for name, sep, value in lines]
    if host_first:
        fields.insert(0, b"Host: example")
    head = method + b" " + target + b" " + version + b"\r\n" + b"".join(f + b"\r\n" for f in fields)
    assert_same_as_h11(head + b"\r\n")


def h11_response_bytes(status: int, reason: str, headers: list[tuple[str, str]]) -> bytes:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert isinstance(conn.next_event(), h11.Request)
    event = h11.Response(
        status_code=status,
        reason=reason.encode("ascii"),
        headers=[(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers],
    )
    return conn.send(event) or b""


RESPONSES: list[tuple[int, list[tuple[str, str]]]] = [
    (200, [("Date", "Fri, 27 Nov 2026 13:00:00 GMT"), ("Content-Length", "12")]),
    (200, [("Content-Type", "application/json"), ("content-length", "0"), ("X-Empty", "")]),
    (404, [("Content-Length", "40"), ("Cache-Control", "no-store"), ("Vary", "Origin")]),
    (204, [("Allow", "GET, HEAD")]),
    (304, [("ETag", '"abc"')]),
    (206, [("Content-Range", "bytes 0-1/10"), ("Content-Length", "2"), ("X", "a: b")]),
    (200, [("Set-Cookie", "a=\x01b"), ("Content-Length", "1"), ("X", "\xe9")]),
]

REWRITTEN: list[tuple[int, list[tuple[str, str]]]] = [
    (200, [("Content-Type", "text/plain")]),  # no framing: h11 adds chunked
    (200, [("Content-Length", "1"), ("Connection", "close")]),
    (200, [("Content-Length", "1"), ("Transfer-Encoding", "chunked")]),
    (200, [("Content-Length", "1"), ("Host", "a")]),
]

REFUSED: list[tuple[int, list[tuple[str, str]]]] = [
    (200, [("Content-Length", "1"), ("X", "a\r\nInjected: yes")]),
    (200, [("Content-Length", "1"), ("X", "a\nb")]),
    (200, [("Content-Length", "1"), ("X", " leading")]),
    (200, [("Content-Length", "1"), ("X", "trailing ")]),
    (200, [("Content-Length", "1"), ("X", "nul\x00")]),
    (200, [("Content-Length", "1"), ("Bad Name", "v")]),
    (200, [("Content-Length", "1"), ("a:b", "v")]),
    (200, [("Content-Length", "1"), ("", "v")]),
]


@pytest.mark.parametrize(("status", "headers"), RESPONSES)
def test_response_heads_are_the_bytes_h11_writes(
    status: int, headers: list[tuple[str, str]]
) -> None:
    assert simple_response_head(status, "Reason", headers) == h11_response_bytes(
        status, "Reason", headers
    )


@pytest.mark.parametrize(("status", "headers"), REWRITTEN)
def test_responses_h11_would_rewrite_are_left_to_h11(
    status: int, headers: list[tuple[str, str]]
) -> None:
    assert simple_response_head(status, "OK", headers) is None
    assert h11_response_bytes(status, "OK", headers)  # h11 writes them (differently)


@pytest.mark.parametrize(("status", "headers"), REFUSED)
def test_responses_h11_refuses_are_left_to_h11(status: int, headers: list[tuple[str, str]]) -> None:
    assert simple_response_head(status, "OK", headers) is None
    with pytest.raises(h11.LocalProtocolError):
        h11_response_bytes(status, "OK", headers)


def test_text_outside_latin1_raises_as_on_the_h11_path() -> None:
    with pytest.raises(UnicodeEncodeError):
        simple_response_head(200, "OK", [("Content-Length", "1"), ("X", "\u20ac")])


@settings(max_examples=600, deadline=None)
@given(
    names=st.lists(st.sampled_from(["X", "x-a", "A b", "a:b", "", "Content-Length"]), max_size=4),
    values=st.lists(st.text(alphabet="ab :\t\r\n\x00\x01\xe9", max_size=6), max_size=4),
)
def test_any_response_head_the_fast_path_writes_h11_writes_too(
    names: list[str], values: list[str]
) -> None:
    headers = [("Content-Length", "3"), *zip(names, values, strict=False)]
    simple = simple_response_head(200, "OK", headers)
    if simple is not None:
        assert simple == h11_response_bytes(200, "OK", headers)
