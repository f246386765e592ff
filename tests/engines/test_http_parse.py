"""Table tests for the sans-IO parts of the HTTP engine: request checks, response headers,
the debug page and access log lines. No sockets here; the engine tests use real ones."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trioserve.accesslog import AccessLog, clf_line
from trioserve.call import Call, Response
from trioserve.debugpage import HIDDEN, is_secret_field, render_debug_page
from trioserve.engines._http_parse import (
    MAX_CHUNK_EXT_BYTES,
    ChunkedGuard,
    HeadError,
    HeadGuard,
    _remove_dot_segments,
    check_head,
    decode_path,
    valid_host,
)
from trioserve.engines._http_response import (
    cors_preflight,
    http_date,
    raw_response_bytes,
    response_headers,
)
from trioserve.engines.http import DEFAULT_SOCKET_MODE, HttpOptions
from trioserve.errors import SpecError
from trioserve.spec import EngineSpec

LIMITS = {"max_url_length": 100, "max_header_bytes": 200, "max_body": 1000}


def head(target=b"/", headers=((b"host", b"x"),), method=b"GET", version=b"1.1"):
    return check_head(method, target, version, list(headers), **LIMITS)


def status_of(fn, *args, **kwargs) -> int:
    try:
        fn(*args, **kwargs)
    except HeadError as error:
        return error.status
    return 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"/", "/"),
        (b"/Objects/hpx/root.json", "/Objects/hpx/root.json"),
        (b"/sub%20folder/a%2Fb/root.json", "/sub folder/a/b/root.json"),
        (b"/Objects/%C3%A9t%C3%A9/root.json", "/Objects/\u00e9t\u00e9/root.json"),
        (b"/Objects/../root.json", "/root.json"),
        (b"/%2e%2e/%2e%2e/etc/passwd", "/etc/passwd"),
        (b"/..%2f..%2fetc/passwd", "/etc/passwd"),
        (b"/a/./b/", "/a/b/"),
        (b"/a/..", "/"),
        (b"/a/b/..", "/a/"),
        (b"//a//b/c", "//a//b/c"),
        (b"/a+b", "/a+b"),
    ],
)
def test_decode_path(raw, expected):
    assert decode_path(raw) == expected


@pytest.mark.parametrize(
    "raw", [b"/%00x", b"/a%0ab", b"/%ff", b"/%C3", b"/%zz", b"/bad%", b"/%7f", b"x"]
)
def test_decode_path_refuses(raw):
    assert status_of(decode_path, raw) == 400


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b.c", ".", "..", "", "x%41", "%2e", "é", "\x7f"]), max_size=6)
)
def test_plain_paths_decode_as_the_general_rule_does(segments: list[str]) -> None:
    """The shortcut for paths with nothing to decode answers as the general rules would:
    unquote, UTF-8, no controls, then RFC 3986 dot-segment removal."""
    raw = ("/" + "/".join(segments)).encode("utf-8")
    try:
        got: object = decode_path(raw)
    except HeadError as error:
        got = error.status
    text = unquote_to_bytes(raw).decode("utf-8", "replace")
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in text) or "\ufffd" in text:
        assert got == 400
    else:
        assert got == _remove_dot_segments(text)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (b"example.org", True),
        (b"example.org:8080", True),
        (b"127.0.0.1:1", True),
        (b"[::1]:8080", True),
        (b"", True),
        (b"a b", False),
        (b"exa/mple", False),
        (b"host:port", False),
        (b"[::1", False),
        (b"x@y", False),
    ],
)
def test_valid_host(value, ok):
    assert valid_host(value) is ok


def test_check_head_success_and_target_forms():
    result = head(b"/a%20b/root.json?compact=3&x=%20")
    assert (result.method, result.path, result.query) == (
        "GET",
        "/a b/root.json",
        "compact=3&x=%20",
    )
    assert result.headers == [("host", "x")]
    absolute = head(b"http://example.org/p/q?z=1")
    assert (absolute.path, absolute.query) == ("/p/q", "z=1")
    assert head(b"http://example.org").path == "/"
    assert head(b"*", method=b"OPTIONS").path == "*"


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"target": b"/" + b"a" * 100}, 414),
        ({"headers": [(b"host", b"x"), (b"x-big", b"v" * 200)]}, 431),
        (
            {
                "headers": [
                    (b"host", b"x"),
                    (b"content-length", b"5"),
                    (b"transfer-encoding", b"chunked"),
                ]
            },
            400,
        ),
        ({"headers": [(b"transfer-encoding", b"chunked")], "version": b"1.0"}, 400),
        ({"headers": [(b"host", b"a"), (b"host", b"b")]}, 400),
        ({"headers": [(b"host", b"bad host")]}, 400),
        ({"headers": [(b"host", b"x"), (b"content-length", b"1001")]}, 413),
        ({"target": b"/%00"}, 400),
        ({"target": b"*"}, 400),
        ({"target": b"ftp://x/"}, 400),
        ({"version": b"2.0"}, 505),
    ],
)
def test_check_head_refusals(kwargs, status):
    assert status_of(head, **kwargs) == status


def test_head_guard_limits():
    guard = HeadGuard(max_url_length=50, max_header_bytes=40)
    guard.feed(b"GET /" + b"a" * 40)  # still possible
    assert status_of(guard.feed, b"a" * 60) == 414

    guard = HeadGuard(max_url_length=50, max_header_bytes=40)
    guard.feed(b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert status_of(guard.feed, b"X: " + b"y" * 50) == 431


def test_head_guard_stops_counting_at_the_end_of_the_head():
    guard = HeadGuard(max_url_length=50, max_header_bytes=40)
    guard.feed(b"POST / HTTP/1.1\r\nHost: x\r")
    guard.feed(b"\n\r\n" + b"body" * 1000)  # the blank line is split across reads
    assert guard.complete
    assert guard.seen == len(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n")


@pytest.mark.parametrize(
    "data", [b"\x16\x03\x01\x02\x00\x01\x00", b"GE(T / HTTP/1.1", b"A" * 40, b"\r\n\r\n"]
)
def test_head_guard_spots_garbage_early(data):
    guard = HeadGuard(max_url_length=8000, max_header_bytes=8000)
    assert status_of(guard.feed, data) == 400


@pytest.mark.parametrize("split", [1, 2, 3, 7, 1000])
def test_chunked_guard_accepts_valid_bodies_split_anywhere(split):
    body = b'5\r\nhello\r\n3;name=val;q="a b"\r\nabc\r\n0\r\nTrailer: 1\r\n\r\nGET /next'
    guard = ChunkedGuard(max_body=100, max_trailer_bytes=100)
    for start in range(0, len(body), split):
        guard.feed(body[start : start + split])
    assert guard.done
    assert guard.received == 8


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"zz\r\n", 400),  # not hex
        (b";x\r\n", 400),  # no digits
        (b"1" * 17 + b"\r\n", 400),  # too many digits
        (b"3e9\r\n", 413),  # 1001 > max_body, refused before any data
        (b"5\r\nhelloXX", 400),  # data not followed by CRLF
        (b"5\n", 400),  # bare LF
        (b"5;" + b"a" * (MAX_CHUNK_EXT_BYTES + 10), 400),  # extension too long, even unfinished
        (b'5;a="unterminated\r\n', 400),
        (b"5;=x\r\n", 400),
        (b"0\r\n" + b"X: y\r\n" * 30, 431),  # trailer section too big
    ],
)
def test_chunked_guard_refuses(body, status):
    guard = ChunkedGuard(max_body=1000, max_trailer_bytes=100)
    assert status_of(guard.feed, body) == status


def test_chunked_guard_counts_budget_across_chunks():
    guard = ChunkedGuard(max_body=10, max_trailer_bytes=100)
    guard.feed(b"6\r\nabcdef\r\n")
    assert status_of(guard.feed, b"5\r\n") == 413


def test_response_headers():
    response = Response(
        body=b"{}",
        headers=[("Content-Length", "99"), ("Connection", "keep-alive"), ("X-A", "1")],
    )
    headers = response_headers(response, server="srv", close=True, now=0)
    assert headers == [
        ("Date", "Thu, 01 Jan 1970 00:00:00 GMT"),
        ("Server", "srv"),
        ("Content-Type", "application/json"),
        ("Content-Length", "2"),
        ("X-A", "1"),
        ("Connection", "close"),
    ]
    no_content = response_headers(Response(status=204, body=b""), server="s", close=False)
    assert [name for name, _ in no_content] == ["Date", "Server"]

    async def gen():
        yield b""

    streamed = response_headers(Response(body=gen()), server="s", close=False)
    assert "Content-Length" not in dict(streamed)


def test_http_date_is_imf_fixdate():
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", http_date())


def test_raw_response_bytes():
    data = raw_response_bytes(Response(status=431, body=b"{}"), server="s")
    assert data.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"\r\nConnection: close\r\n" in data and data.endswith(b"\r\n\r\n{}")
    assert raw_response_bytes(Response(status=400, body=b"{}"), server="s", head=True).endswith(
        b"\r\n\r\n"
    )


def test_cors_preflight():
    plain = cors_preflight("https://x.org", "https://x.org", "X-Custom", credentials=None)
    assert plain.status == 204
    assert plain.get_header("access-control-allow-origin") == "https://x.org"
    assert plain.get_header("access-control-allow-headers") == "X-Custom"
    assert plain.get_header("vary") == "Origin"
    assert plain.get_header("access-control-max-age")
    assert plain.get_header("access-control-allow-credentials") is None
    cred = cors_preflight("*", "https://y.org", None, credentials="true")
    assert cred.get_header("access-control-allow-origin") == "https://y.org"
    assert cred.get_header("access-control-allow-credentials") == "true"


def test_options_from_spec():
    spec = EngineSpec(
        kind="socket",
        path="/tmp/x",
        options={"max_body": "10", "header_timeout": "0.5", "socket_mode": "0660", "debug": ""},
    )
    options = HttpOptions.from_spec(spec)
    assert (options.max_body, options.header_timeout, options.socket_mode) == (10, 0.5, 0o660)
    assert options.debug and options.max_connections == 1000
    assert (
        HttpOptions.from_spec(EngineSpec(kind="http")).socket_mode == DEFAULT_SOCKET_MODE == 0o600
    )
    for bad in ({"socket_mode": "9"}, {"max_body": "0"}, {"header_timeout": "x"}):
        with pytest.raises(SpecError):
            HttpOptions.from_spec(EngineSpec(kind="http", options=bad, text="http:0"))


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("authorization", True),
        ("Authorization", True),
        ("proxy-authorization", True),
        ("cookie", True),
        ("HTTP_AUTHORIZATION", True),
        ("HTTP_COOKIE", True),
        ("HTTP_PROXY_AUTHORIZATION", True),
        ("set-cookie2", False),
        ("x-authorization-hint", False),
    ],
)
def test_secret_fields(name, secret):
    assert is_secret_field(name) is secret


def test_debug_page_escapes_and_redacts():
    call = Call(
        method="POST",
        path="/<script>/x&y.json",
        query="a=<b>&c=\"'",
        headers=[
            ("authorization", "Digest secret-token"),
            ("cookie", "session=topsecret"),
            ("x-evil", "<img src=x onerror=alert(1)>"),
        ],
        body=b"12345",
        user="<bob>",
    )
    response = render_debug_page("echo <t>", call, [("HTTP_COOKIE", "leak"), ("P", "<p>")])
    page = response.body.decode()
    assert response.content_type.startswith("text/html")
    assert "no-cache" in (response.get_header("cache-control") or "")
    for raw in ("<script>", "<b>", "<img", "<bob>", "<t>", "<p>"):
        assert raw not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;script&gt;" in page and "x&amp;y.json" in page
    assert "secret-token" not in page and "topsecret" not in page and "leak" not in page
    assert page.count(HIDDEN) == 3
    assert "5 bytes" in page


def test_clf_line_format():
    line = clf_line("127.0.0.1", None, 0, 'GET /a"b HTTP/1.1', 200, 1234)
    assert re.fullmatch(
        r"127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "
        r'"GET /a\\x22b HTTP/1\.1" 200 1234',
        line,
    ), line
    assert clf_line("-", "alice", 0, "GET / HTTP/1.1", 404, 0).endswith('" 404 -')
    assert " - alice [" in clf_line("-", "alice", 0, "GET / HTTP/1.1", 404, 0)


def test_access_log_file_only_gets_its_own_lines(tmp_path):
    first = AccessLog(str(tmp_path / "a.log"))
    second = AccessLog(str(tmp_path / "b.log"))
    logger = logging.getLogger("trioserve.access")
    try:
        first.log("1.2.3.4", None, "GET /a HTTP/1.1", 200, 5)
        second.log("5.6.7.8", None, "GET /b HTTP/1.1", 404, None)
    finally:
        first.close()
        second.close()
    assert (tmp_path / "a.log").read_text().count("\n") == 1
    assert "GET /a" in (tmp_path / "a.log").read_text()
    assert "GET /b" in (tmp_path / "b.log").read_text()
    assert "GET /a" not in (tmp_path / "b.log").read_text()
    assert not logger.handlers
