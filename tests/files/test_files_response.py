"""file_response: validators, preconditions, ranges, HEAD, gzip and streaming."""

from __future__ import annotations

import email.utils
import gzip
import os
import re
from pathlib import Path

import pytest
import trio

from trioserve.files import (
    NO_CACHE,
    FileBody,
    FileChangedError,
    Locations,
    file_response,
    serve_location,
)

from .filesupport import collect, make_call

DATA = bytes(range(256)) * 40  # 10240 bytes; served as .dat (text/plain)
MTIME = 1_700_000_000  # 2023-11-14T22:13:20Z


@pytest.fixture
def blob(tmp_path: Path) -> Path:
    path = tmp_path / "blob.dat"
    path.write_bytes(DATA)
    os.utime(path, (MTIME, MTIME))
    return path


def http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


async def test_plain_200_headers(blob: Path) -> None:
    response = await file_response(make_call("/f/blob.dat"), blob)
    assert response.status == 200
    assert response.content_type == "text/plain; charset=utf-8"
    assert await collect(response) == DATA
    assert response.length == len(DATA)
    assert response.get_header("ETag") == f'"{len(DATA):x}-{MTIME * 10**9:x}"'
    assert response.get_header("Last-Modified") == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert response.get_header("Cache-Control") == "max-age=3600"
    assert response.get_header("Accept-Ranges") == "bytes"
    assert response.get_header("Content-Range") is None


async def test_cache_control_options(blob: Path) -> None:
    response = await file_response(make_call(), blob, max_age=60)
    assert response.get_header("Cache-Control") == "max-age=60"
    response = await file_response(make_call(), blob, nocache=True)
    assert response.get_header("Cache-Control") == NO_CACHE
    assert "no-store" in NO_CACHE


async def test_future_mtime_is_clamped(tmp_path: Path) -> None:
    path = tmp_path / "future.txt"
    path.write_text("x")
    future = 4_000_000_000
    os.utime(path, (future, future))
    response = await file_response(make_call(), path)
    parsed = email.utils.parsedate_to_datetime(response.get_header("Last-Modified"))
    assert parsed.timestamp() < future


async def test_304_by_etag(blob: Path) -> None:
    first = await file_response(make_call(), blob)
    etag = first.get_header("ETag")
    for value in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = await file_response(make_call(if_none_match=value), blob)
        assert response.status == 304, value
        assert await collect(response) == b""
        assert response.get_header("ETag") == etag
        assert response.get_header("Cache-Control") == "max-age=3600"
    response = await file_response(make_call(if_none_match='"nope"'), blob)
    assert response.status == 200


async def test_304_by_date(blob: Path) -> None:
    for since, expected in [
        (MTIME, 304),
        (MTIME + 10, 304),
        (MTIME - 1, 200),
    ]:
        response = await file_response(make_call(if_modified_since=http_date(since)), blob)
        assert response.status == expected, since
    # RFC 850 and asctime forms are HTTP-dates too
    for value in ("Tuesday, 14-Nov-23 22:13:20 GMT", "Tue Nov 14 22:13:20 2023"):
        response = await file_response(make_call(if_modified_since=value), blob)
        assert response.status == 304, value
    # garbage and dates in the future are ignored
    for value in ("yesterday", http_date(4_000_000_000)):
        response = await file_response(make_call(if_modified_since=value), blob)
        assert response.status == 200, value


async def test_if_none_match_wins_over_if_modified_since(blob: Path) -> None:
    call = make_call(if_none_match='"nope"', if_modified_since=http_date(MTIME + 10))
    response = await file_response(call, blob)
    assert response.status == 200


async def test_412_preconditions(blob: Path) -> None:
    etag = (await file_response(make_call(), blob)).get_header("ETag")
    cases = [
        ({"if_match": '"nope"'}, 412),
        ({"if_match": f"W/{etag}"}, 412),  # If-Match uses the strong comparison
        ({"if_match": etag}, 200),
        ({"if_match": "*"}, 200),
        ({"if_unmodified_since": http_date(MTIME - 1)}, 412),
        ({"if_unmodified_since": http_date(MTIME)}, 200),
        ({"if_unmodified_since": "garbage"}, 200),
        # If-Match present: If-Unmodified-Since is not looked at
        ({"if_match": etag, "if_unmodified_since": http_date(MTIME - 1)}, 200),
    ]
    for headers, expected in cases:
        response = await file_response(make_call(**headers), blob)
        assert response.status == expected, headers
    response = await file_response(make_call(if_match='"nope"'), blob)
    assert response.content_type == "application/json"


@pytest.mark.parametrize(
    ("range_value", "first", "last"),
    [
        ("bytes=0-99", 0, 99),  # first bytes
        ("bytes=10000-", 10000, len(DATA) - 1),  # open end
        ("bytes=-100", len(DATA) - 100, len(DATA) - 1),  # suffix
        ("bytes=-999999", 0, len(DATA) - 1),  # suffix longer than the file
        ("bytes=10200-99999", 10200, len(DATA) - 1),  # last clamped
        ("BYTES = 5-5", 5, 5),
        ("bytes=0-99, 999999-", 0, 99),  # unsatisfiable parts are dropped
    ],
)
async def test_206_single_range(blob: Path, range_value: str, first: int, last: int) -> None:
    response = await file_response(make_call(range=range_value), blob)
    assert response.status == 206
    assert response.get_header("Content-Range") == f"bytes {first}-{last}/{len(DATA)}"
    body = await collect(response)
    assert body == DATA[first : last + 1]
    assert response.length == last - first + 1


async def test_206_large_range_streams(blob: Path) -> None:
    response = await file_response(make_call(range="bytes=1-9000"), blob, chunk_size=1000)
    assert isinstance(response.body, FileBody)
    assert response.content_length == 9000
    assert await collect(response, max_chunk=1000) == DATA[1:9001]


@pytest.mark.parametrize("range_value", ["bytes=10240-", "bytes=99999-100000", "bytes=-0"])
async def test_416(blob: Path, range_value: str) -> None:
    response = await file_response(make_call(range=range_value), blob)
    assert response.status == 416
    assert response.get_header("Content-Range") == f"bytes */{len(DATA)}"


@pytest.mark.parametrize(
    "range_value",
    [
        "items=0-5",  # unknown unit
        "bytes=5-1",  # last < first: invalid
        "bytes=abc",
        "bytes=",
        "bytes=-",
        "bytes=0-1,1-2",  # overlapping
        "bytes=" + ",".join(f"{i * 2}-{i * 2}" for i in range(300)),  # too many
        "bytes=0-" + "9" * 30,  # absurd numbers: never int() them
        "bytes=" + "9" * 5000 + "-",
    ],
)
async def test_range_ignored_gives_full_200(blob: Path, range_value: str) -> None:
    response = await file_response(make_call(range=range_value), blob)
    assert response.status == 200
    assert await collect(response) == DATA


async def test_range_ignored_for_head(blob: Path) -> None:
    response = await file_response(make_call(method="HEAD", range="bytes=0-9"), blob)
    assert response.status == 200
    assert response.length == len(DATA)


async def test_multiple_ranges_multipart(blob: Path) -> None:
    response = await file_response(make_call(range="bytes=0-9, 500-509,-5"), blob)
    assert response.status == 206
    match = re.fullmatch(r"multipart/byteranges; boundary=(\w+)", response.content_type)
    assert match
    boundary = match.group(1).encode()
    body = await collect(response)
    assert response.length == len(body)
    assert body.endswith(b"\r\n--" + boundary + b"--\r\n")
    parts = body[: -len(b"\r\n--" + boundary + b"--\r\n")].split(b"\r\n--" + boundary + b"\r\n")
    assert parts[0].startswith(b"--" + boundary + b"\r\n")
    parts[0] = parts[0][len(b"--" + boundary + b"\r\n") :]
    expected = [(0, 9), (500, 509), (len(DATA) - 5, len(DATA) - 1)]
    assert len(parts) == 3
    for part, (first, last) in zip(parts, expected, strict=True):
        head, _, payload = part.partition(b"\r\n\r\n")
        assert f"Content-Range: bytes {first}-{last}/{len(DATA)}".encode() in head
        assert b"Content-Type: text/plain; charset=utf-8" in head
        assert payload == DATA[first : last + 1]


async def test_if_range(blob: Path) -> None:
    etag = (await file_response(make_call(), blob)).get_header("ETag")
    cases = [
        (etag, 206),
        ('"stale"', 200),
        (f"W/{etag}", 200),  # weak validators never satisfy If-Range
        (http_date(MTIME), 206),
        (http_date(MTIME - 60), 200),
        ("garbage", 200),
    ]
    for value, expected in cases:
        response = await file_response(make_call(range="bytes=0-9", if_range=value), blob)
        assert response.status == expected, value
        body = await collect(response)
        assert body == (DATA[:10] if expected == 206 else DATA)


async def test_head_keeps_content_length_and_sends_nothing(blob: Path) -> None:
    get = await file_response(make_call(), blob)
    head = await file_response(make_call(method="HEAD"), blob)
    assert head.status == 200
    assert head.length == get.length == len(DATA)
    assert head.headers == get.headers
    assert await collect(head) == b""


async def test_head_of_gzip_variant_has_gzip_length(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text("<p>hello</p>\n" * 500)
    get = await file_response(make_call(accept_encoding="gzip"), path)
    head = await file_response(make_call(method="HEAD", accept_encoding="gzip"), path)
    assert head.length == get.length == len(await collect(get))
    assert head.get_header("Content-Encoding") == "gzip"


async def test_gzip_for_compressible_when_accepted(tmp_path: Path) -> None:
    text = ("function f(x) { return x * 2; }\n" * 400).encode()
    path = tmp_path / "app.mjs"
    path.write_bytes(text)
    plain = await file_response(make_call(), path)
    assert plain.get_header("Content-Encoding") is None
    assert plain.get_header("Vary") == "Accept-Encoding"
    assert await collect(plain) == text

    zipped = await file_response(make_call(accept_encoding="br, gzip;q=0.8"), path)
    assert zipped.get_header("Content-Encoding") == "gzip"
    assert zipped.get_header("Vary") == "Accept-Encoding"
    assert zipped.content_type == "text/javascript; charset=utf-8"
    body = await collect(zipped)
    assert len(body) < len(text) // 10
    assert gzip.decompress(body) == text
    # the gzip variant has its own validator, and revalidates against it
    assert zipped.get_header("ETag") != plain.get_header("ETag")
    assert zipped.get_header("ETag").endswith('-gz"')
    again = await file_response(
        make_call(accept_encoding="gzip", if_none_match=zipped.get_header("ETag")), path
    )
    assert again.status == 304

    for refused in ("identity", "gzip;q=0", "deflate", "*;q=0", "gzip;q=0, *"):
        response = await file_response(make_call(accept_encoding=refused), path)
        assert response.get_header("Content-Encoding") is None, refused
    star = await file_response(make_call(accept_encoding="*"), path)
    assert star.get_header("Content-Encoding") == "gzip"

    # a Range request gets the identity representation, never a slice of gzip
    ranged = await file_response(make_call(accept_encoding="gzip", range="bytes=0-9"), path)
    assert ranged.status == 206
    assert ranged.get_header("Content-Encoding") is None
    assert await collect(ranged) == text[:10]


async def test_no_gzip_for_images_or_tiny_files(tmp_path: Path) -> None:
    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG" + b"\x00" * 5000)
    tiny = tmp_path / "tiny.css"
    tiny.write_text("a{}")
    for path in (png, tiny):
        response = await file_response(make_call(accept_encoding="gzip"), path)
        assert response.get_header("Content-Encoding") is None
        assert response.get_header("Vary") is None


async def test_large_gzip_is_streamed(tmp_path: Path) -> None:
    lines = b"".join(b"line %d of a long log file\n" % i for i in range(40_000))
    assert len(lines) > 1024 * 1024
    path = tmp_path / "big.txt"
    path.write_bytes(lines)
    response = await file_response(make_call(accept_encoding="gzip"), path, chunk_size=16384)
    assert isinstance(response.body, FileBody)
    assert response.content_length is None
    body = await collect(response)
    assert gzip.decompress(body) == lines


async def test_five_megabytes_streamed_in_bounded_chunks(tmp_path: Path) -> None:
    size = 5 * 1024 * 1024 + 123
    data = os.urandom(size)
    path = tmp_path / "big.dat"
    path.write_bytes(data)
    response = await file_response(make_call(), path, chunk_size=64 * 1024)
    assert response.status == 200
    body = response.body
    assert isinstance(body, FileBody)
    assert response.content_length == size
    count = 0
    got = bytearray()
    with trio.fail_after(10):
        async for chunk in body:
            assert 0 < len(chunk) <= 64 * 1024
            got += chunk
            count += 1
    assert bytes(got) == data
    assert count >= size // (64 * 1024)
    assert body.closed


async def test_abandoned_and_cancelled_bodies_close_the_file(tmp_path: Path) -> None:
    path = tmp_path / "big.dat"
    path.write_bytes(b"x" * 1_000_000)
    response = await file_response(make_call(), path, chunk_size=1000)
    body = response.body
    assert isinstance(body, FileBody)
    # a consumer cancelled in the middle of a read: the file is closed by __anext__
    with trio.CancelScope() as scope:
        async for _chunk in body:
            scope.cancel()
            await body.__anext__()  # cancelled inside our read
    assert scope.cancelled_caught
    assert body.closed
    # a consumer that stops early and calls aclose()
    response = await file_response(make_call(), path, chunk_size=1000)
    body = response.body
    assert isinstance(body, FileBody)
    await body.__anext__()
    assert not body.closed
    await body.aclose()
    assert body.closed
    with pytest.raises(StopAsyncIteration):
        await body.__anext__()


async def test_file_changed_while_serving(tmp_path: Path) -> None:
    path = tmp_path / "log.dat"
    path.write_bytes(b"a" * 200_000)
    response = await file_response(make_call(), path, chunk_size=1000)
    path.write_bytes(b"b" * 10)  # rotated under us
    with pytest.raises(FileChangedError):
        await collect(response)
    assert isinstance(response.body, FileBody) and response.body.closed


async def test_missing_and_non_regular(tmp_path: Path) -> None:
    assert (await file_response(make_call(), tmp_path / "nope")).status == 404
    assert (await file_response(make_call(), tmp_path)).status == 404


async def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    response = await file_response(make_call(), path)
    assert response.status == 200 and response.length == 0
    response = await file_response(make_call(range="bytes=0-"), path)
    assert response.status == 416
    assert response.get_header("Content-Range") == "bytes */0"


async def test_same_answers_through_serve_location(blob: Path) -> None:
    locations = Locations()
    locations.add("data/", blob.parent)
    response = await serve_location(make_call("/data/blob.dat", range="bytes=-3"), locations)
    assert response is not None and response.status == 206
    assert await collect(response) == DATA[-3:]
    head = await serve_location(make_call("/data/blob.dat", "HEAD"), locations)
    assert head is not None and head.length == len(DATA)
    etag = head.get_header("ETag")
    cached = await serve_location(make_call("/data/blob.dat", if_none_match=etag), locations)
    assert cached is not None and cached.status == 304
    fresh = await serve_location(make_call("/data/blob.dat"), locations, nocache=True)
    assert fresh is not None and fresh.get_header("Cache-Control") == NO_CACHE
