"""Locations: prefix rules and the traversal table (every way out must be refused)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trioserve.errors import ConfigError, RegistrationError
from trioserve.files import (
    CURRENTDIR,
    JSROOTSYS,
    Locations,
    default_locations,
    resolve,
    serve_location,
)

from .filesupport import collect, make_call


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """served/ (the location) next to secret/ (outside it), with symlinks both ways."""
    served = tmp_path / "served"
    (served / "sub").mkdir(parents=True)
    (served / "a.txt").write_text("alpha")
    (served / "sub" / "b.txt").write_text("beta")
    (served / ".hidden").write_text("dot")
    (served / ".git").mkdir()
    (served / ".git" / "config").write_text("[core]")
    (served / "100%.txt").write_text("percent")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "passwd").write_text("root:x:0:0")
    (served / "out").symlink_to(secret / "passwd")
    (served / "outdir").symlink_to(secret)
    (served / "in").symlink_to(served / "sub" / "b.txt")
    (served / "indir").symlink_to(served / "sub")
    (served / "todot").symlink_to(served / ".hidden")
    (served / "dangling").symlink_to(tmp_path / "nope")
    os.mkfifo(served / "fifo")
    return served


def test_prefix_validation(tmp_path: Path) -> None:
    locations = Locations()
    for bad in ["mydir", "", "/", "a//", "../", "./", "a/../", "a\\b/", "%2e%2e/", "a\x00/"]:
        with pytest.raises(ConfigError):
            locations.add(bad, tmp_path)
    with pytest.raises(ConfigError, match="not a directory"):
        locations.add("x/", tmp_path / "missing")
    location = locations.add("/mydir/", tmp_path)
    assert location.prefix == "mydir/"
    assert location.directory == tmp_path
    assert "mydir/" in locations and len(locations) == 1
    locations.remove("mydir/")
    assert "mydir/" not in locations
    with pytest.raises(RegistrationError):
        locations.remove("mydir/")


def test_match_at_start_only(tmp_path: Path) -> None:
    locations = Locations()
    (tmp_path / "deep").mkdir()
    mydir = locations.add("mydir/", tmp_path)
    deep = locations.add("mydir/deep/", tmp_path / "deep")
    assert locations.match("/mydir/a/b.txt") == (mydir, "a/b.txt")
    assert locations.match("/mydir/") == (mydir, "")
    assert locations.match("/mydir/deep/x") == (deep, "x")  # longest prefix wins
    assert locations.match("/x/mydir/file") is None  # ROOT would match this
    assert locations.match("/anything/mydir/a.txt") is None
    assert locations.match("//mydir/a.txt") is None
    assert locations.match("/mydir") is None
    assert locations.match("/mydirx/a") is None
    assert locations.match("/MYDIR/a") is None


def test_default_locations_are_opt_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(default_locations()) == 0
    monkeypatch.chdir(tmp_path)
    locations = default_locations(jsrootsys=tmp_path, currentdir=True)
    assert {loc.prefix for loc in locations} == {JSROOTSYS, CURRENTDIR}
    assert locations.get(CURRENTDIR).directory == tmp_path
    assert not locations.get(CURRENTDIR).dotfiles


TRAVERSAL = [
    # (relative path as the engine decoded it, follow_symlinks, dotfiles, served?)
    ("a.txt", False, False, True),
    ("sub/b.txt", False, False, True),
    ("100%.txt", False, False, True),  # a literal % is just a character
    ("..", False, False, False),
    ("../secret/passwd", False, False, False),
    ("sub/../a.txt", False, False, False),  # even harmless dot segments are refused
    ("a/../../x", False, False, False),
    ("./a.txt", False, False, False),
    ("sub//b.txt", False, False, False),
    ("%2e%2e/secret/passwd", False, False, False),  # double-encoded dots survived decoding
    ("sub%2fb.txt", False, False, False),
    ("sub%2Fb.txt", False, False, False),
    ("%5c..%5csecret", False, False, False),
    ("\\..\\secret\\passwd", False, False, False),
    ("sub\\b.txt", False, False, False),
    ("a.txt\x00.png", False, False, False),
    ("a.txt%00", False, False, False),
    ("a\r\nX: y", False, False, False),
    ("/etc/passwd", False, False, False),
    ("//etc/passwd", False, False, False),
    (".hidden", False, False, False),
    (".git/config", False, False, False),
    (".hidden", False, True, True),
    (".git/config", False, True, True),
    ("out", False, False, False),  # symlink to a file outside
    ("out", True, False, False),
    ("outdir/passwd", True, False, False),
    ("out", True, True, False),  # dotfiles allowed: only the containment check stands
    ("outdir/passwd", True, True, False),
    ("in", False, False, False),  # symlink inside, not followed
    ("in", True, False, True),  # symlink inside, followed
    ("indir/b.txt", True, False, True),
    ("indir/b.txt", False, False, False),
    ("todot", True, False, False),  # a followed link must not reach a dotfile
    ("todot", True, True, True),
    ("dangling", True, False, False),
    ("fifo", False, False, False),  # never open a FIFO
    ("missing.txt", False, False, False),
    ("a.txt/x", False, False, False),
]


@pytest.mark.parametrize(("relative", "follow", "dotfiles", "served"), TRAVERSAL)
def test_traversal_table(
    tree: Path, relative: str, follow: bool, dotfiles: bool, served: bool
) -> None:
    locations = Locations()
    location = locations.add("mydir/", tree, follow_symlinks=follow, dotfiles=dotfiles)
    result = resolve(location, relative)
    if served:
        assert result is not None
        assert result.is_relative_to(tree.resolve())
    else:
        assert result is None


@pytest.mark.parametrize(
    "url",
    [
        "/mydir/../secret/passwd",
        "/mydir/%2e%2e/secret/passwd",
        "/mydir/..%2fsecret%2fpasswd",
        "/mydir/\\..\\secret\\passwd",
        "/mydir//etc/passwd",
        "/mydir/out",
        "/mydir/outdir/passwd",
        "/mydir/.hidden",
        "/mydir/a.txt\x00",
        "/mydir/sub",  # a directory without listing
        "/mydir/sub/",
        "/mydir/",
        "/mydir/a.txt/",
    ],
)
async def test_serve_location_refuses_with_404(tree: Path, url: str) -> None:
    locations = Locations()
    locations.add("mydir/", tree, follow_symlinks=True)
    response = await serve_location(make_call(url), locations)
    assert response is not None
    assert response.status == 404
    assert b"passwd" not in await collect(response)
    assert b"root:x" not in await collect(response)


async def test_serve_location_unclaimed_paths_return_none(tree: Path) -> None:
    locations = Locations()
    locations.add("mydir/", tree)
    assert await serve_location(make_call("/x/mydir/a.txt"), locations) is None
    assert await serve_location(make_call("/Objects/h.json"), locations) is None
    assert await serve_location(make_call("/mydir"), locations) is None  # listing off


async def test_serve_location_serves_and_refuses_methods(tree: Path) -> None:
    locations = Locations()
    locations.add("mydir/", tree)
    response = await serve_location(make_call("/mydir/sub/b.txt"), locations)
    assert response is not None and response.status == 200
    assert await collect(response) == b"beta"
    assert response.content_type == "text/plain; charset=utf-8"
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        response = await serve_location(make_call("/mydir/a.txt", method), locations)
        assert response is not None and response.status == 405
        assert response.get_header("Allow") == "GET, HEAD"


async def test_query_string_is_ignored(tree: Path) -> None:
    locations = Locations()
    locations.add("mydir/", tree)
    call = make_call("/mydir/a.txt")
    call.query = "v=123"
    response = await serve_location(call, locations)
    assert response is not None and await collect(response) == b"alpha"
