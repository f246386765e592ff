"""The UI behind digest authentication: Chromium logs in, the page shows the user."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser

REALM = "trioserve-ui"
HTTP_CREDENTIALS = {"username": "alice", "password": "wonderland"}  # read by browser_context


def build(server: Any) -> None:
    from trioserve.items import Text

    server.register("/", Text("for alice"), name="note", title="private note")
    server.set_item_field("/", "_toptitle", "Alice's monitor")


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder: Path = tmp_path_factory.mktemp("auth")
    user, password = HTTP_CREDENTIALS["username"], HTTP_CREDENTIALS["password"]
    ha1 = hashlib.md5(f"{user}:{REALM}:{password}".encode()).hexdigest()
    (folder / ".htdigest").write_text(f"{user}:{REALM}:{ha1}\n")
    server = LiveServer(
        build=build,
        spec=f"http:127.0.0.1:0?auth_file={folder / '.htdigest'}&auth_domain={REALM}",
    )
    server.start()
    yield server
    server.stop()


def test_logged_in_user_is_shown(page: Any, auth_server: LiveServer) -> None:
    assert httpx.get(auth_server.url + "tsui.mjs", timeout=5).status_code == 401  # really on
    page.goto(auth_server.url + "?item=note")
    page.wait_for_selector("#app[data-ready='true']")
    assert page.locator("header .user").inner_text() == "user: alice"
    assert page.locator("header .heading").inner_text() == "Alice's monitor"
    assert page.title() == "Alice's monitor"
    page.wait_for_selector("section.frame[data-item='note'][data-view='text']")
    assert page.locator("section.frame[data-item='note'] .text-item").inner_text() == "for alice"
    assert page.log.errors == []
