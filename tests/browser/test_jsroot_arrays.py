"""JSROOT (stock, from npm) draws plain arrays through their view items, and decodes a bare
array's root.json with its own parse() (issue 15, item 6). Real headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.browser.conftest import JSROOT_DIR, LiveServer
from tests.conftest import require_jsroot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def arrays_server() -> Iterator[LiveServer]:
    require_jsroot(JSROOT_DIR)

    def build(server: Any) -> None:
        server.register("data", np.sin(np.linspace(0, 6.0, 60)) * 10, name="wave")
        server.register("data", [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], name="grid")
        server.register("data", [0.5] * 40, name="flat")
        server.set_jsroot(JSROOT_DIR)

    live = LiveServer(build=build)
    live.start()
    yield live
    live.stop()


def drawn(page: Any) -> int:
    return page.evaluate(
        "() => [...document.querySelectorAll('svg path')]"
        ".reduce((n, p) => n + (p.getAttribute('d') || '').length, 0)"
    )


def test_jsroot_draws_a_1d_array_as_a_graph(page: Any, arrays_server: LiveServer) -> None:
    page.goto(arrays_server.url + "jsroot.htm?nobrowser&item=Objects/data/wave/graph")
    page.wait_for_function("() => window.hpainter")
    page.wait_for_function(
        "() => [...document.querySelectorAll('svg path')]"
        ".some(p => (p.getAttribute('d') || '').length > 300)",
        timeout=15_000,
    )
    own = [u for u in page.log.requests if u.startswith(arrays_server.url)]
    assert any("Objects/data/wave/graph/root.json.gz?compact=23" in u for u in own)
    painter = page.evaluate(
        "() => { const p = window.hpainter.findItem('Objects/data/wave/graph'); "
        "return p ? p._kind : null; }"
    )
    assert painter == "ROOT.TGraph"
    assert page.log.errors == []


def test_jsroot_expands_an_array_and_draws_its_2d_view(
    page: Any, arrays_server: LiveServer
) -> None:
    page.goto(arrays_server.url + "jsroot.htm")
    page.wait_for_function("() => window.hpainter")
    children = page.evaluate(
        """async () => {
             await window.hpainter.expandItem('Objects/data/grid');
             const item = window.hpainter.findItem('Objects/data/grid');
             return item._childs.map(c => [c._name, c._kind]); }"""
    )
    assert children == [["hist", "ROOT.TH2D"]]
    before = drawn(page)
    page.evaluate("() => window.hpainter.display('Objects/data/grid/hist', 'col')")
    page.wait_for_function(
        f"() => [...document.querySelectorAll('svg path')].length > 0 && "
        f"[...document.querySelectorAll('svg path')].reduce((n, p) => "
        f"n + (p.getAttribute('d') || '').length, 0) > {before + 100}",
        timeout=15_000,
    )
    texts = page.evaluate(
        "() => [...document.querySelectorAll('svg text')].map(t => t.textContent)"
    )
    assert "row" in texts and "column" in texts  # the view's axis titles
    assert page.log.errors == []


def test_jsroot_parse_decodes_a_bare_array_at_compact_23(
    page: Any, arrays_server: LiveServer
) -> None:
    page.goto(arrays_server.url + "jsroot.htm")
    page.wait_for_function("() => window.hpainter")
    result = page.evaluate(
        """async () => {
             const { httpRequest } = await import('jsroot/core');
             const flat = await httpRequest('Objects/data/flat/root.json?compact=23', 'object');
             const wave = await httpRequest('Objects/data/wave/root.json.gz?compact=33', 'object');
             return [Array.isArray(flat), flat.length, flat[39],
                     Array.isArray(wave), wave.length]; }"""
    )
    assert result == [True, 40, 0.5, True, 60]
    assert page.log.errors == []
