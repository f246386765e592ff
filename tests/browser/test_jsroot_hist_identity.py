"""JSROOT's own page draws boost-histogram and ``hist`` objects as physicists named them
(issue 15, items 1-2): the registered title above the frame, the name in the stats box, the
category labels under their bins and the axis titles, in real headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import JSROOT_DIR, LiveServer
from tests.browser.test_jsroot import jsroot_installed  # noqa: F401  (autouse: skips loudly)
from tests.render.test_hist_identity import require_module

pytestmark = pytest.mark.browser


bh = require_module("boost_histogram")
hist = require_module("hist")


def build(server: Any) -> None:
    channels = bh.Histogram(bh.axis.StrCategory(["ee", "mumu", "emu"]), storage=bh.storage.Weight())
    channels.fill(["ee", "mumu", "mumu", "emu", "emu", "emu"], weight=1.0)
    server.register("hists", channels, name="hch", title="events per channel")
    runs = hist.Hist(
        hist.axis.Regular(4, 0, 4, label="px [GeV]"),
        hist.axis.IntCategory([101, 102], label="run"),
        name="hrun",
        label="px per run",
    )
    runs.fill([0.5, 1.5, 2.5, 3.5], [101, 101, 102, 102])
    server.register("hists", runs)
    if JSROOT_DIR.is_dir():  # else the autouse check skips loudly (fails under CI=true)
        server.set_jsroot(JSROOT_DIR)


@pytest.fixture(scope="module")
def identity_server() -> Iterator[LiveServer]:
    server = LiveServer(build=build)
    server.start()
    yield server
    server.stop()


def svg_texts(page: Any) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('svg text')].map(t => t.textContent)")


def wait_for_text(page: Any, text: str) -> None:
    page.wait_for_function(
        "t => [...document.querySelectorAll('svg text')].some(e => e.textContent === t)",
        arg=text,
        timeout=15_000,
    )


def test_jsroot_shows_registered_titles_and_category_labels(
    page: Any, identity_server: LiveServer
) -> None:
    url = identity_server.url + (
        "jsroot.htm?nobrowser&nomonitoring&layout=grid1x2"
        "&items=[Objects/hists/hch,Objects/hists/hrun]&opts=[,colz]"
    )
    page.goto(url)
    wait_for_text(page, "events per channel")
    wait_for_text(page, "px per run")
    texts = svg_texts(page)
    # the registered name in the stats box, the categories under their bins
    assert {"hch", "ee", "mumu", "emu", "Entries"} <= set(texts)
    # hist's own name and label, its axis labels as axis titles, IntCategory labels
    assert {"hrun", "px [GeV]", "run", "101", "102"} <= set(texts)
    # JSROOT's own painter holds our object: the labels and the title as we sent them
    painted = page.evaluate(
        """() => {
             let found = null;
             window.hpainter.getDisplay().forEachPainter(p => {
               const h = p.getHisto?.();
               if (h?.fName === 'hch')
                 found = { title: h.fTitle, labels: h.fXaxis.fLabels.arr.map(s => s.fString),
                           ids: h.fXaxis.fLabels.arr.map(s => s.fUniqueID),
                           entries: h.fEntries };
             });
             return found; }"""
    )
    assert painted == {
        "title": "events per channel",
        "labels": ["ee", "mumu", "emu"],
        "ids": [1, 2, 3],
        "entries": 6,
    }
    assert page.log.errors == []
