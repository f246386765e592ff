"""The link ``trioserve demo --token`` prints, opened in real Chromium: the whole UI works
through it (modules, hierarchy, drawings), and the same page without the token shows nothing
of the tree."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import ROOT, free_port
from tests.browser.test_ui import click_name, expand, frame, open_ui

pytestmark = pytest.mark.browser


@pytest.fixture
def token_demo() -> Iterator[str]:
    """``trioserve demo --token`` as a user runs it; yields the URL it prints."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "trioserve.cli", "demo", "--port", str(port), "--token"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    try:
        url = None
        for line in process.stdout:  # ends when the demo prints its link, or dies (EOF)
            found = re.search(r"with token: (\S+)", line)
            if found:
                url = found.group(1)
                break
        assert url is not None, "trioserve demo --token printed no link"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()


def test_the_printed_token_link_opens_the_ui(page: Any, token_demo: str) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=ts1\.[\w-]+\.[\w-]+", token_demo)
    open_ui(page, token_demo + "&layout=simple&nomonitoring")
    expand(page, "Objects/hists")
    click_name(page, "Objects/hists/hpx")
    page.wait_for_selector("section.frame[data-item='Objects/hists/hpx'][data-view='hist1d']")
    assert "Entries" in frame(page, "Objects/hists/hpx").locator("svg.hist1d .stats").text_content()
    # the page's own requests never carried the token: the cookie did
    assert [u for u in page.log.requests if "token=" in u] == [
        token_demo + "&layout=simple&nomonitoring"
    ]
    assert page.log.errors == []


def test_without_the_token_the_tree_stays_hidden(browser_context: Any, token_demo: str) -> None:
    bare = token_demo.split("?")[0]
    tab = browser_context.browser.new_context().new_page()  # no cookie from other tests
    try:
        reply = tab.goto(bare + "Objects/hists/hpx/root.json")
        assert reply is not None and reply.status == 404
        page = tab.goto(bare)  # the top is hidden: the browser gets the 404 error page
        assert page is not None and page.status == 404
        assert "no such item" in tab.content() and "Objects" not in tab.content()
    finally:
        tab.context.close()
