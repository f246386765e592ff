"""The gzip of generated replies: python-isal when installed, zlib otherwise; both give a
standard gzip member that any client reads back, and the reply says what it is."""

from __future__ import annotations

import gzip
import importlib
import json
import sys
import zlib
from collections.abc import Iterator
from types import ModuleType

import numpy as np
import pytest
import trio

import trioserve
from tests.conftest import require_module
from trioserve import gzip_reply
from trioserve.call import Call
from trioserve.dispatch import Dispatcher
from trioserve.histograms import Hist2D
from trioserve.render.json import render_json_bytes

SAMPLES = [
    b"",
    b"x",
    b'{"_typename":"TH1D","fArray":[0,1,2,3]}' * 50,
    bytes(range(256)) * 40,  # hardly compressible
]


@pytest.fixture
def zlib_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """gzip_reply as it is loaded where python-isal is not installed (reloaded as it was
    afterwards, whatever the test did)."""
    with monkeypatch.context() as hidden:
        hidden.setitem(sys.modules, "isal", None)  # import isal -> ImportError
        importlib.reload(gzip_reply)
    yield gzip_reply
    importlib.reload(gzip_reply)


def test_isal_is_used_when_installed() -> None:
    require_module("isal")  # in the test extras: skips loudly here, fails under CI=true
    assert gzip_reply.BACKEND == "isal"


def test_zlib_without_isal(zlib_only: ModuleType) -> None:
    assert zlib_only.BACKEND == "zlib"
    data = SAMPLES[2]
    assert zlib_only.gzip_bytes(data) == gzip.compress(data, compresslevel=1, mtime=0)


@pytest.mark.parametrize("data", SAMPLES, ids=["empty", "one", "json", "binary"])
@pytest.mark.parametrize("backend", ["installed", "zlib"])
def test_a_standard_gzip_member(data: bytes, backend: str, request: pytest.FixtureRequest) -> None:
    module = request.getfixturevalue("zlib_only") if backend == "zlib" else gzip_reply
    packed = module.gzip_bytes(bytearray(data))  # bytearray bodies are taken as well
    assert packed[:4] == b"\x1f\x8b\x08\x00"  # gzip, deflate, no optional fields
    assert packed[4:8] == b"\x00\x00\x00\x00"  # mtime 0: the same data, the same bytes
    assert gzip.decompress(packed) == data
    # one member, read by the plain inflate a browser or curl uses
    assert zlib.decompress(packed, 31) == data
    assert module.gzip_bytes(data) == packed


def test_level_one_ratio_or_better() -> None:
    """The installed compressor keeps zlib's level-1 size on what monitoring fetches."""
    h = Hist2D("h", "h", 40, -4, 4, 40, -4, 4)
    rng = np.random.default_rng(3)
    h.fill_many(rng.normal(size=100_000), rng.normal(size=100_000))
    body = render_json_bytes(h, compact=23)
    reference = len(gzip.compress(body, compresslevel=1, mtime=0))
    assert len(gzip_reply.gzip_bytes(body)) <= reference * 1.02


def test_gz_request_goes_through_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """``root.json.gz`` is compressed by :func:`gzip_bytes` (whichever it is) and says so."""
    seen: list[int] = []
    real = gzip_reply.gzip_bytes

    def counting(data: bytes) -> bytes:
        seen.append(len(data))
        return real(data)

    monkeypatch.setattr("trioserve.gzip_reply.gzip_bytes", counting)
    server = trioserve.Server()
    server.register("live", {"a": 1, "b": [1.5, 2.5]}, name="d")

    async def main() -> trioserve.call.Response:
        call = Call("GET", "/Objects/live/d/root.json.gz", "compact=23")
        return await Dispatcher(server).handle(call)

    response = trio.run(main)
    assert response.status == 200
    assert response.get_header("Content-Encoding") == "gzip"
    assert seen == [len(gzip.decompress(response.body))]
    assert json.loads(gzip.decompress(response.body)) == {
        "_typename": "dict",
        "a": 1,
        "b": [1.5, 2.5],
    }


def test_a_large_body_is_left_for_the_server_thread_only_while_deferring() -> None:
    small, large = b"s" * 100, b"L" * 5000
    token = gzip_reply.DEFER_ABOVE.set(1000)  # as a program's thread answering (parking)
    try:
        kept = gzip_reply.gzip_response(trioserve.Response(body=large))
        done = gzip_reply.gzip_response(trioserve.Response(body=small))
    finally:
        gzip_reply.DEFER_ABOVE.reset(token)
    assert kept.gzip_pending and kept.body == large
    assert not done.gzip_pending and gzip.decompress(done.body) == small  # type: ignore[arg-type]
    # the head is the same either way, said before the body is compressed
    assert kept.headers == done.headers
    assert ("Content-Encoding", "gzip") in kept.headers
    assert ("Vary", "Accept-Encoding") in kept.headers
    # the server's thread (nothing deferred there) finishes the kept one, once
    gzip_reply.finish_gzip(kept)
    assert not kept.gzip_pending and gzip.decompress(kept.body) == large  # type: ignore[arg-type]
    compressed = kept.body
    gzip_reply.finish_gzip(kept)
    assert kept.body == compressed and kept.headers == done.headers
