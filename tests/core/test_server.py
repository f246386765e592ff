"""Server-level behaviour: engines added while running, one shutdown path, engine options
that are really server settings, the debug page through a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import trio

import trioserve
from tests.conftest import Sample
from trioserve import Server

pytestmark = pytest.mark.trio
ROOT = Path(__file__).resolve().parents[2]


async def test_engine_added_while_running_and_removed_on_cancel(short_tmp: Path) -> None:
    sock = short_tmp / "late.sock"
    server = Server()
    server.register("/", Sample())
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "http:0")
        address = await server.create_engine(f"socket:{sock}")
        assert address == str(sock) and sock.exists()
        assert oct(os.stat(sock).st_mode & 0o777) == oct(0o600)
        transport = httpx.AsyncHTTPTransport(uds=str(sock))
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            assert (await client.get("/sample/count/root.json")).json() == 7
        assert len(server.addresses) == 2
        nursery.cancel_scope.cancel()
    assert not sock.exists()  # the one shutdown path removed the socket file
    assert server.addresses == []


async def test_create_engine_needs_a_running_server() -> None:
    with pytest.raises(trioserve.ConfigError):
        await Server().create_engine("http:0")


async def test_engine_cors_options_are_server_settings(nursery: trio.Nursery) -> None:
    server = Server()
    server.register("/", Sample())
    await nursery.start(server.serve, "http:0?cors=https://a.org&cred_cors")
    host, port = server.addresses[0][:2]
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
        reply = await client.get("/sample/root.json", headers={"origin": "https://a.org"})
        assert reply.headers["access-control-allow-origin"] == "https://a.org"
        assert reply.headers["access-control-allow-credentials"] == "true"
        assert "Origin" in reply.headers["vary"]
        other = await client.get("/sample/root.json", headers={"origin": "https://evil.org"})
        assert "access-control-allow-origin" not in other.headers


async def test_debug_page_through_a_server(nursery: trio.Nursery) -> None:
    server = Server()
    await nursery.start(server.serve, "http:0?debug")
    host, port = server.addresses[0][:2]
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
        reply = await client.get(
            "/a/<b>/x.json?q=<script>alert(1)</script>",
            headers={"authorization": "Basic c2VjcmV0OnNlY3JldA==", "x-note": "<img src=x>"},
        )
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/html")
    assert "<script>alert" not in reply.text and "<img" not in reply.text
    assert "&lt;img src=x&gt;" in reply.text
    assert "c2VjcmV0" not in reply.text and "(hidden)" in reply.text


def _run_example(args: list[str], pattern: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(pattern, line)
    if match is None:
        proc.kill()
        raise AssertionError(f"no URL in {line!r}: {proc.stderr.read() if proc.stderr else ''}")
    return proc, match.group(0)


@pytest.mark.parametrize("example", ["httpserver", "threaded"])
async def test_examples_run_and_serve(example: str) -> None:
    extra = ["--iterations", "200"] if example == "httpserver" else ["--seconds", "20"]
    proc, base = await trio.to_thread.run_sync(
        _run_example, [f"examples/{example}.py", "--port", "0", *extra], r"http://127\.0\.0\.1:\d+"
    )
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            top = (await client.get("/h.json")).json()
            assert top["_childs"]
            name = "Objects/hists/hpx" if example == "httpserver" else "hist"
            hist = (await client.get(f"/{name}/root.json")).json()
            assert hist["_typename"] == "TH1D"
    finally:
        proc.kill()
        await trio.to_thread.run_sync(proc.communicate)


async def test_custom_default_page(nursery: trio.Nursery, short_tmp: Path) -> None:
    page = short_tmp / "custom.htm"
    page.write_text('<script>const h = "$$$h.json$$$";</script><p>custom</p>')
    server = Server(top_name="mine")
    server.register("/", Sample(title="</script><b>x"))
    server.set_default_page(page)
    await nursery.start(server.serve, "http:0")
    host, port = server.addresses[0][:2]
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
        reply = await client.get("/")
        assert "<p>custom</p>" in reply.text and '"_name":"mine"' in reply.text
        assert reply.text.count("</script>") == 1  # the title cannot close the script
        server.set_default_page(None)
        assert "<p>custom</p>" not in (await client.get("/")).text
