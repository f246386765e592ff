"""Files live in the item namespace: the access rules judge them exactly as they judge items.

``restrict("/data", ...)`` covers every file under the ``data/`` location, and
``restrict("/", "visible=admin")`` ("the whole server, admin only") covers every location,
``jsrootsys/`` and the UI's own modules too. Hidden looks like missing (the same 404 bytes),
whatever the request asks for: a file, a listing, the redirect to a listing, a range, a
conditional GET, HEAD, or a method files do not answer. Over HTTP and the unix socket (digest
users) and FastCGI (the front-end's user) alike.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.access.support import TRANSPORTS, Client, serve_world
from tests.conftest import Sample
from trioserve import Server

pytestmark = pytest.mark.trio

CONTENT = b"row of data\n" * 300


def _served(root: Path) -> tuple[Path, Path]:
    data = root / "data"
    (data / "sub").mkdir(parents=True)
    (data / "notes.txt").write_bytes(CONTENT)
    (data / "sub" / "deep.txt").write_text("deep")
    pub = root / "pub"
    pub.mkdir()
    (pub / "open.txt").write_text("for everybody")
    (pub / "secret.txt").write_text("for admin")
    jsroot = root / "jsroot"
    (jsroot / "modules").mkdir(parents=True)
    (jsroot / "modules" / "main.mjs").write_text("export const version = 'fake';\n")
    return data, pub


def _server(root: Path) -> Server:
    data, pub = _served(root)
    server = Server(top_name="files")
    server.register("/", Sample())
    server.add_location("data/", data, dirlisting=True)
    server.add_location("pub/", pub, dirlisting=True)
    server.set_jsroot(root / "jsroot")
    return server


async def _missing(client: Client, user: str) -> bytes:
    reply = await client.fetch("/data/no-such-file.txt", user)
    assert reply.status == 404
    return reply.body


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_rule_on_a_location_hides_its_files(
    transport: str, nursery: trio.Nursery, short_tmp: Path
) -> None:
    server = _server(short_tmp)
    server.restrict("/data", "visible=admin")
    server.restrict("/pub/secret.txt", "hidden=guest,anonymous")
    async with serve_world(nursery, transport, short_tmp, server=server) as (client, _):
        full = await client.fetch("/data/notes.txt", "admin")
        assert full.status == 200 and full.body == CONTENT
        etag = full.headers["etag"]
        assert (await client.fetch("/data/sub/deep.txt", "admin")).body == b"deep"
        listing = await client.fetch("/data/", "admin")
        assert listing.status == 200 and "notes.txt" in listing.text
        if transport != "fastcgi":  # behind a front-end the redirect is the front-end's
            assert (await client.fetch("/data", "admin")).status == 301

        for user in ("guest", "anonymous"):
            missing = await _missing(client, user)
            asks: list[tuple[str, str, dict[str, str]]] = [
                ("GET", "/data/notes.txt", {}),
                ("HEAD", "/data/notes.txt", {}),
                ("GET", "/data/sub/deep.txt", {}),
                ("GET", "/data/notes.txt", {"range": "bytes=0-3"}),
                ("GET", "/data/notes.txt", {"range": "bytes=99999-"}),
                ("GET", "/data/notes.txt", {"if-none-match": etag}),
                ("GET", "/data/notes.txt", {"if-match": '"other"'}),
                ("GET", "/data/", {}),
                ("GET", "/data/sub/", {}),
                ("GET", "/data", {}),
                ("POST", "/data/notes.txt", {}),
            ]
            for method, target, headers in asks:
                reply = await client.fetch(target, user, method=method, headers=headers)
                assert reply.status == 404, (user, method, target, headers)
                if method != "HEAD":
                    assert reply.body == missing, (user, method, target, headers)
                assert b"row of data" not in reply.body

            # a rule on one file: gone from the file and from its directory's listing
            assert (await client.fetch("/pub/open.txt", user)).body == b"for everybody"
            assert (await client.fetch("/pub/secret.txt", user)).body == missing
            listing = await client.fetch("/pub/", user)
            assert listing.status == 200
            assert "open.txt" in listing.text and "secret.txt" not in listing.text

        assert (await client.fetch("/pub/secret.txt", "admin")).body == b"for admin"
        assert "secret.txt" in (await client.fetch("/pub/", "admin")).text


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_restricting_the_top_covers_every_file(
    transport: str, nursery: trio.Nursery, short_tmp: Path
) -> None:
    server = _server(short_tmp)
    server.restrict("/", "visible=admin")  # docs/security.md: "the whole server, admin only"
    targets = (
        "/data/notes.txt",
        "/pub/open.txt",
        "/pub/",
        "/jsrootsys/modules/main.mjs",
        "/tsui.mjs",
        "/Objects/sample/tsui.css",
        "/h.json",
        "/sample/root.json",
    )
    async with serve_world(nursery, transport, short_tmp, server=server) as (client, _):
        for target in targets:
            assert (await client.fetch(target, "admin")).status == 200, target
        for user in ("guest", "anonymous"):
            missing = await _missing(client, user)
            for target in targets:
                reply = await client.fetch(target, user)
                assert reply.status == 404, (user, target)
                if target.startswith(("/data/", "/pub/", "/jsrootsys/")):
                    assert reply.body == missing, (user, target)
            ranged = await client.fetch(
                "/jsrootsys/modules/main.mjs", user, headers={"range": "bytes=0-5"}
            )
            assert ranged.status == 404


async def test_rules_below_the_top_leave_the_ui_modules_alone(
    nursery: trio.Nursery, short_tmp: Path
) -> None:
    """The UI's modules are answered at any path (pages load them relatively), so they are
    judged at the top: a rule on a folder must not make them answer differently there than
    at a missing path, which would tell the folder's name."""
    server = _server(short_tmp)
    server.restrict("/Objects", "visible=admin")
    async with serve_world(nursery, "http", short_tmp, server=server) as (client, _):
        for target in ("/Objects/tsui.mjs", "/Objects/nothing/tsui.mjs", "/tsui.mjs"):
            assert (await client.fetch(target, "guest")).status == 200, target
