"""CORS: one decision for preflights and replies, over HTTP, the unix socket and FastCGI.

The HTTP engine answers preflights itself (before authentication), FastCGI passes them to
the dispatcher, and the dispatcher finishes every reply: all three must say the same thing.
A configured list reflects only a listed origin (never the list), an unlisted origin gets no
CORS header, credentials never go with ``*``, and ``LongpollHeader`` is exposed.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio

from tests.access.support import TRANSPORTS, FastCgiClient, Reply, serve_world
from tests.conftest import Sample
from trioserve import Server
from trioserve.cors import CorsDecision, decide

LISTED = "http://app.example, http://b.example:8081"
TARGET = "/sample/count/root.json"


def _preflight(origin: str) -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "x-custom",
    }


def _cors_headers(reply: Reply) -> dict[str, str]:
    return {k: v for k, v in reply.headers.items() if k.lower().startswith("access-control-")}


def _varies_on_origin(reply: Reply) -> bool:
    return "origin" in reply.headers.get("vary", "").lower()


def _server(cors: str | None = None) -> Server:
    server = Server(top_name="cors", cors=cors)
    server.register("/", Sample())
    return server


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_list_reflects_only_a_listed_origin(
    transport: str, nursery: trio.Nursery, short_tmp: Path
) -> None:
    server = _server(cors=LISTED)
    async with serve_world(nursery, transport, short_tmp, server=server) as (client, _):
        for origin in ("http://app.example", "http://b.example:8081"):
            pre = await client.fetch(
                TARGET, "anonymous", method="OPTIONS", headers=_preflight(origin)
            )
            assert pre.status == 204
            assert pre.headers["access-control-allow-origin"] == origin  # never the list
            assert "POST" in pre.headers["access-control-allow-methods"]
            assert pre.headers["access-control-allow-headers"] == "x-custom"
            assert int(pre.headers["access-control-max-age"]) > 0
            assert "access-control-allow-credentials" not in pre.headers
            assert _varies_on_origin(pre)

            reply = await client.fetch(TARGET, "anonymous", headers={"origin": origin})
            assert reply.status == 200 and reply.body == b"7"
            assert reply.headers["access-control-allow-origin"] == origin
            assert "LongpollHeader" in reply.headers["access-control-expose-headers"]
            assert "access-control-allow-credentials" not in reply.headers
            assert _varies_on_origin(reply)

        for origin in ("http://evil.example", "http://app.example:8081", "null"):
            pre = await client.fetch(
                TARGET, "anonymous", method="OPTIONS", headers=_preflight(origin)
            )
            assert _cors_headers(pre) == {}, (origin, pre.headers)
            reply = await client.fetch(TARGET, "anonymous", headers={"origin": origin})
            assert reply.status == 200 and _cors_headers(reply) == {}, (origin, reply.headers)
            assert _varies_on_origin(reply)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_credentials_never_go_with_a_star(
    transport: str, nursery: trio.Nursery, short_tmp: Path
) -> None:
    """ROOT's ``cors&cred_cors``: the preflight echoed any origin but the reply said ``*``
    next to credentials, which every browser refuses. Now both reflect the asking origin."""
    server = _server()
    if transport == "fastcgi":
        server.set_cors("*", credentials="true")  # FastCGI takes no cors options
        spec = "fastcgi:127.0.0.1:0"
    elif transport == "http":
        spec = "http:127.0.0.1:0?cors&cred_cors"
    else:
        spec = f"socket:{short_tmp / 'cors.sock'}?cors&cred_cors"
    await nursery.start(server.serve, spec)
    address = server.addresses[0]
    origin = "http://elsewhere.example"
    answers: list[Reply] = []
    if transport == "fastcgi":
        client = FastCgiClient(address[:2])
        answers.append(
            await client.fetch(TARGET, "anonymous", method="OPTIONS", headers=_preflight(origin))
        )
        answers.append(await client.fetch(TARGET, "anonymous", headers={"origin": origin}))
        answers.append(await client.fetch(TARGET, "anonymous"))
    else:
        if transport == "http":
            base, http_transport = f"http://{address[0]}:{address[1]}", httpx.AsyncHTTPTransport()
        else:
            base, http_transport = "http://localhost", httpx.AsyncHTTPTransport(uds=str(address))
        async with httpx.AsyncClient(transport=http_transport, base_url=base) as http:
            for method, headers in (
                ("OPTIONS", _preflight(origin)),
                ("GET", {"origin": origin}),
                ("GET", {}),
            ):
                r = await http.request(method, TARGET, headers=headers)
                answers.append(Reply(r.status_code, "", r.content, dict(r.headers)))
    pre, reply, no_origin = answers
    for answer in (pre, reply):
        assert answer.headers["access-control-allow-origin"] == origin
        assert answer.headers["access-control-allow-credentials"] == "true"
        assert _varies_on_origin(answer)
    assert reply.body == b"7"
    assert pre.headers["access-control-allow-headers"] == "x-custom"
    assert no_origin.headers.get("access-control-allow-origin") is None  # never "*"
    assert _varies_on_origin(no_origin)


async def test_star_without_credentials_stays_star(nursery: trio.Nursery) -> None:
    server = _server()
    await nursery.start(server.serve, "http:127.0.0.1:0;cors")
    host, port = server.addresses[0][:2]
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
        pre = await client.options(TARGET, headers=_preflight("http://x.example"))
        reply = await client.get(TARGET, headers={"origin": "http://x.example"})
        for answer in (pre, reply):
            assert answer.headers["access-control-allow-origin"] == "*"
            assert "access-control-allow-credentials" not in answer.headers
        assert "LongpollHeader" in reply.headers["access-control-expose-headers"]


async def test_server_wide_credentials_reach_the_engines_preflight(nursery: trio.Nursery) -> None:
    """Credentials set on the server (not as the engine's cred_cors) are what the HTTP
    engine's own preflight answer says too, so the browser's preflight and reply agree."""
    server = _server()
    server.set_cors("http://x.example", credentials="true")
    await nursery.start(server.serve, "http:127.0.0.1:0")
    host, port = server.addresses[0][:2]
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
        pre = await client.options(TARGET, headers=_preflight("http://x.example"))
        reply = await client.get(TARGET, headers={"origin": "http://x.example"})
    for answer in (pre, reply):
        assert answer.headers["access-control-allow-origin"] == "http://x.example"
        assert answer.headers["access-control-allow-credentials"] == "true"


@pytest.mark.parametrize(
    ("configured", "credentials", "origin", "expected"),
    [
        (None, None, "http://a", CorsDecision()),
        ("", "true", "http://a", CorsDecision()),
        ("*", None, "http://a", CorsDecision("*")),
        ("*", None, None, CorsDecision("*")),
        ("*", "true", "http://a", CorsDecision("http://a", "true", vary=True)),
        ("*", "true", None, CorsDecision(vary=True)),
        ("http://a,http://b", None, "http://b", CorsDecision("http://b", vary=True)),
        ("http://a,http://b", "true", "http://b", CorsDecision("http://b", "true", vary=True)),
        ("http://a,http://b", "true", "http://c", CorsDecision(vary=True)),
        ("http://a,http://b", None, None, CorsDecision(vary=True)),
        ("http://a", None, None, CorsDecision("http://a", vary=True)),
        ("https://A.org:443/", None, "https://a.org", CorsDecision("https://a.org", vary=True)),
        ("http://a:8080", None, "http://a", CorsDecision(vary=True)),
        ("http://a", None, "https://a", CorsDecision(vary=True)),
    ],
)
def test_the_decision(
    configured: str | None, credentials: str | None, origin: str | None, expected: CorsDecision
) -> None:
    assert decide(configured, credentials, origin) == expected
