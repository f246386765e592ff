"""Answers the engine gives before reading a body keep the connection when there is no body.

A 401 challenge, ``OPTIONS *`` and a CORS preflight answered to a request *without* a body
must not close the connection (issue 10, item 11): only a body left unread on the wire
forces ``Connection: close``. Requests that do carry a body keep being closed after an
early refusal (tests/engines/test_http_engine.py covers that side).
"""

from __future__ import annotations

import trio

from trioserve.call import Call, Response

from .test_http_support import RawClient, request, running


class _Challenger:
    """Refuses anything without ``Authorization: ok`` with a digest-style 401."""

    def check(self, call: Call, now: float) -> Response | None:
        if call.header("authorization") == "ok":
            call.user = "alice"
            return None
        response = Response(status=401, body=b'{"error": "unauthorized"}')
        response.headers.append(("WWW-Authenticate", 'Digest realm="r"'))
        return response


async def _then_still_served(client: RawClient) -> None:
    await client.send(request("/after", headers="Authorization: ok\r\n"))
    after = await client.response()
    assert after.status == 200
    assert after.json()["path"] == "/after"


async def test_a_401_to_a_bodiless_request_keeps_the_connection() -> None:
    async with running(make_authenticator=lambda spec: _Challenger()) as address:
        client = await RawClient.open(address)
        with trio.fail_after(3):
            # h11's path (an unusual header), and the fast path (a plain GET)
            for head in (
                b"GET /x HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
                b"DELETE /x HTTP/1.1\r\nHost: t\r\n\r\n",
                request("/x"),
            ):
                await client.send(head)
                reply = await client.response()
                assert reply.status == 401
                assert "connection" not in reply.headers
            await _then_still_served(client)
        await client.aclose()


async def test_options_star_keeps_the_connection() -> None:
    async with running(make_authenticator=lambda spec: _Challenger()) as address:
        client = await RawClient.open(address)
        with trio.fail_after(3):
            await client.send(b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n")
            reply = await client.response()
            assert reply.status == 204
            assert "connection" not in reply.headers
            await _then_still_served(client)
        await client.aclose()


async def test_a_cors_preflight_keeps_the_connection() -> None:
    async with running(
        cors=lambda: "https://x.org", make_authenticator=lambda spec: _Challenger()
    ) as address:
        client = await RawClient.open(address)
        with trio.fail_after(3):
            await client.send(
                b"OPTIONS /a/root.json HTTP/1.1\r\nHost: t\r\nOrigin: https://x.org\r\n"
                b"Access-Control-Request-Method: GET\r\n\r\n"
            )
            reply = await client.response()
            assert reply.status == 204
            assert reply.headers["access-control-allow-origin"] == "https://x.org"
            assert "connection" not in reply.headers
            await _then_still_served(client)
        await client.aclose()


async def test_an_early_refusal_of_a_body_still_closes() -> None:
    async with running(make_authenticator=lambda spec: _Challenger()) as address:
        client = await RawClient.open(address)
        with trio.fail_after(3):
            await client.send(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
            reply = await client.response()
            assert reply.status == 401
            assert reply.headers["connection"] == "close"  # the body was left unread
            assert await client.is_closed()
