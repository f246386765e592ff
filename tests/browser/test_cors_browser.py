"""CORS from a second origin in real Chromium: what a page elsewhere may read from us.

Two servers on 127.0.0.1 with different ports are two origins. The page comes from the
first; the second is the monitored program, configured ROOT's way on the engine
(``cors=<list>&cred_cors`` or ``cors&cred_cors``). Chromium runs the fetches, so the
preflight, the credentials rule and the exposed headers are judged by a real browser:

* a credentialed fetch with a custom header (so a preflight comes first) from a listed origin;
* JSROOT's binary long-poll: an ``application/x-binary`` reply whose ``LongpollHeader`` the
  script must be able to read (``XMLHttpRequest.getResponseHeader``, as webwindow.mjs does);
* ``cors&cred_cors``: a credentialed fetch (the reply used to say ``*``, which Chromium refuses
  next to credentials).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser

PAYLOAD = [0, 1, 2, 250]
HEADER = "hdr:cross-origin"


def _build_api(server: Any) -> None:
    from trioserve.items import Text
    from trioserve.ws import WebSocketHandler, WithHeader

    class Binary(WebSocketHandler):
        """Answers every message with binary data announced by a header (SendHeaderWS)."""

        async def on_data(self, conn: Any, message: Any) -> None:
            await conn.send(WithHeader(HEADER, bytes(PAYLOAD)))

    server.register("/", Text("readable elsewhere"), name="note")
    server.register("/", Binary(), name="lp")


@pytest.fixture(scope="module")
def page_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder: Path = tmp_path_factory.mktemp("other-origin")
    (folder / "page.html").write_text("<!DOCTYPE html><title>another origin</title><p>app</p>")
    server = LiveServer(build=lambda s: s.add_location("app/", folder))
    server.start()
    yield server
    server.stop()


def _origin(server: LiveServer) -> str:
    return server.url.rstrip("/")


@pytest.fixture(scope="module")
def listed_api(page_server: LiveServer) -> Iterator[LiveServer]:
    origins = f"http://not-this-one.example,{_origin(page_server)}"
    server = LiveServer(build=_build_api, spec=f"http:127.0.0.1:0?cors={origins}&cred_cors")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def any_api() -> Iterator[LiveServer]:
    server = LiveServer(build=_build_api, spec="http:127.0.0.1:0?cors&cred_cors")
    server.start()
    yield server
    server.stop()


CREDENTIALED_FETCH = """async (api) => {
    try {
        const r = await fetch(api + 'note/root.json', {
            credentials: 'include',
            headers: {'X-Requested-With': 'trioserve-test'},  // not safelisted: a preflight
        });
        return {ok: r.ok, text: await r.text()};
    } catch (e) {
        return {error: String(e)};
    }
}"""

BINARY_LONGPOLL = """async (api) => {
    const lp = api + 'lp/root.longpoll';
    const opts = {credentials: 'include'};
    try {
        const id = (await (await fetch(lp + '?txt_connect', opts)).text()).trim();
        const sent = await fetch(lp + '?connection=' + id,
                                 {...opts, method: 'POST', body: 'send me binary'});
        await sent.text();
        // the poll as JSROOT's webwindow.mjs makes it: XHR, arraybuffer, header read by name
        const reply = await new Promise((resolve, reject) => {
            const xhr = new XMLHttpRequest();
            xhr.open('GET', lp + '?connection=' + id + '&dummy');
            xhr.withCredentials = true;
            xhr.responseType = 'arraybuffer';
            xhr.onload = () => resolve({
                status: xhr.status,
                type: xhr.getResponseHeader('Content-Type'),
                header: xhr.getResponseHeader('LongpollHeader'),
                bytes: Array.from(new Uint8Array(xhr.response)),
            });
            xhr.onerror = () => reject(new Error('xhr failed'));
            xhr.send();
        });
        await fetch(lp + '?connection=' + id + '&close', opts);
        return reply;
    } catch (e) {
        return {error: String(e)};
    }
}"""


def test_credentialed_fetch_with_a_preflight_from_a_listed_origin(
    page: Any, page_server: LiveServer, listed_api: LiveServer
) -> None:
    page.goto(page_server.url + "app/page.html")
    result = page.evaluate(CREDENTIALED_FETCH, listed_api.url)
    assert result.get("ok") is True, result
    assert "readable elsewhere" in result["text"]


def test_binary_longpoll_header_is_readable_cross_origin(
    page: Any, page_server: LiveServer, listed_api: LiveServer
) -> None:
    page.goto(page_server.url + "app/page.html")
    result = page.evaluate(BINARY_LONGPOLL, listed_api.url)
    assert "error" not in result, result
    assert result["status"] == 200
    assert result["type"] == "application/x-binary"
    assert result["header"] == HEADER
    assert result["bytes"] == PAYLOAD


def test_cors_with_cred_cors_lets_a_credentialed_fetch_through(
    page: Any, page_server: LiveServer, any_api: LiveServer
) -> None:
    page.goto(page_server.url + "app/page.html")
    result = page.evaluate(CREDENTIALED_FETCH, any_api.url)
    assert result.get("ok") is True, result
    assert "readable elsewhere" in result["text"]
