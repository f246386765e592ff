"""The HTTP engine over real TCP sockets: framing, limits, malformed input, streaming."""

from __future__ import annotations

import re
import socket

import pytest
import trio

from trioserve.call import Call, Response
from trioserve.engines.base import EngineContext
from trioserve.engines.http import serve_http
from trioserve.spec import EngineSpec

from .test_http_support import (
    BIG_SIZE,
    SERVER,
    RawClient,
    connect,
    echo,
    request,
    running,
)


async def test_keepalive_pipelining_and_standard_headers():
    async with running() as address:
        client = await RawClient.open(address)
        with trio.fail_after(5):
            await client.send(request("/a/root.json?x=1") + request("/b%20c/h.json?compact=3"))
            first = await client.response()
            second = await client.response()
            await client.send(request("/third"))
            third = await client.response()
        assert (first.status, first.reason) == (200, "OK")
        assert first.json()["path"] == "/a/root.json"
        assert first.json()["query"] == "x=1"
        assert second.json()["path"] == "/b c/h.json"
        assert second.json()["query"] == "compact=3"
        assert third.json()["path"] == "/third"
        assert first.json()["engine"] == "http"
        assert first.json()["peer"] == "127.0.0.1"
        assert ["host", "test"] in first.json()["headers"]
        for reply in (first, second, third):
            assert re.fullmatch(
                r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", reply.headers["date"]
            )
            assert reply.headers["server"] == SERVER
            assert reply.headers["content-length"] == str(len(reply.body))
            assert reply.headers["content-type"] == "application/json"
            assert "connection" not in reply.headers
        await client.aclose()


async def test_head_has_get_headers_and_no_body():
    async with running() as address:
        client = await RawClient.open(address)
        with trio.fail_after(5):
            await client.send(request("/x", method="GET"))
            get = await client.response()
            await client.send(request("/x", method="HEAD") + request("/after"))
            head = await client.response(head=True)
            after = await client.response()
        assert head.status == 200
        assert head.body == b""
        # the echo differs only by method name, so the length differs by len("HEAD")-len("GET")
        assert int(head.headers["content-length"]) == len(get.body) + 1
        assert after.json()["path"] == "/after"  # nothing stray was sent after the HEAD answer


async def test_head_of_streamed_body_sends_length_without_body():
    async with running() as address:
        client = await RawClient.open(address)
        with trio.fail_after(5):
            await client.send(request("/big", method="HEAD") + request("/next"))
            head = await client.response(head=True)
            following = await client.response()
        assert head.headers["content-length"] == str(BIG_SIZE)
        assert following.json()["path"] == "/next"


async def test_unknown_length_stream_is_chunked():
    async with running() as address:
        client = await RawClient.open(address)
        with trio.fail_after(5):
            await client.send(request("/stream"))
            reply = await client.response()
        assert reply.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in reply.headers
        assert reply.body == b"x" * 3000


async def test_chunked_request_body():
    async with running() as address:
        client = await RawClient.open(address)
        with trio.fail_after(5):
            await client.send(
                b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n" + request("/next")
            )
            reply = await client.response()
            following = await client.response()
        assert reply.json()["body"] == "hello world"
        assert following.json()["path"] == "/next"


async def test_expect_100_continue():
    async with running() as address:
        client = await RawClient.open(address)
        with trio.fail_after(5):
            await client.send(
                b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
            )
            interim = await client.response()
            assert (interim.status, interim.reason) == (100, "Continue")
            await client.send(b"data")
            reply = await client.response()
        assert reply.json()["body"] == "data"


async def test_expect_100_refused_by_size_gets_final_status_only():
    async with running({"max_body": "10"}) as address:
        client = await RawClient.open(address)
        with trio.fail_after(5):
            await client.send(
                b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n"
                b"Expect: 100-continue\r\n\r\n"
            )
            reply = await client.response()
            assert await client.is_closed()
        assert (reply.status, reply.reason) == (413, "Content Too Large")
        assert reply.json()["error"] == "body_too_large"
        assert reply.headers["connection"] == "close"


async def check_refused(address, data: bytes, status: int, code: str | None = None) -> None:
    client = await RawClient.open(address)
    with trio.fail_after(5):
        await client.send(data)
        reply = await client.response()
        assert reply.status == status, reply
        assert reply.headers["connection"] == "close"
        assert reply.headers["content-type"] == "application/json"
        assert reply.json()["status"] == status
        if code:
            assert reply.json()["error"] == code
        assert await client.is_closed()
    await client.aclose()


async def test_limits():
    options = {"max_header_bytes": "1000", "max_url_length": "200", "max_body": "100"}
    async with running(options) as address:
        await check_refused(address, request(headers="X-Big: " + "v" * 1200 + "\r\n"), 431)
        # a header block that never ends is refused as soon as it crosses the limit
        await check_refused(address, request()[:-2] + b"X: " + b"v" * 3000, 431)
        await check_refused(address, request("/" + "a" * 300), 414)
        await check_refused(address, b"GET /" + b"a" * 3000, 414)  # no line end yet
        await check_refused(address, request("/up", "POST", body=b"z" * 101), 413)
        await check_refused(
            address,
            b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"40\r\n"
            + b"z" * 64
            + b"\r\n"
            + b"40\r\n",
            413,
        )
        # exactly at the limits is fine
        client = await RawClient.open(address)
        with trio.fail_after(5):
            await client.send(request("/" + "a" * 199, "POST", body=b"z" * 100))
            assert (await client.response()).status == 200


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"0\r\n\r\n",
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
            b"abc",
            400,
        ),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;" + b"e" * 2000 + b"\r\nhello\r\n0\r\n\r\n",
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"11111111111111111\r\n",
            400,
        ),
        (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: bad host\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
        (b"GET /%00 HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        (b"GET /%ff%fe HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        (b"GET /a%0d%0aSet-Cookie:x HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        (b"GET x HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),  # a TLS client hello
        (b"\x00\xff\xfe garbage \r\n\r\n", 400),
        (b"HELLO\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400),
        (b"GET / HTTP/9.9\r\nHost: t\r\n\r\n", 505),
        # the HTTP/2 preface is served as HTTP/2 now; with http2=0 it is still a 505
        # (tests/engines/test_h2_e2e.py::test_http2_off)
    ],
)
async def test_malformed_requests_are_refused_and_closed(data, status):
    async with running() as address:
        await check_refused(address, data, status)


async def test_header_timeout_with_a_slow_client():
    async with running({"header_timeout": "0.5"}) as address:
        client = await RawClient.open(address)
        start = trio.current_time()
        replies = []

        async def trickle() -> None:
            # one byte every 0.1 s: the head would take ~3 s, the limit is 0.5 s
            try:
                for byte in request():
                    await client.send(bytes([byte]))
                    await trio.sleep(0.1)
            except trio.BrokenResourceError:
                pass

        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(trickle)
                replies.append(await client.response())
                nursery.cancel_scope.cancel()
            assert await client.is_closed()
        assert (replies[0].status, replies[0].reason) == (408, "Request Timeout")
        assert trio.current_time() - start < 2.0


async def test_body_timeout():
    async with running({"body_timeout": "0.3"}) as address:
        client = await RawClient.open(address)
        with trio.fail_after(3):
            await client.send(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab")
            reply = await client.response()
            assert await client.is_closed()
        assert reply.status == 408 and reply.json()["error"] == "request_timeout"


async def test_connection_without_request_is_closed_after_header_timeout():
    async with running({"header_timeout": "0.3"}) as address:
        client = await RawClient.open(address)
        with trio.fail_after(3):
            assert await client.read_to_eof() == b""


async def test_keepalive_idle_timeout():
    async with running({"keepalive_timeout": "0.3"}) as address:
        client = await RawClient.open(address)
        with trio.fail_after(3):
            await client.send(request())
            assert (await client.response()).status == 200
            start = trio.current_time()
            assert await client.read_to_eof() == b""
        assert 0.2 < trio.current_time() - start < 2.0


async def test_close_after_connection_close_request_and_response_close():
    async with running() as address:
        client = await RawClient.open(address)
        with trio.fail_after(3):
            await client.send(request(headers="Connection: close\r\n"))
            reply = await client.response()
            assert reply.headers["connection"] == "close"
            assert await client.is_closed()
        client = await RawClient.open(address)
        with trio.fail_after(3):
            await client.send(request("/close"))
            reply = await client.response()
            assert reply.headers["connection"] == "close"
            assert await client.is_closed()


async def test_http10_client_is_served_and_closed():
    async with running() as address:
        client = await RawClient.open(address)
        with trio.fail_after(3):
            await client.send(b"GET /old HTTP/1.0\r\n\r\n")
            reply = await client.response()
            assert reply.json()["path"] == "/old"
            assert await client.is_closed()


async def test_handler_error_is_500_json_without_traceback():
    async with running() as address:
        client = await RawClient.open(address)
        with trio.fail_after(3):
            await client.send(request("/boom") + request("/after"))
            reply = await client.response()
            after = await client.response()
        assert (reply.status, reply.reason) == (500, "Internal Server Error")
        assert reply.json()["error"] == "internal_error"
        assert b"exploded" not in reply.body and b"Traceback" not in reply.body
        assert after.status == 200


async def test_invalid_response_headers_become_500():
    async def bad(call: Call) -> Response:
        return Response(body=b"{}", headers=[("X-Split", "a\r\nInjected: 1")])

    async with running(handle=bad) as address:
        client = await RawClient.open(address)
        with trio.fail_after(3):
            await client.send(request())
            reply = await client.response()
        assert reply.status == 500
        assert "injected" not in reply.headers


async def test_client_disconnecting_mid_body_does_not_disturb_others():
    async with running() as address:
        quitter = await RawClient.open(address)
        other = await RawClient.open(address)
        with trio.fail_after(5):
            await other.send(request("/first"))
            assert (await other.response()).status == 200
            await quitter.send(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nabc")
            await trio.sleep(0.05)
            await quitter.aclose()
            await trio.sleep(0.05)
            await other.send(request("/second"))
            assert (await other.response()).json()["path"] == "/second"


async def test_slow_reader_of_5mb_only_blocks_itself():
    async with running() as address:
        slow_stream = await connect(address)
        slow_stream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        slow = RawClient(slow_stream)
        fast = await RawClient.open(address)
        with trio.fail_after(20):
            await slow.send(request("/big"))
            received = 0
            latencies = []
            for round_number in range(20):
                data = await slow_stream.receive_some(16384)
                received += len(data)
                await trio.sleep(0.01)
                start = trio.current_time()
                await fast.send(request(f"/fast{round_number}"))
                assert (await fast.response()).status == 200
                latencies.append(trio.current_time() - start)
            assert max(latencies) < 0.5
            assert received < BIG_SIZE // 4  # still reading slowly
            while received < BIG_SIZE + 100:  # then drain the rest, head included
                data = await slow_stream.receive_some(65536)
                if not data:
                    break
                received += len(data)
                if slow_stream and received > BIG_SIZE:
                    break
        assert received > BIG_SIZE


async def test_stalled_reader_does_not_make_the_server_buffer_the_body():
    produced = 0
    size = 32 * 1024 * 1024

    async def huge(call: Call) -> Response:
        async def body():
            nonlocal produced
            while produced < size:
                produced += 65536
                yield b"y" * 65536

        return Response(body=body(), content_length=size)

    async with running(handle=huge) as address:
        stream = await connect(address)
        stream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        with trio.fail_after(5):
            await stream.send_all(request("/huge"))
            await stream.receive_some(1024)
            await trio.sleep(0.5)
        # only what the kernel's socket buffers hold (a few MB) was produced, not 32 MB
        assert produced < 12 * 1024 * 1024
        await stream.aclose()


async def test_write_timeout_drops_a_client_that_never_reads(caplog):
    caplog.set_level("INFO", logger="trioserve.http")
    async with running({"write_timeout": "0.3"}) as address:
        stream = await connect(address)
        stream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        with trio.fail_after(5):
            await stream.send_all(request("/big"))
            while "write timeout" not in caplog.text:
                await trio.sleep(0.05)
            other = await RawClient.open(address)
            await other.send(request())
            assert (await other.response()).status == 200
        await stream.aclose()
    assert "dropped connection from 127.0.0.1: write timeout" in caplog.text


async def test_max_connections_makes_extra_clients_wait_for_a_slot():
    async with running({"max_connections": "2", "header_timeout": "3"}) as address:
        first = await RawClient.open(address)
        second = await RawClient.open(address)
        with trio.fail_after(5):
            # two busy connections: each has sent half a request head
            await first.send(b"GET /one HTTP/1.1\r\n")
            await second.send(b"GET /two HTTP/1.1\r\n")
            await trio.sleep(0.1)
            third = await RawClient.open(address)  # the kernel backlog accepts it
            await third.send(request("/three"))
            with trio.move_on_after(0.3) as waited:
                await third.response()
            assert waited.cancelled_caught  # not served while both slots are busy
            await first.send(b"Host: t\r\n\r\n")
            reply = await first.response()
            assert reply.json()["path"] == "/one"
            # a client is waiting: the slot is handed over instead of kept alive
            assert reply.headers["connection"] == "close"
            assert await first.is_closed()
            assert (await third.response()).json()["path"] == "/three"


async def test_max_connections_sheds_idle_keepalive_connections():
    async with running({"max_connections": "2"}) as address:
        idle = [await RawClient.open(address) for _ in range(2)]
        with trio.fail_after(5):
            for client in idle:
                await client.send(request())
                assert (await client.response()).headers.get("connection") is None
            await trio.sleep(0.6)  # both are now idle keep-alive connections
            newcomer = await RawClient.open(address)
            await newcomer.send(request("/new"))
            assert (await newcomer.response()).json()["path"] == "/new"
            closed = [await client.is_closed(0.5) for client in idle]
        assert closed.count(True) >= 1


async def test_port_in_use_raises_before_started():
    async with running() as address:
        spec = EngineSpec(kind="http", host="127.0.0.1", port=address[1])
        ctx = EngineContext(handle=echo)
        with trio.fail_after(3):
            async with trio.open_nursery() as nursery:
                with pytest.raises(OSError) as info:
                    await nursery.start(serve_http, ctx, spec)
        assert info.value.errno is not None


async def test_cors_preflight_answered_only_when_configured():
    preflight = request(
        "/obj/root.json",
        "OPTIONS",
        headers="Origin: https://x.org\r\nAccess-Control-Request-Method: POST\r\n"
        "Access-Control-Request-Headers: x-custom\r\n",
    )
    async with running(cors=lambda: "https://x.org") as address:
        client = await RawClient.open(address)
        with trio.fail_after(3):
            await client.send(preflight)
            reply = await client.response()
        assert (reply.status, reply.reason) == (204, "No Content")
        assert reply.headers["access-control-allow-origin"] == "https://x.org"
        assert "POST" in reply.headers["access-control-allow-methods"]
        assert reply.headers["access-control-allow-headers"] == "x-custom"
        assert int(reply.headers["access-control-max-age"]) > 0
        assert reply.headers["vary"] == "Origin"
        assert "content-length" not in reply.headers
    async with running() as address:
        client = await RawClient.open(address)
        with trio.fail_after(3):
            await client.send(preflight)
            reply = await client.response()
        assert reply.status == 200
        assert reply.json()["method"] == "OPTIONS"  # went to the dispatcher


async def test_debug_page_escapes_and_hides_credentials():
    async with running({"debug": ""}) as address:
        client = await RawClient.open(address)
        with trio.fail_after(3):
            await client.send(
                request(
                    "/%3Cscript%3E/root.json?q=%3Cb%3E<i>",
                    headers="Authorization: Digest username=secretuser\r\n"
                    "Cookie: sid=secretcookie\r\nX-Evil: <img src=x onerror=alert(1)>\r\n",
                )
            )
            reply = await client.response()
        page = reply.body.decode()
        assert reply.headers["content-type"].startswith("text/html")
        assert "no-cache" in reply.headers["cache-control"]
        assert "<script>" not in page and "<img" not in page and "<i>" not in page
        assert "&lt;script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
        assert "secretuser" not in page and "secretcookie" not in page
        assert page.count("(hidden)") == 2


class _Refuser:
    """An authenticator that lets requests with ``Authorization: ok`` through as ``alice``."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def check(self, call: Call, now: float) -> Response | None:
        self.seen.append(call.path)
        if call.header("authorization") == "ok":
            call.user = "alice"
            return None
        response = Response(status=401, body=b'{"error": "unauthorized"}')
        response.headers.append(("WWW-Authenticate", 'Digest realm="r"'))
        return response


async def test_authentication_runs_first_and_refuses_without_100_continue():
    auth = _Refuser()
    async with running(make_authenticator=lambda spec: auth) as address:
        client = await RawClient.open(address)
        with trio.fail_after(3):
            await client.send(request("/x", headers="Authorization: ok\r\n"))
            assert (await client.response()).json()["user"] == "alice"
            await client.send(
                b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
            )
            reply = await client.response()
            assert reply.status == 401  # no "100 Continue" came first
            assert reply.headers["www-authenticate"] == 'Digest realm="r"'
            assert reply.headers["connection"] == "close"  # the body was never read
            assert await client.is_closed()
        assert auth.seen == ["/x", "/up"]


async def test_websocket_hand_over():
    handed: list[tuple[str, bytes, str | None]] = []

    async def hook(call: Call, stream: trio.abc.Stream, trailing: bytes) -> None:
        handed.append((call.path, trailing, call.user))
        await stream.send_all(b"HTTP/1.1 101 Switching Protocols\r\n\r\nhello")
        assert await stream.receive_some(100) == b"ping"
        await stream.send_all(b"pong")

    upgrade = (
        b"GET /h/root.websocket?x=1 HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nAuthorization: ok\r\n\r\nEARLY"
    )
    async with running(websocket=hook, make_authenticator=lambda spec: _Refuser()) as address:
        client = await RawClient.open(address)
        with trio.fail_after(3):
            await client.send(upgrade)
            while b"hello" not in client.buffer:
                await client._fill()
            await client.send(b"ping")
            while b"pong" not in client.buffer:
                await client._fill()
            assert await client.is_closed()  # the engine closes when the hook returns
        assert handed == [("/h/root.websocket", b"EARLY", "alice")]
        # not authenticated: refused before the hook
        client = await RawClient.open(address)
        with trio.fail_after(3):
            await client.send(upgrade.replace(b"Authorization: ok\r\n", b""))
            assert (await client.response()).status == 401
        assert len(handed) == 1
    async with running() as address:  # no hook: 404
        client = await RawClient.open(address)
        with trio.fail_after(3):
            await client.send(upgrade.replace(b"EARLY", b""))
            reply = await client.response()
        assert reply.status == 404 and reply.json()["error"] == "not_found"


async def test_access_log_file(tmp_path):
    log_file = tmp_path / "access.log"
    async with running({"log": str(log_file)}) as address:
        client = await RawClient.open(address)
        with trio.fail_after(3):
            await client.send(
                request("/a/root.json?x=1", headers="Authorization: Digest secret\r\n")
                + request("/missing%20x", method="HEAD")
            )
            first = await client.response()
            await client.response(head=True)
        await client.aclose()
    lines = log_file.read_text().splitlines()
    pattern = (
        r"127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "
        r'"(GET /a/root\.json\?x=1|HEAD /missing%20x) HTTP/1\.1" 200 (\d+|-)'
    )
    assert len(lines) == 2
    assert all(re.fullmatch(pattern, line) for line in lines), lines
    assert lines[0].endswith(f" 200 {len(first.body)}")
    assert lines[1].endswith(" 200 -")
    assert "secret" not in log_file.read_text()


async def test_shutdown_closes_idle_promptly_and_lets_requests_finish():
    spec = EngineSpec(kind="http", port=0, options={"grace": "2"})
    async with trio.open_nursery() as engine_nursery:
        address = await engine_nursery.start(serve_http, EngineContext(handle=echo), spec)
        idle = await RawClient.open(address)
        busy = await RawClient.open(address)
        with trio.fail_after(5):
            await idle.send(request())
            assert (await idle.response()).status == 200
            await busy.send(request("/sleep?t=0.4"))
            await trio.sleep(0.1)
            start = trio.current_time()
            engine_nursery.cancel_scope.cancel()
    elapsed = trio.current_time() - start
    with trio.fail_after(3):
        assert await idle.is_closed(0.5)
        reply = await busy.response()  # finished within the grace period
        assert reply.json()["path"] == "/sleep"
        assert reply.headers["connection"] == "close"
    assert elapsed < 1.5
    with pytest.raises(OSError):  # the listener is closed
        await trio.open_tcp_stream(*address)


async def test_shutdown_grace_is_bounded():
    async with trio.open_nursery() as engine_nursery:
        spec = EngineSpec(kind="http", port=0, options={"grace": "0.2"})
        address = await engine_nursery.start(serve_http, EngineContext(handle=echo), spec)
        client = await RawClient.open(address)
        await client.send(request("/sleep?t=30"))
        await trio.sleep(0.1)
        start = trio.current_time()
        engine_nursery.cancel_scope.cancel()
    assert trio.current_time() - start < 1.0
    with trio.fail_after(2):
        assert await client.is_closed()
