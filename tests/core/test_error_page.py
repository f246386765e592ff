"""Error replies: an HTML page when the client prefers HTML, the JSON body otherwise.

The negotiation and the page are plain functions (table-driven tests below); the last tests
ask a real server over a real socket with the Accept headers browsers and scripts send.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import trio

from trioserve import Server, Text
from trioserve.call import Call, Response, error_response
from trioserve.error_page import (
    PAGE_CSP,
    accept_quality,
    negotiate_error,
    prefers_html,
    render_error_page,
)

#: what Chromium and Firefox send for a navigation, and what fetch(), curl and JSROOT send
CHROMIUM_NAVIGATION = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
FIREFOX_NAVIGATION = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
IMG_ELEMENT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "media_type", "q"),
    [
        ("text/html", "text/html", 1.0),
        ("text/*;q=0.4", "text/html", 0.4),
        ("*/*;q=0.2, text/*;q=0.5, text/html;q=0.9", "text/html", 0.9),  # most specific wins
        ("text/html;q=0.9, */*", "application/json", 1.0),
        ("application/json;q=0", "application/json", 0.0),
        ("image/png", "text/html", 0.0),
        ("TEXT/HTML;Q=0.3", "text/html", 0.3),
        ("text/html;q=abc", "text/html", 0.0),  # a broken q counts as "not acceptable"
        ("text/html;q=7", "text/html", 1.0),
        ("", "text/html", 0.0),
    ],
)
def test_accept_quality(accept: str, media_type: str, q: float) -> None:
    assert accept_quality(accept, media_type) == q


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (CHROMIUM_NAVIGATION, True),
        (FIREFOX_NAVIGATION, True),
        ("text/html", True),
        ("*/*", False),  # fetch(), curl, httpx, JSROOT: a tie keeps JSON
        (None, False),
        ("", False),
        ("application/json", False),
        ("application/json, text/html;q=0.9", False),
        ("text/html, application/json", False),
        (IMG_ELEMENT, False),
        ("text/html;q=0.5, application/json;q=0.4", True),
    ],
)
def test_prefers_html(accept: str | None, html: bool) -> None:
    assert prefers_html(accept) is html


def _call(accept: str | None, path: str = "/Objects/hists/nothere/root.json") -> Call:
    headers = [("accept", accept)] if accept is not None else []
    return Call(method="GET", path=path, headers=headers)


def test_a_browser_gets_the_page_with_status_message_and_code_escaped() -> None:
    response = error_response(404, "not_found", "no item <script>alert(1)</script> & more")
    negotiate_error(_call(CHROMIUM_NAVIGATION), response)
    page = bytes(response.body).decode()  # type: ignore[arg-type]
    assert response.status == 404
    assert response.content_type == "text/html; charset=utf-8"
    assert response.get_header("Content-Security-Policy") == PAGE_CSP
    assert response.get_header("X-Content-Type-Options") == "nosniff"
    assert response.get_header("Vary") == "Accept"
    assert "<title>404 Not Found - trioserve</title>" in page
    assert "no item &lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert "<script" not in page
    assert "<code>not_found</code>" in page
    # the link to the top is relative: the page works under any front-end prefix
    assert '<a href="../../../">' in page


def test_a_script_keeps_the_json_body() -> None:
    response = error_response(404, "not_found", "no such item")
    before = bytes(response.body)  # type: ignore[arg-type]
    negotiate_error(_call("*/*"), response)
    assert response.content_type == "application/json"
    assert response.body == before
    assert json.loads(before)["error"] == "not_found"
    assert response.get_header("Vary") == "Accept"  # the body depends on Accept


@pytest.mark.parametrize(
    "response",
    [
        Response(status=200, body=b'{"message": "fine"}'),  # not an error
        Response(status=404, content_type="text/plain", body=b"missing"),
        Response(status=500, body=b"not json"),
        Response(status=400, body=b"[1, 2]"),
        Response(status=400, body=b'{"message": 3}'),
    ],
)
def test_other_replies_are_left_alone(response: Response) -> None:
    before = (response.status, response.content_type, response.body, list(response.headers))
    negotiate_error(_call(CHROMIUM_NAVIGATION), response)
    assert (response.status, response.content_type, response.body, response.headers) == before


async def test_streamed_bodies_are_left_alone() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"{}"

    response = Response(status=500, body=chunks())
    negotiate_error(_call(CHROMIUM_NAVIGATION), response)
    assert response.content_type == "application/json"


@pytest.mark.parametrize(
    ("status", "title"),
    [(400, "400 Bad Request"), (501, "501 Not Implemented"), (599, "599 Error")],
)
def test_page_titles(status: int, title: str) -> None:
    assert f'<h1 class="status">{title}</h1>' in render_error_page(status, "x", "y").decode()


@pytest.mark.parametrize(
    ("path", "top"),
    [("/root.json", "./"), ("/a/", "../"), ("/Objects/hists/hpx/root.png", "../../../")],
)
def test_the_link_back_is_relative_to_the_request(path: str, top: str) -> None:
    response = error_response(404, "not_found", "gone")
    negotiate_error(_call("text/html", path), response)
    assert f'<a href="{top}">' in bytes(response.body).decode()  # type: ignore[arg-type]


@pytest.fixture
async def base_url(nursery: trio.Nursery) -> str:
    server = Server(top_name="errors")
    server.register("/", Text("x"), name="status")
    await nursery.start(server.serve, "http:127.0.0.1:0")
    host, port = server.addresses[0][:2]
    return f"http://{host}:{port}"


async def test_over_a_real_socket(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        page = await client.get("/nothere/root.json", headers={"Accept": FIREFOX_NAVIGATION})
        assert page.status_code == 404
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "404 Not Found" in page.text and "no such" in page.text
        assert page.headers["content-length"] == str(len(page.content))
        plain = await client.get("/nothere/root.json")  # httpx sends */*
        assert plain.status_code == 404
        assert plain.json()["error"] == "not_found"
        wrong = await client.put("/status/root.json", headers={"Accept": "text/html"})
        assert wrong.status_code == 405 and "405 Method Not Allowed" in wrong.text
        assert wrong.headers["allow"] == "GET, HEAD, POST"
        fine = await client.get("/status/item.json", headers={"Accept": FIREFOX_NAVIGATION})
        assert fine.status_code == 200 and fine.headers["content-type"] == "application/json"
