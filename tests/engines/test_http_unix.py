"""The HTTP engine over real unix sockets: same protocol code, plus safe socket-file handling."""

from __future__ import annotations

import os
import socket
import stat

import pytest
import trio

from trioserve.engines._listen import open_unix_listener
from trioserve.engines.base import EngineContext
from trioserve.engines.http import serve_http
from trioserve.spec import EngineSpec

from .test_http_support import SERVER, RawClient, echo, request, running


async def test_requests_over_a_unix_socket(tmp_path):
    path = str(tmp_path / "app.sock")
    async with running(kind="socket", path=path, options={"top": "Top"}) as address:
        assert address == path
        client = await RawClient.open(path)
        with trio.fail_after(5):
            await client.send(
                request("/a/root.json?c=1")
                + b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\n0\r\n\r\n" + request("/h", method="HEAD")
            )
            first = await client.response()
            second = await client.response()
            head = await client.response(head=True)
        fields = first.json()
        assert (fields["path"], fields["query"], fields["engine"]) == (
            "/a/root.json",
            "c=1",
            "socket",
        )
        assert fields["top"] == "Top"
        assert fields["peer"] == "-"
        assert second.json()["body"] == "abc"
        assert head.status == 200 and head.body == b""
        assert first.headers["server"] == SERVER and "date" in first.headers
        # limits apply exactly as over TCP
        client = await RawClient.open(path)
        with trio.fail_after(5):
            await client.send(b"\x16\x03\x01garbage\r\n\r\n")
            assert (await client.response()).status == 400
            assert await client.is_closed()


async def test_socket_mode_default_and_option(tmp_path):
    path = str(tmp_path / "a.sock")
    async with running(kind="socket", path=path):
        info = os.lstat(path)
        assert stat.S_ISSOCK(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o600
    other = str(tmp_path / "b.sock")
    async with running(kind="socket", path=other, options={"socket_mode": "0660"}):
        assert stat.S_IMODE(os.lstat(other).st_mode) == 0o660
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".ts")] == []


async def test_socket_file_removed_on_shutdown(tmp_path):
    path = str(tmp_path / "app.sock")
    async with running(kind="socket", path=path):
        assert os.path.exists(path)
    assert not os.path.exists(path)


async def test_socket_file_not_removed_if_replaced(tmp_path):
    path = str(tmp_path / "app.sock")
    async with running(kind="socket", path=path):
        os.unlink(path)
        with open(path, "w") as handle:
            handle.write("someone else's file")
    with open(path) as handle:
        assert handle.read() == "someone else's file"


async def start_engine(path: str) -> OSError | None:
    """Start (and stop) an engine on ``path``; return the error raised before it started."""
    spec = EngineSpec(kind="socket", path=path)
    async with trio.open_nursery() as nursery:
        try:
            await nursery.start(serve_http, EngineContext(handle=echo), spec)
        except OSError as error:
            return error
        nursery.cancel_scope.cancel()
    return None


async def test_refuses_a_file_that_is_not_a_socket(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("precious")
    assert isinstance(await start_engine(str(path)), FileExistsError)
    assert path.read_text() == "precious"
    directory = tmp_path / "dir"
    directory.mkdir()
    assert isinstance(await start_engine(str(directory)), FileExistsError)
    assert directory.is_dir()


async def test_refuses_a_live_socket(tmp_path):
    path = str(tmp_path / "app.sock")
    async with running(kind="socket", path=path):
        inode = os.lstat(path).st_ino
        error = await start_engine(path)
        assert error is not None and "already listening" in str(error)
        assert os.lstat(path).st_ino == inode  # untouched
        client = await RawClient.open(path)  # and still served
        with trio.fail_after(3):
            await client.send(request())
            assert (await client.response()).status == 200


async def test_replaces_a_stale_socket(tmp_path):
    path = str(tmp_path / "app.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()  # the file stays, nobody listens: what a crashed server leaves behind
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    async with running(kind="socket", path=path):
        client = await RawClient.open(path)
        with trio.fail_after(3):
            await client.send(request("/fresh"))
            assert (await client.response()).json()["path"] == "/fresh"
    assert not os.path.exists(path)


async def test_long_socket_paths_still_get_their_mode(tmp_path):
    # the private bind directory would push sun_path past its limit: the /proc fallback
    name = "s" * (100 - len(str(tmp_path)) - 1)
    if len(name) < 4 or not os.path.isdir("/proc/self/fd"):
        pytest.skip("temporary directory path too long or no /proc")
    path = str(tmp_path / name)
    listener, socket_file = await open_unix_listener(path, mode=0o640)
    try:
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o640
    finally:
        await listener.aclose()
        assert socket_file.remove()
    assert not os.path.exists(path)
