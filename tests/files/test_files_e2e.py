"""File locations give the same answers over HTTP, the unix socket and FastCGI."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.access.support import TRANSPORTS, serve_world
from tests.conftest import Sample
from trioserve import Server

pytestmark = pytest.mark.trio

CONTENT = b"line of text\n" * 400


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_location_answers_alike_on_every_engine(
    transport: str, nursery: trio.Nursery, short_tmp: Path
) -> None:
    served = short_tmp / "served"
    served.mkdir()
    (served / "notes.txt").write_bytes(CONTENT)
    (served / ".secret").write_text("dotfile")
    (short_tmp / "outside.txt").write_text("outside")
    (served / "escape.txt").symlink_to(short_tmp / "outside.txt")
    server = Server()
    server.register("/", Sample())
    server.add_location("data/", served)
    async with serve_world(nursery, transport, short_tmp, server=server) as (client, _):
        full = await client.fetch("/data/notes.txt", "anonymous")
        assert full.status == 200 and full.body == CONTENT
        assert full.content_type.startswith("text/plain")
        assert full.headers["cache-control"] == "max-age=3600"
        etag = full.headers["etag"]

        again = await client.fetch("/data/notes.txt", "anonymous", headers={"if-none-match": etag})
        assert again.status == 304 and again.body == b""

        part = await client.fetch("/data/notes.txt", "anonymous", headers={"range": "bytes=5-11"})
        assert part.status == 206 and part.body == CONTENT[5:12]
        assert part.headers["content-range"] == f"bytes 5-11/{len(CONTENT)}"

        bad = await client.fetch("/data/notes.txt", "anonymous", headers={"range": "bytes=9999-"})
        assert bad.status == 416

        for target in (
            "/data/.secret",
            "/data/escape.txt",
            "/data/%2e%2e/outside.txt",
            "/data/missing.txt",
            "/x/data/notes.txt",
        ):
            refused = await client.fetch(target, "anonymous")
            assert refused.status == 404, target
            assert b"outside" not in refused.body and b"dotfile" not in refused.body

        # objects still answer next to the location
        assert (await client.fetch("/sample/count/root.json", "anonymous")).body == b"7"
