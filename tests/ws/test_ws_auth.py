"""Upgrade requests need digest credentials when auth is on; on_connect sees the user."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import trio
import trio_websocket

from tests.ws.conftest import TIMEOUT, Recorder
from trioserve import Server
from trioserve.auth.digest import parse_auth_params

REALM = "ws-realm"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def authorization(challenge: str, user: str, password: str, uri: str) -> str:
    params = parse_auth_params(challenge.split(" ", 1)[1])
    cnonce, nc = os.urandom(8).hex(), "00000001"
    ha1 = md5(f"{user}:{REALM}:{password}")
    ha2 = md5(f"GET:{uri}")
    response = md5(f"{ha1}:{params['nonce']}:{nc}:{cnonce}:auth:{ha2}")
    return (
        f'Digest username="{user}", realm="{REALM}", nonce="{params["nonce"]}", uri="{uri}", '
        f'algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}"'
    )


async def test_digest_protected_upgrade(nursery: trio.Nursery, short_tmp: Path) -> None:
    passwords = short_tmp / "htdigest"
    passwords.write_text(f"alice:{REALM}:{md5(f'alice:{REALM}:secret')}\n")
    server = Server()
    handler = Recorder("rec")
    server.register("/", handler)
    await nursery.start(server.serve, f"http:0?auth_file={passwords}&auth_domain={REALM}")
    host, port = server.addresses[0][:2]
    url, uri = f"ws://{host}:{port}/rec/root.websocket", "/rec/root.websocket"
    with trio.fail_after(TIMEOUT):
        try:
            async with trio_websocket.open_websocket_url(url):
                raise AssertionError("connected without credentials")
        except trio_websocket.ConnectionRejected as exc:
            assert exc.status_code == 401
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            challenge = (await http.get(f"http://{host}:{port}{uri}")).headers["www-authenticate"]
        header = authorization(challenge, "alice", "secret", uri)
        async with trio_websocket.open_websocket_url(
            url, extra_headers=[(b"Authorization", header.encode())]
        ) as ws:
            await ws.send_message("hi")
            assert await ws.get_message() == "hi"
    assert handler.requests[-1].user == "alice"
    assert all(k != "authorization" for k, _ in handler.requests[-1].headers)
