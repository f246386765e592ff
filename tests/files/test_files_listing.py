"""Directory listings: off by default, escaped when on, dotfiles hidden."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from trioserve.files import Locations, directory_listing, serve_location

from .filesupport import collect, make_call

EVIL = "<img src=x onerror=alert(1)>.txt"


@pytest.fixture
def listed(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "sub dir").mkdir(parents=True)
    (root / EVIL).write_text("evil")
    (root / "javascript:alert(1)").write_text("scheme")
    (root / "plain.txt").write_text("plain")
    (root / ".env").write_text("SECRET=1")
    (root / "sub dir" / "inner.txt").write_text("inner")
    (root / "link.txt").symlink_to(root / "plain.txt")
    return root


async def test_listing_escapes_names(listed: Path) -> None:
    response = directory_listing(make_call("/d/"), listed, "/d/")
    assert response.status == 200
    assert response.content_type == "text/html; charset=utf-8"
    page = (await collect(response)).decode()
    assert "<img" not in page
    assert html.escape(EVIL) in page
    assert 'href="%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt"' in page
    assert 'href="javascript:' not in page
    assert 'href="javascript%3Aalert%281%29"' in page
    assert 'href="sub%20dir/"' in page
    assert "plain.txt" in page
    assert ".env" not in page and "SECRET" not in page
    assert 'href="../"' in page


async def test_listing_title_is_escaped(listed: Path) -> None:
    response = directory_listing(make_call(), listed, "/d/<script>/")
    page = (await collect(response)).decode()
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


async def test_listing_off_by_default(listed: Path) -> None:
    locations = Locations()
    locations.add("d/", listed)
    response = await serve_location(make_call("/d/"), locations)
    assert response is not None and response.status == 404
    assert b"plain.txt" not in await collect(response)


async def test_listing_through_serve_location(listed: Path) -> None:
    locations = Locations()
    locations.add("d/", listed, dirlisting=True)
    response = await serve_location(make_call("/d/"), locations)
    assert response is not None and response.status == 200
    page = (await collect(response)).decode()
    assert "plain.txt" in page
    assert "link.txt" not in page  # the location would refuse the symlink: not listed
    assert ".env" not in page
    sub = await serve_location(make_call("/d/sub dir/"), locations)
    assert sub is not None and "inner.txt" in (await collect(sub)).decode()
    # a directory without its trailing slash is redirected (relative, works under any prefix)
    moved = await serve_location(make_call("/d/sub dir"), locations)
    assert moved is not None and moved.status == 301
    assert moved.get_header("Location") == "sub%20dir/"
    root = await serve_location(make_call("/d"), locations)
    assert root is not None and root.status == 301
    assert root.get_header("Location") == "d/"
    # dotfiles are still refused as files
    env = await serve_location(make_call("/d/.env"), locations)
    assert env is not None and env.status == 404


async def test_listing_shows_followed_symlinks_and_dotfiles_when_allowed(listed: Path) -> None:
    locations = Locations()
    locations.add("d/", listed, dirlisting=True, follow_symlinks=True, dotfiles=True)
    response = await serve_location(make_call("/d/"), locations)
    assert response is not None
    page = (await collect(response)).decode()
    assert "link.txt" in page and ".env" in page


async def test_listing_survives_undecodable_names(tmp_path: Path) -> None:
    import os

    try:
        fd = os.open(os.fsencode(tmp_path) + b"/caf\xe9.txt", os.O_CREAT | os.O_WRONLY)
    except OSError:
        pytest.skip("file system refuses non-UTF-8 names")
    os.close(fd)
    response = directory_listing(make_call(), tmp_path, "/d/")
    page = (await collect(response)).decode("utf-8")  # still valid UTF-8
    assert 'href="caf%E9.txt"' in page  # the link names the real bytes
    assert "caf\ufffd.txt" in page
