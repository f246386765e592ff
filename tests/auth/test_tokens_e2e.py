"""Access tokens over real sockets: HTTP with and without digest, a unix socket, FastCGI,
websockets (trio-websocket) and long-poll; the scope in h.json and multi.json; the access log.

Expiry is tested on the server's injected clock (``server.tokens.clock``), never by sleeping.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trio
import trio_websocket

from tests.conftest import Sample
from tests.engines.test_fastcgi_engine import RawClient, params_for
from tests.ws.conftest import TIMEOUT, Recorder
from trioserve import Server

REALM = "tok-realm"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Served:
    server: Server
    clock: Clock
    http: str  # no authentication
    digest: str  # digest required
    sock: str  # unix socket path
    fastcgi: tuple[str, int]
    hists: Recorder
    other: Recorder

    def token(self, lifetime: float = 600, paths: list[str] | None = None) -> str:
        return self.server.create_token("alice", lifetime=lifetime, paths=paths)


@pytest.fixture
async def served(nursery: trio.Nursery, short_tmp: Path) -> AsyncIterator[Served]:
    passwords = short_tmp / "htdigest"
    ha1 = hashlib.md5(f"bob:{REALM}:pw".encode()).hexdigest()
    passwords.write_text(f"bob:{REALM}:{ha1}\n")
    server = Server(readonly=False)
    clock = Clock()
    server.tokens.clock = clock
    server.register("/Objects/hists", Sample(name="hpx"), name="hpx")
    server.register("/Objects/hists", Sample(name="hidden"), name="secret")
    server.register("/Objects/other", Sample(name="other"), name="hpy")
    server.restrict("/Objects/hists/secret", "hidden=alice")
    hists, other = Recorder("rec"), Recorder("rec")
    server.register("/Objects/hists", hists)
    server.register("/Objects/other", other)
    sock = str(short_tmp / "s.sock")
    await nursery.start(
        server.serve,
        f"http:127.0.0.1:0;http:127.0.0.1:0?auth_file={passwords}&auth_domain={REALM}"
        f";socket:{sock};fastcgi:127.0.0.1:0",
    )
    (h1, p1), (h2, p2) = server.addresses[0][:2], server.addresses[1][:2]
    yield Served(
        server,
        clock,
        f"http://{h1}:{p1}",
        f"http://{h2}:{p2}",
        sock,
        server.addresses[3][:2],
        hists,
        other,
    )


async def get(url: str, **kw: object) -> httpx.Response:
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        return await client.get(url, **kw)  # type: ignore[arg-type]


async def test_query_and_bearer_tokens_on_http_with_and_without_digest(served: Served) -> None:
    token = served.token(paths=["/Objects/hists"])
    for base in (served.http, served.digest):
        ok = await get(f"{base}/Objects/hists/hpx/root.json?token={token}")
        assert ok.status_code == 200 and ok.json()["name"] == "hpx"
        bearer = await get(
            f"{base}/Objects/hists/hpx/root.json", headers={"Authorization": f"Bearer {token}"}
        )
        assert bearer.status_code == 200
        # outside the token's paths: answered as a missing item, never 401 or 403
        for outside in ("/Objects/other/hpy/root.json", "/Objects/hists/secret/root.json"):
            refused = await get(f"{base}{outside}?token={token}")
            missing = await get(f"{base}/Objects/hists/nothing/root.json?token={token}")
            assert refused.status_code == missing.status_code == 404
            assert refused.json()["error"] == missing.json()["error"]
    # without a token the digest engine still asks for a password
    assert (await get(f"{served.digest}/h.json")).status_code == 401


async def test_refusals_expired_tampered_revoked(served: Served) -> None:
    token = served.token(lifetime=60)
    revoked = served.token()
    served.server.revoke_token(revoked)
    for base in (served.http, served.digest):
        for bad in (token[:-3] + "AAA", revoked, "nonsense"):
            refused = await get(f"{base}/h.json?token={bad}")
            assert refused.status_code == 401
            assert refused.json()["error"] == "token_invalid"
            assert bad not in refused.text
            assert refused.headers["www-authenticate"].startswith("Bearer ")
    assert (await get(f"{served.http}/h.json?token={token}")).status_code == 200
    served.clock.now += 60
    for base in (served.http, served.digest):
        expired = await get(f"{base}/h.json", headers={"Authorization": f"Bearer {token}"})
        assert expired.status_code == 401 and expired.json()["error"] == "token_expired"


async def test_hierarchy_and_multi_stay_inside_the_scope(served: Served) -> None:
    token = served.token(paths=["/Objects/hists"])
    listing = (await get(f"{served.http}/h.json?token={token}")).json()
    text = json.dumps(listing)
    assert "hpx" in text and "hists" in text
    assert "other" not in text and "hpy" not in text and "secret" not in text
    assert (await get(f"{served.http}/Objects/other/h.json?token={token}")).status_code == 404
    lines = ("hists/hpx", "other/hpy", "hists/secret")
    body = "".join(f"Objects/{line}/root.json\n" for line in lines).encode()
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        multi = await client.post(f"{served.http}/multi.json?number=3&token={token}", content=body)
    assert multi.status_code == 200
    first, second, third = multi.json()
    assert first["name"] == "hpx" and second is None and third is None
    # exe.json outside, and cmd-like actions on the way there, are refused
    exe = await get(f"{served.http}/Objects/other/hpy/exe.json?method=describe&token={token}")
    assert exe.status_code == 404
    inside = await get(f"{served.http}/Objects/hists/hpx/exe.json?method=describe&token={token}")
    assert inside.status_code == 200 and inside.json() == "hpx:7"


async def test_unix_socket_and_fastcgi(served: Served) -> None:
    token = served.token(paths=["/Objects/hists"])
    transport = httpx.AsyncHTTPTransport(uds=served.sock)
    async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
        ok = await client.get(f"http://local/Objects/hists/hpx/root.json?token={token}")
        out = await client.get(f"http://local/Objects/other/hpy/root.json?token={token}")
        bad = await client.get(f"http://local/h.json?token={token}x")
    assert (ok.status_code, out.status_code, bad.status_code) == (200, 404, 401)
    client_ = await RawClient.connect(served.fastcgi)
    try:
        with trio.fail_after(TIMEOUT):
            ok_f = await client_.get(
                1, params_for("/Objects/hists/hpx/root.json", query=f"token={token}")
            )
            out_f = await client_.get(
                2, params_for("/Objects/other/hpy/root.json", query=f"token={token}")
            )
            served.clock.now += 601
            late = await client_.get(3, params_for("/h.json", query=f"token={token}"))
    finally:
        RawClient.opened.remove(client_)
        await client_.aclose()
    assert ok_f.status == 200 and ok_f.json()["name"] == "hpx"
    assert out_f.status == 404
    assert late.status == 401 and late.json()["error"] == "token_expired"


async def test_websockets_and_long_poll_with_a_token(served: Served) -> None:
    token = served.token(paths=["/Objects/hists"])
    host = served.http.removeprefix("http://")
    for base in (host, served.digest.removeprefix("http://")):
        url = f"ws://{base}/Objects/hists/rec/root.websocket?token={token}"
        with trio.fail_after(TIMEOUT):
            async with trio_websocket.open_websocket_url(url) as ws:
                await ws.send_message("hi")
                assert await ws.get_message() == "hi"
        request = served.hists.requests[-1]
        assert request.user == "alice"
        assert token not in repr(request)  # the handler never holds the token
        with trio.fail_after(TIMEOUT):
            with pytest.raises(trio_websocket.ConnectionRejected) as outside:
                async with trio_websocket.open_websocket_url(
                    f"ws://{base}/Objects/other/rec/root.websocket?token={token}"
                ):
                    pass
            assert outside.value.status_code == 404
            with pytest.raises(trio_websocket.ConnectionRejected) as bad:
                async with trio_websocket.open_websocket_url(url + "x"):
                    pass
            assert bad.value.status_code == 401
    assert served.other.requests == []
    connect = await get(f"{served.http}/Objects/hists/rec/root.longpoll?txt_connect&token={token}")
    assert connect.status_code == 200 and int(connect.text) > 0
    outside_lp = await get(
        f"{served.http}/Objects/other/rec/root.longpoll?txt_connect&token={token}"
    )
    assert outside_lp.status_code == 404


async def test_the_access_log_never_holds_the_token(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    token = served.token(paths=["/Objects/hists"])
    with caplog.at_level(logging.INFO):
        assert (await get(f"{served.http}/h.json?compact=1&token={token}")).status_code == 200
        assert (await get(f"{served.digest}/h.json?token={token}x")).status_code == 401
        async with trio_websocket.open_websocket_url(
            f"ws://{served.http.removeprefix('http://')}/Objects/hists/rec/root.websocket?token={token}"
        ):
            pass
        # the access line is written once the reply went out: wait for it, not for a time
        with trio.fail_after(TIMEOUT):
            while sum(r.name == "trioserve.access" for r in caplog.records) < 3:
                await trio.sleep(0.01)
    access = [r.getMessage() for r in caplog.records if r.name == "trioserve.access"]
    assert any("/h.json?compact=1&token=(hidden) " in line and " alice " in line for line in access)
    ours = [r for r in caplog.records if r.name.startswith("trioserve")]  # not httpx's own
    assert len(ours) >= 4 and all(token[:40] not in r.getMessage() for r in ours)


async def test_an_engine_without_an_authenticator_is_covered_by_the_dispatcher_and_the_hook(
    served: Served, nursery: trio.Nursery
) -> None:
    """An engine built from a bare context (no ``make_authenticator``): the dispatcher judges
    the token of a plain request, the websocket hook that of an upgrade."""
    from trioserve.engines.base import EngineContext
    from trioserve.engines.http import serve_http
    from trioserve.spec import parse_engine_spec

    server = served.server
    ctx = EngineContext(
        handle=server.dispatcher.handle, websocket=server.dispatcher.websocket_hook()
    )
    host, port = (await nursery.start(serve_http, ctx, parse_engine_spec("http:127.0.0.1:0")))[:2]
    token = served.token(paths=["/Objects/hists"])
    assert (await get(f"http://{host}:{port}/Objects/hists/hpx/root.json?token={token}")).json()[
        "name"
    ] == "hpx"
    assert (await get(f"http://{host}:{port}/h.json?token=x")).status_code == 401
    url = f"ws://{host}:{port}/Objects/hists/rec/root.websocket?token={token}"
    with trio.fail_after(TIMEOUT):
        async with trio_websocket.open_websocket_url(url) as ws:
            await ws.send_message("hi")
            assert await ws.get_message() == "hi"
        assert served.hists.requests[-1].user == "alice"
        with pytest.raises(trio_websocket.ConnectionRejected) as refused:
            async with trio_websocket.open_websocket_url(url + "x"):
                pass
    assert refused.value.status_code == 401
    assert b"token_invalid" in (refused.value.body or b"")


async def test_a_page_opened_with_a_token_keeps_it_in_a_cookie(served: Served) -> None:
    """The link ``trioserve demo --token`` prints must work in a browser: the page's modules
    and data requests carry no token, so the page's reply sets an HttpOnly, SameSite=Strict
    cookie that is judged like the token (and refused like it once expired)."""
    served.server.restrict("/", "hidden=anonymous")
    token = served.token(lifetime=600)
    async with httpx.AsyncClient(base_url=served.http) as client:
        assert (await client.get("/tsui.mjs")).status_code == 404
        page = await client.get("/", params={"token": token})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        cookie = page.headers["set-cookie"]
        assert cookie.startswith(f"trioserve_token={token}; Path=/; Max-Age=600; ")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert token not in page.text  # the page itself never echoes the token
        # the client now holds the cookie: the page's module and its data answer
        assert (await client.get("/tsui.mjs")).status_code == 200
        listing = await client.get("/h.json")
        assert listing.status_code == 200 and "hpx" in listing.text
        # a JSON reply to ?token= sets no cookie: scripts keep using the token itself
        data = await client.get("/Objects/hists/hpx/root.json", params={"token": token})
        assert data.status_code == 200 and "set-cookie" not in data.headers
    forged_cookie = {"trioserve_token": token[:-2] + "xx"}
    async with httpx.AsyncClient(base_url=served.http, cookies=forged_cookie) as other:
        forged = await other.get("/h.json")
        assert forged.status_code == 401 and forged.json()["error"] == "token_invalid"
    served.clock.now += 601
    async with httpx.AsyncClient(base_url=served.http, cookies={"trioserve_token": token}) as late:
        expired = await late.get("/h.json")
        assert expired.status_code == 401 and expired.json()["error"] == "token_expired"
