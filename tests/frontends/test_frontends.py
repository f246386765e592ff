"""trioserve's FastCGI engine behind real Apache 2.4 (mod_proxy_fcgi), real lighttpd and
real nginx (ngx_http_fastcgi_module).

Every configuration is rendered from the snippets in ``config/`` (see harness.py):

* ``apache-userguide``: ROOT's user-guide line, ``ProxyPass "/root.app/"
  "fcgi://localhost:PORT/" enablereuse=on``, nothing else;
* ``apache-tcp`` / ``apache-unix``: our recommended "proxy" section over TCP / unix socket;
* ``apache-generic``: the same with ``ProxyFCGIBackendType GENERIC``;
* ``lighttpd-tcp`` / ``lighttpd-unix``: ``"/root.app" => ((... "check-local" => "disable"``;
* ``nginx-tcp`` / ``nginx-unix``: our "location" section (``include fastcgi_params``,
  ``fastcgi_split_path_info``, an upstream with keepalive, ``fastcgi_keep_conn on``);
* ``nginx-usual``: what most nginx guides write (stock params + split, nothing else);
* ``nginx-root``: the whole site with stock params only (no PATH_INFO at all);
* ``apache-digest`` / ``lighttpd-digest``: digest authentication in the front-end;
  ``nginx-basic``: basic authentication (nginx has no digest module).

Reference answers come from the same backend process's direct HTTP engine, so "the same
bytes as without a front-end" is what most tests assert.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import h11
import httpx
import pytest
import trio

from tests.frontends.backend import FILE_TEXT, SECRET, big_body
from tests.frontends.conftest import USERS, Variant, variant

PLAIN = [
    "apache-userguide",
    "apache-tcp",
    "apache-unix",
    "apache-generic",
    "lighttpd-tcp",
    "lighttpd-unix",
    "nginx-tcp",
    "nginx-unix",
    "nginx-usual",
]
AUTH = ["apache-digest", "lighttpd-digest", "nginx-basic"]
TIMEOUT = 20
MIB = 1024 * 1024


@pytest.fixture(params=PLAIN)
def fe(request: pytest.FixtureRequest) -> Variant:
    return variant(request, request.param)


@pytest.fixture(params=AUTH)
def fe_auth(request: pytest.FixtureRequest) -> Variant:
    return variant(request, request.param)


def client(**kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=TIMEOUT, **kwargs)


async def direct(fe: Variant, path: str) -> httpx.Response:
    """The same request straight to the backend's HTTP engine."""
    async with client() as c:
        return await c.get(fe.backend.direct + path)


def names(node: dict[str, Any]) -> set[str]:
    found = {node["_name"]}
    for child in node.get("_childs", []):
        found |= names(child)
    return found


def check_length(fe: Variant, response: httpx.Response, size: int) -> None:
    """Our Content-Length survives the front-end where the config says it should."""
    if fe.keeps_content_length:
        assert response.headers.get("content-length") == str(size), response.headers
    else:  # the bare user-guide line: Apache >= 2.4.59 re-frames as chunked
        assert response.headers.get("transfer-encoding") == "chunked", response.headers


async def raw_get(port: int, target: str) -> tuple[int, dict[str, str], bytes]:
    """A GET with the request target exactly as given (httpx would normalise ``..``)."""
    conn = h11.Connection(h11.CLIENT)
    with trio.fail_after(TIMEOUT):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            request = h11.Request(
                method="GET",
                target=target.encode(),
                headers=[("Host", f"127.0.0.1:{port}"), ("Connection", "close")],
            )
            await stream.send_all(conn.send(request) + conn.send(h11.EndOfMessage()))
            status, headers, body = 0, {}, bytearray()
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await stream.receive_some(65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                    headers = {k.decode(): v.decode("latin-1") for k, v in event.headers}
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    return status, headers, bytes(body)


# ---------------------------------------------------------------------- tree requests


async def test_h_json(fe: Variant) -> None:
    async with client() as c:
        r = await c.get(fe.base + "/h.json")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.content == (await direct(fe, "/h.json")).content
    tree = r.json()
    assert tree["_name"] == "trioserve"
    assert "_username" not in tree  # nobody authenticated: the front-end vouched for no one
    seen = names(tree)
    assert {"Objects", "demo", "sample", "été_x"} <= seen
    assert "vault" not in seen  # visible to "user" only


@pytest.mark.parametrize(
    "path",
    [
        "/Objects/demo/sample/root.json",  # an object
        "/Objects/demo/sample/inner/root.json",  # a member
        "/Objects/demo/sample/root.json?compact=3",
        "/Objects/demo/sample/h.json",
    ],
)
async def test_root_json_object_and_member(fe: Variant, path: str) -> None:
    async with client() as c:
        r = await c.get(fe.base + path)
    reference = await direct(fe, path)
    assert reference.status_code == 200
    assert r.status_code == 200, r.text
    assert r.content == reference.content
    assert r.headers["content-type"] == reference.headers["content-type"]
    check_length(fe, r, len(reference.content))


async def test_member_and_private_names_refused(fe: Variant) -> None:
    async with client() as c:
        for path in ("/Objects/demo/sample/_private/root.json", "/Objects/nothing/root.json"):
            r = await c.get(fe.base + path)
            assert r.status_code == 404, (path, r.text)
            assert "hidden" not in r.text


async def test_root_json_gz_keeps_content_encoding(fe: Variant) -> None:
    path = "/Objects/demo/sample/root.json.gz"
    plain = (await direct(fe, "/Objects/demo/sample/root.json")).content
    async with client() as c, c.stream("GET", fe.base + path) as r:
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["content-type"].startswith("application/json")
    assert raw[:2] == b"\x1f\x8b"  # the front-end passed our gzip bytes through untouched
    assert gzip.decompress(raw) == plain
    check_length(fe, r, len(raw))


async def test_head(fe: Variant) -> None:
    async with client() as c:
        r = await c.head(fe.base + "/Objects/demo/sample/root.json")
    assert r.status_code == 200
    assert r.content == b""


async def test_mount_point_without_slash(fe: Variant) -> None:
    """Apache: the snippet's RedirectMatch; lighttpd: the engine answers SCRIPT_NAME + "/".
    nginx redirects a prefix location's bare name itself. The bare user-guide line has no
    redirect and Apache answers 404 itself."""
    async with client() as c:
        r = await c.get(fe.base)
    if fe.name == "apache-userguide":
        assert r.status_code == 404
        return
    assert r.status_code == 301
    assert r.headers["location"].endswith("/root.app/")


MULTI_BODY = (
    b"Objects/demo/sample/root.json\n"
    b"Objects/private/vault/root.json\n"
    b"Objects/demo/sample/inner/root.json\n"
)


async def test_multi_json(fe: Variant) -> None:
    """A POST whose body is the request list; each line judged alone (the vault is not
    visible to an anonymous user, so its slot is null)."""
    async with client() as c:
        r = await c.post(fe.base + "/multi.json?number=3", content=MULTI_BODY)
        reference = await c.post(fe.backend.direct + "/multi.json?number=3", content=MULTI_BODY)
    assert r.status_code == 200, r.text
    assert r.content == reference.content
    sample, vault, inner = r.json()
    assert sample["count"] == 7
    assert vault is None
    assert inner["value"] == 3


# ---------------------------------------------------------------------- bodies


async def _chunks(data: bytes, size: int = 10_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize(
    ("size", "chunked"),
    [(46, False), (46, True), (0, False), (400_000, False), (400_000, True)],
    ids=["small", "small-chunked", "empty", "400k", "400k-chunked"],
)
async def test_post_body_reaches_the_app(fe: Variant, size: int, chunked: bool) -> None:
    """Apache sends no CONTENT_LENGTH for a big chunked upload: the engine
    must read STDIN to its end, and does."""
    body = big_body(size)
    tag = uuid.uuid4().hex
    content: Any = _chunks(body) if chunked else body
    async with client() as c:
        r = await c.post(
            f"{fe.base}/upload/echo.json?tag={tag}",
            content=content,
            headers={"Content-Type": "application/octet-stream"},
        )
    assert r.status_code == 200, r.text
    echo = r.json()
    assert echo["method"] == "POST"
    assert echo["path"] == "/upload/echo.json"
    assert echo["length"] == size
    assert echo["sha256"] == hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize("name", ["big.bin", "bigstream.bin"])
async def test_five_megabyte_response(fe: Variant, name: str) -> None:
    size = 5 * MIB
    async with client() as c:
        r = await c.get(f"{fe.base}/{name}?size={size}")
    assert r.status_code == 200
    assert len(r.content) == size
    assert hashlib.sha256(r.content).digest() == hashlib.sha256(big_body(size)).digest()
    check_length(fe, r, size)


async def test_body_over_the_limit_is_413_and_the_connection_recovers(fe: Variant) -> None:
    """The engine answers 413 while the front-end is still sending STDIN (default limit
    16 MiB); the front-end passes the answer on and the next request works. (Behind the
    guides' nginx lines nginx's own 1 MiB limit answers first, with its own page.)"""
    tag = uuid.uuid4().hex
    async with client() as c:
        r = await c.post(f"{fe.base}/echo.json?tag={tag}", content=b"x" * (17 * MIB))
        assert r.status_code == 413
        if fe.limits_bodies_first:
            assert r.headers["content-type"].startswith("text/html")
            assert await count(fe, tag) == 0
        else:
            assert r.json()["error"] == "body_too_large"
        assert (await c.get(fe.base + "/h.json")).status_code == 200


async def test_expect_100_continue(fe: Variant) -> None:
    """The front-end answers 100 Continue itself and forwards HTTP_EXPECT (Apache), which
    the app must not try to answer: FastCGI has no interim responses."""
    body = big_body(300_000)
    conn = h11.Connection(h11.CLIENT)
    with trio.fail_after(TIMEOUT):
        stream = await trio.open_tcp_stream("127.0.0.1", fe.port)
        async with stream:
            head = h11.Request(
                method="POST",
                target=b"/root.app/echo.json",
                headers=[
                    ("Host", "127.0.0.1"),
                    ("Content-Length", str(len(body))),
                    ("Expect", "100-continue"),
                    ("Connection", "close"),
                ],
            )
            await stream.send_all(conn.send(head))
            events: list[object] = []
            sent = False
            payload = bytearray()
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await stream.receive_some(65536))
                    continue
                events.append(event)
                if isinstance(event, h11.InformationalResponse) and not sent:
                    await stream.send_all(conn.send(h11.Data(data=body)))
                    await stream.send_all(conn.send(h11.EndOfMessage()))
                    sent = True
                elif isinstance(event, h11.Data):
                    payload += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
    statuses = [e.status_code for e in events if isinstance(e, h11.InformationalResponse)]
    assert statuses == [100]  # from the front-end, exactly once
    final = [e for e in events if isinstance(e, h11.Response)]
    assert final[0].status_code == 200
    echo = json.loads(payload)
    assert echo["length"] == len(body)
    assert echo["sha256"] == hashlib.sha256(body).hexdigest()


async def test_long_query_split_across_params_records(fe: Variant) -> None:
    """Apache splits PARAMS at 16 KiB per record; the engine joins them."""
    query = "q=" + "x" * 8000
    async with client() as c:
        r = await c.get(f"{fe.base}/echo.json?{query}")
    assert r.status_code == 200
    assert r.json()["query"] == {"q": "x" * 8000}


async def test_client_gone_mid_stream_stops_only_that_request(fe: Variant) -> None:
    """A browser that leaves during a huge streamed reply: the front-end drops its FastCGI
    connection (lighttpd only with stream-response-body, which our snippet sets) and the
    engine stops producing the body instead of generating all of it."""
    tag = uuid.uuid4().hex
    size = 4 * 1024 * MIB
    with trio.fail_after(TIMEOUT):
        stream = await trio.open_tcp_stream("127.0.0.1", fe.port)
        target = f"/root.app/bigstream.bin?size={size}&tag={tag}"
        await stream.send_all(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        received = 0
        while received < 2 * MIB:
            received += len(await stream.receive_some(65536))
        await stream.aclose()
        before = -1
        async with client() as c:
            while True:  # until production has stopped
                await trio.sleep(0.3)
                now = (await c.get(f"{fe.backend.direct}/stats.json?tag={tag}")).json()
                if now["streamed"] == before:
                    break
                before = now["streamed"]
            assert before < size // 8, before
            assert (await c.get(fe.base + "/h.json")).status_code == 200


# ---------------------------------------------------------------------- paths


async def test_encoded_utf8_and_spaces(fe: Variant) -> None:
    async with client() as c:
        # the path as the app sees it: decoded once, whatever the front-end's params say
        r = await c.get(
            fe.base + "/echo%20dir/%C3%A9t%C3%A9%20x/echo.json?name=%C3%A9t%C3%A9%20x&a=b+c"
        )
        assert r.status_code == 200, r.text
        echo = r.json()
        assert echo["path"] == "/echo dir/été x/echo.json"
        assert echo["query"] == {"name": "été x", "a": "b c"}
        assert echo["script_name"] == "/root.app"
        assert echo["engine"] == "fastcgi"
        # "été x" was registered; the tree sanitised the name to "été_x"
        obj = await c.get(fe.base + "/Objects/demo/%C3%A9t%C3%A9_x/root.json")
        assert obj.status_code == 200
        assert obj.json()["marker"] == "été-marker"
        assert obj.content == (await direct(fe, "/Objects/demo/%C3%A9t%C3%A9_x/root.json")).content
        # the unsanitised name is not an alias, through a front-end or not
        spaced = "/Objects/demo/%C3%A9t%C3%A9%20x/root.json"
        assert (await c.get(fe.base + spaced)).status_code == 404
        assert (await direct(fe, spaced)).status_code == 404


async def test_files_location_through_front_end(fe: Variant) -> None:
    """Files, validators and ranges answer the same through a front-end as directly."""
    async with client() as c:
        r = await c.get(fe.base + "/files/ok.txt")
        assert r.status_code == 200
        assert r.text == FILE_TEXT
        etag = r.headers["etag"]
        cached = await c.get(fe.base + "/files/ok.txt", headers={"If-None-Match": etag})
        assert cached.status_code == 304
        assert cached.content == b""
        part = await c.get(fe.base + "/files/ok.txt", headers={"Range": "bytes=2-5"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 2-5/{len(FILE_TEXT)}"
        assert part.content == FILE_TEXT[2:6].encode()


async def test_page_works_under_the_prefix(fe: Variant) -> None:
    """The index page links relatively, so everything it loads resolves under /root.app/."""
    async with client() as c:
        page = await c.get(fe.base + "/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        links = re.findall(r'(?:href|src)="([^"]+)"|from\s+["\']([^"\']+)["\']', page.text)
        targets = [a or b for a, b in links if not (a or b).startswith("data:")]
        assert targets, page.text[:300]
        for target in targets:
            assert not target.startswith(("/", "http:", "https:")), target
            assert (await c.get(f"{fe.base}/{target.removeprefix('./')}")).status_code == 200


DOTDOT = [
    "/root.app/files/../secret.txt",
    "/root.app/files/%2e%2e/secret.txt",
    "/root.app/files/.%2e/secret.txt",
    "/root.app/files/..%2fsecret.txt",
    "/root.app/files/%2e%2e%2fsecret.txt",
    "/root.app/files/..%5csecret.txt",
    "/root.app/files/....//secret.txt",
    "/root.app/files/%252e%252e/secret.txt",
    "/root.app/files/ok.txt/../../secret.txt",
    "/root.app/../etc/passwd",
    "/root.app/%2e%2e/%2e%2e/etc/passwd",
    "/root.app/Objects/../../../etc/passwd",
    "/root.app/Objects/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/root.app/Objects/demo/sample/../../../root.json",
]


async def test_dotdot_never_escapes(fe: Variant) -> None:
    for target in DOTDOT:
        status, _headers, body = await raw_get(fe.port, target)
        assert status != 0, target
        assert SECRET.encode() not in body, (target, status)
        assert b"root:x:0:0" not in body, (target, status)
        if status == 200:  # only when it normalised to something inside the app
            assert target.endswith("root.json"), (target, body[:200])


async def test_encoded_crlf_cannot_inject(fe: Variant) -> None:
    """Apache delivers a decoded CR/LF inside SCRIPT_NAME, lighttpd refuses it with 400,
    nginx's split_path_info does not match it (``.`` stops at a newline), so it arrives
    without PATH_INFO and the engine takes the whole URI as the path: either way no header
    line and no user can be forged from the URL."""
    target = "/root.app/x%0d%0aX-Injected:%201%0d%0aREMOTE_USER:admin/echo.json"
    status, headers, body = await raw_get(fe.port, target)
    assert status in (200, 400, 404), (status, body[:200])
    assert "x-injected" not in {name.lower() for name in headers}
    if status == 200:
        echo = json.loads(body)
        assert echo["user"] is None
        assert echo["path"].endswith("/echo.json")


@pytest.mark.parametrize(
    "authorization",
    ['Digest username="admin"', "Basic YWRtaW46eA=="],  # the second: admin:x
    ids=["digest", "basic"],
)
async def test_client_headers_cannot_claim_a_user(fe: Variant, authorization: str) -> None:
    """Only the front-end's own REMOTE_USER + AUTH_TYPE make a user; request headers of the
    same names arrive as HTTP_* params and must not. nginx's stock fastcgi_params (Debian)
    send REMOTE_USER=$remote_user, which nginx takes from an unchecked Basic header: without
    AUTH_TYPE it must stay nobody's name."""
    spoof = {
        "Remote-User": "admin",
        "Auth-Type": "Digest",
        "X-Remote-User": "admin",
        "Authorization": authorization,
    }
    async with client(headers=spoof) as c:
        echo = (await c.get(fe.base + "/echo.json")).json()
        tree = (await c.get(fe.base + "/h.json")).json()
        vault = await c.get(fe.base + "/Objects/private/vault/root.json")
    assert echo["user"] is None
    assert "_username" not in tree
    assert vault.status_code == 404


# ---------------------------------------------------------------------- long-poll


async def wait_parked(fe: Variant, conn_id: int) -> None:
    """Until the backend holds a parked poll of ``conn_id`` (it asked on its direct engine)."""
    url = f"{fe.backend.direct}/longpoll.json?connection={conn_id}"
    async with client() as c:
        while not (await c.get(url)).json()["parked"]:
            await trio.sleep(0.02)


async def test_long_poll_through_the_front_end(fe: Variant) -> None:
    """The websocket emulation JSROOT falls back to behind FastCGI: connect, send (a POST
    through the front-end reaches the handler, whose echo the next poll fetches), a parked
    poll answered the moment the server pushes (the backend's poll wait is 60 s, longer than
    the test's timeout: a reply the front-end held back fails the test), close."""
    lp = fe.base + "/chat/root.longpoll"
    async with client() as c:
        connect = await c.get(lp + "?txt_connect")
        assert connect.status_code == 200, connect.text
        conn_id = int(connect.text)
        sent = await c.post(f"{lp}?connection={conn_id}", content="hello ü".encode())
        assert (sent.status_code, sent.text) == (200, "<<nope>>")
        echoed = await c.get(f"{lp}?connection={conn_id}&dummy")
        assert (echoed.status_code, echoed.text) == (200, "hello ü")
        replies: list[httpx.Response] = []
        with trio.fail_after(TIMEOUT):
            async with trio.open_nursery() as nursery:

                async def poll() -> None:
                    replies.append(await c.get(f"{lp}?connection={conn_id}&dummy"))

                nursery.start_soon(poll)
                await wait_parked(fe, conn_id)
                async with client() as side:
                    pushed = await side.get(
                        f"{fe.backend.direct}/longpoll.json?connection={conn_id}&push=pushed"
                    )
                    assert pushed.json() == {"parked": True}
        assert [(r.status_code, r.text) for r in replies] == [(200, "pushed")]
        closed = await c.get(f"{lp}?connection={conn_id}&close")
        assert (closed.status_code, closed.text) == (200, "OK")
        assert (await c.get(f"{lp}?connection={conn_id}&dummy")).status_code == 404


# ---------------------------------------------------------------------- nginx, stock params


async def test_nginx_stock_params_serve_a_whole_site(request: pytest.FixtureRequest) -> None:
    """``location / { include fastcgi_params; fastcgi_pass ...; }``: no PATH_INFO arrives, so
    the engine takes nginx's decoded DOCUMENT_URI as the path, mounted at "/"."""
    fe = variant(request, "nginx-root")
    async with client() as c:
        echo = await c.get(fe.base + "/echo%20dir/%C3%A9t%C3%A9%20x/echo.json?a=b+c")
        assert echo.status_code == 200, echo.text
        assert echo.json()["path"] == "/echo dir/été x/echo.json"
        assert echo.json()["query"] == {"a": "b c"}
        assert echo.json()["script_name"] == ""
        for path in ("/h.json", "/Objects/demo/sample/root.json", "/files/ok.txt"):
            r = await c.get(fe.base + path)
            assert r.status_code == 200, (path, r.text)
            assert r.content == (await direct(fe, path)).content
        page = await c.get(fe.base + "/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
    for target in ("/files/../secret.txt", "/files/%2e%2e/secret.txt", "/files/..%2fsecret.txt"):
        status, _headers, body = await raw_get(fe.port, target)
        assert status != 0, target
        assert SECRET.encode() not in body, (target, status)


# ---------------------------------------------------------------------- connections


async def test_reused_connections_keep_answering(fe: Variant) -> None:
    """With enablereuse (Apache) one FastCGI connection carries request after request.
    (Speed -- the ~40 ms Nagle stall measured without TCP_NODELAY -- belongs
    to benchmarks/fastcgi.py; the engine's TCP_NODELAY is asserted in the listener tests.)"""
    async with client() as c:
        for _ in range(15):
            r = await c.get(fe.base + "/Objects/demo/sample/root.json")
            assert r.status_code == 200
            assert r.json()["_typename"]


async def test_burst_of_parallel_requests(fe: Variant) -> None:
    """40 at once: one FastCGI connection each; a small listen backlog made lighttpd answer
    500 to some of them."""
    statuses: list[int] = []
    async with client() as c:

        async def one() -> None:
            statuses.append((await c.get(fe.base + "/Objects/demo/sample/root.json")).status_code)

        async with trio.open_nursery() as nursery:
            for _ in range(40):
                nursery.start_soon(one)
    assert statuses == [200] * 40


# ---------------------------------------------------------------------- authentication


async def count(fe: Variant, tag: str) -> int:
    r = await direct(fe, f"/stats.json?tag={tag}")
    return int(r.json()["count"])


async def test_front_end_user_reaches_the_server(fe_auth: Variant) -> None:
    """Digest (Apache, lighttpd) or basic (nginx) in the front-end: the name it checked is
    the user trioserve's restrict rules see, in plain requests and in multi.json lines."""
    fe = fe_auth
    auth = fe.auth("user", USERS["user"])
    async with client(auth=auth) as c:
        tree = (await c.get(fe.base + "/h.json")).json()
        assert tree["_username"] == "user"
        assert "vault" in names(tree)
        vault = await c.get(fe.base + "/Objects/private/vault/root.json")
        assert vault.status_code == 200
        assert vault.json()["code"] == 4242
        echo = (await c.post(fe.base + "/echo.json", content=b"x" * 1000)).json()
        assert echo["user"] == "user"
        assert echo["length"] == 1000
        multi = await c.post(fe.base + "/multi.json?number=3", content=MULTI_BODY)
        assert multi.json()[1]["code"] == 4242  # the same line, now as "user"
    async with client(auth=fe.auth("admin", USERS["admin"])) as c:
        tree = (await c.get(fe.base + "/h.json")).json()
        assert tree["_username"] == "admin"
        assert "vault" not in names(tree)
        assert (await c.get(fe.base + "/Objects/private/vault/root.json")).status_code == 404


async def test_failed_logins_never_reach_the_server(fe_auth: Variant) -> None:
    fe = fe_auth
    tag = uuid.uuid4().hex
    url = f"{fe.base}/echo.json?tag={tag}"
    attempts = [
        None,
        fe.auth("user", "wrong"),
        fe.auth("nobody", "secret"),
        fe.auth("admin", USERS["user"]),
    ]
    statuses: list[int] = []

    async def attempt(auth: httpx.Auth | None) -> None:
        async with client(auth=auth) as c:
            statuses.append((await c.get(url)).status_code)

    # lighttpd delays each failed attempt by ~1 s: run them side by side
    async with trio.open_nursery() as nursery:
        for auth in attempts:
            nursery.start_soon(attempt, auth)
    assert statuses == [401] * len(attempts)
    assert await count(fe, tag) == 0
    async with client(auth=fe.auth("user", USERS["user"])) as c:
        assert (await c.get(url)).status_code == 200
    assert await count(fe, tag) == 1
