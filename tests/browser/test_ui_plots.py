"""Log scales, zoom, tooltips, an item's own page and the layout a page asked for, in real
headless Chromium against real servers.

Histograms with known contents (one decade per bin) make the checks exact: on a log axis
the bins' tops are equally spaced and the labels are the decades; the tooltip names the bin
and the content the server holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, doc_shot

pytestmark = pytest.mark.browser

DECADES = [1.0, 10.0, 100.0, 1000.0, 10000.0]


def build_known(server: Any) -> None:
    from trioserve.histograms import Hist1D, Hist2D

    steps = Hist1D("steps", "one decade per bin", 5, 0.0, 5.0)
    for i, content in enumerate(DECADES):
        steps.fill(i + 0.5, weight=content)
    server.register("hists", steps)
    same = Hist1D("steps_logy", "the same, _drawopt logy", 5, 0.0, 5.0)
    for i, content in enumerate(DECADES):
        same.fill(i + 0.5, weight=content)
    server.register("hists", same)
    server.set_item_field("/Objects/hists/steps_logy", "_drawopt", "logy")
    grid = Hist2D("grid", "known cells", 4, 0.0, 4.0, 3, 0.0, 3.0)
    for ix in range(4):
        for iy in range(3):
            grid.fill(ix + 0.5, iy + 0.5, weight=cell_content(ix, iy))
    server.register("hists", grid)


def cell_content(ix: int, iy: int) -> float:
    return 10.0 ** ((ix + iy) % 4)  # 1, 10, 100, 1000


@pytest.fixture(scope="module")
def known_server() -> Iterator[LiveServer]:
    server = LiveServer(build=build_known)
    server.start()
    yield server
    server.stop()


def open_ui(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#app[data-ready='true']")


def plot_selector(item: str, kind: str) -> str:
    return f"section.frame[data-item='{item}'] .plot.{kind}"


def bin_tops(page: Any, selector: str) -> list[float]:
    """The y pixel of each bin's plateau, read from the drawn SVG path."""
    d = page.get_attribute(f"{selector} path.bins", "d")
    points = [tuple(map(float, p.split(","))) for p in re.findall(r"-?[\d.]+,-?[\d.]+", d)]
    # M(base) then two points per bin (left and right end of its plateau), then L(base) Z
    return [points[1 + 2 * i][1] for i in range((len(points) - 2) // 2)]


def pixel_of(page: Any, selector: str, x: float, y: float) -> dict[str, float]:
    """Where the data point (x, y) is on the page, from the plot's own scales."""
    return page.eval_on_selector(
        selector,
        """(p, [x, y]) => { const r = p.getBoundingClientRect(), i = p.plotInfo;
                           return { x: r.left + i.sx.map(x), y: r.top + i.sy.map(y) }; }""",
        [x, y],
    )


def test_logy_from_the_url_draws_decades(page: Any, known_server: LiveServer) -> None:
    open_ui(page, known_server.url + "?item=Objects/hists/steps&opt=logy&nomonitoring")
    plot = plot_selector("Objects/hists/steps", "hist1d")
    page.wait_for_selector(plot)
    assert page.get_attribute(plot, "data-logy") == "true"
    # a log axis, not the line style "l" hidden in "logy": filled steps, no polyline
    assert page.locator(f"{plot} polyline").count() == 0
    labels = page.locator(f"{plot} text.ytick").all_text_contents()
    assert labels == ["1", "10", "100", "1000", "10000"]
    tops = bin_tops(page, plot)
    steps = [tops[i] - tops[i + 1] for i in range(4)]
    assert min(steps) > 20 and max(steps) - min(steps) < 0.01  # one decade, one equal step

    open_ui(page, known_server.url + "?item=Objects/hists/steps&nomonitoring")  # linear
    page.wait_for_selector(plot)
    assert page.get_attribute(plot, "data-logy") == "false"
    tops = bin_tops(page, plot)
    assert tops[0] - tops[1] < 0.01 * (tops[0] - tops[4])  # the small bins vanish: why log
    assert page.log.errors == []


def test_drawopt_field_gives_the_log_scale(page: Any, known_server: LiveServer) -> None:
    open_ui(page, known_server.url + "?layout=simple&item=&nomonitoring")
    page.locator("li.titem[data-path='Objects/hists'] > .trow > .toggle").click()
    page.locator("li.titem[data-path='Objects/hists/steps_logy'] > .trow > .tname").click()
    plot = plot_selector("Objects/hists/steps_logy", "hist1d")
    page.wait_for_selector(plot)
    assert page.get_attribute(plot, "data-logy") == "true"
    assert page.log.errors == []


def test_logz_colours_decades_evenly(page: Any, known_server: LiveServer) -> None:
    open_ui(page, known_server.url + "?item=Objects/hists/grid&opt=colz;logz&nomonitoring")
    canvas = plot_selector("Objects/hists/grid", "hist2d")
    page.wait_for_selector(canvas)
    assert page.get_attribute(canvas, "data-logz") == "true"
    # the colour of each cell against the palette at log10(content) / 3
    found = page.eval_on_selector(
        canvas,
        """async c => {
             const { palette } = await import('./tsui-colormap.mjs');
             const info = c.plotInfo, ratio = c.width / c.getBoundingClientRect().width;
             const ctx = c.getContext('2d'), out = [];
             for (const [ix, iy] of [[0, 0], [1, 0], [2, 0], [3, 0], [1, 2]]) {
               const x = info.sx.map(ix + 0.5) * ratio, y = info.sy.map(iy + 0.5) * ratio;
               out.push([[...ctx.getImageData(x, y, 1, 1).data.slice(0, 3)],
                         palette(((ix + iy) % 4) / 3)]);
             }
             return out; }""",
    )
    for drawn, expected in found:
        assert all(abs(a - b) <= 2 for a, b in zip(drawn, expected, strict=True)), found
    assert page.log.errors == []


def test_drag_zooms_an_axis_and_double_click_unzooms(page: Any, live_server: LiveServer) -> None:
    # the live demo, monitored: the zoom must survive every redraw
    open_ui(page, live_server.url + "?item=Objects/hists/hpx&layout=simple&monitoring=300")
    frame = page.locator("section.frame[data-item='Objects/hists/hpx']")
    plot = plot_selector("Objects/hists/hpx", "hist1d")
    page.wait_for_selector(plot)
    assert page.get_attribute(plot, "data-xrange") == "-4 4"
    start = pixel_of(page, plot, -1.3, 10)
    end = pixel_of(page, plot, 1.7, 10)
    page.mouse.move(start["x"], start["y"])
    page.mouse.down()
    page.mouse.move((start["x"] + end["x"]) / 2, start["y"], steps=3)
    page.mouse.move(end["x"], end["y"], steps=3)
    page.mouse.up()
    page.wait_for_selector("section.frame[data-item='Objects/hists/hpx'][data-zoomed='true']")
    zoomed = page.get_attribute(plot, "data-xrange")
    lo, hi = map(float, zoomed.split())
    # ROOT zooms by whole bins (0.08 wide here): the range holds the drag, and barely more
    assert lo <= -1.3 < lo + 0.08 + 1e-9 and hi - 0.08 - 1e-9 < 1.7 <= hi
    updates = int(frame.get_attribute("data-updates"))
    page.wait_for_function(
        "n => Number(document.querySelector(\"section.frame[data-item='Objects/hists/hpx']\")"
        ".dataset.updates) > n",
        arg=updates,
    )
    assert page.get_attribute(plot, "data-xrange") == zoomed  # redrawn, still zoomed
    doc_shot(page, "ui-zoom.png", page.locator("section.frame"))

    # a drag along the y axis zooms y only
    box = page.eval_on_selector(plot, "p => p.plotInfo.box")
    rect = page.eval_on_selector(plot, "p => p.getBoundingClientRect().toJSON()")
    x = rect["x"] + box["x0"] - 20
    page.mouse.move(x, rect["y"] + box["y0"] - 10)
    page.mouse.down()
    page.mouse.move(x, rect["y"] + (box["y0"] + box["y1"]) / 2, steps=4)
    page.mouse.up()
    page.wait_for_function(
        "p => !document.querySelector(p).dataset.yrange.startsWith('0 ')", arg=plot
    )
    assert page.get_attribute(plot, "data-xrange") == zoomed

    middle = pixel_of(page, plot, 0.0, 1)
    page.mouse.dblclick(middle["x"], middle["y"])
    page.wait_for_selector("section.frame[data-item='Objects/hists/hpx']:not([data-zoomed])")
    assert page.get_attribute(plot, "data-xrange") == "-4 4"
    assert page.log.errors == []


def test_tooltip_names_the_bin_and_its_content(page: Any, known_server: LiveServer) -> None:
    open_ui(page, known_server.url + "?item=Objects/hists/steps&opt=logy&nomonitoring")
    plot = plot_selector("Objects/hists/steps", "hist1d")
    page.wait_for_selector(plot)
    at = pixel_of(page, plot, 2.5, 1)
    page.mouse.move(at["x"], at["y"])
    tip = page.locator("section.frame .plot-tip")
    tip.wait_for(state="visible")
    assert tip.inner_text().splitlines() == ["bin 3: [2, 3)", "content 100"]
    page.mouse.move(at["x"], at["y"] + 400)  # out of the plot: the tooltip goes
    tip.wait_for(state="hidden")

    open_ui(page, known_server.url + "?item=Objects/hists/grid&nomonitoring")
    canvas = plot_selector("Objects/hists/grid", "hist2d")
    page.wait_for_selector(canvas)
    at = pixel_of(page, canvas, 2.5, 1.5)
    page.mouse.move(at["x"], at["y"])
    tip = page.locator("section.frame .plot-tip")
    tip.wait_for(state="visible")
    assert tip.get_attribute("data-bin") == "3,2"
    assert tip.inner_text().splitlines() == ["x [2, 3)", "y [1, 2)", "content 1000"]
    assert page.log.errors == []


def test_an_items_own_page_draws_it_at_once(page: Any, live_server: LiveServer) -> None:
    open_ui(page, live_server.url + "Objects/hists/hpx/")
    page.wait_for_selector("section.frame[data-item=''][data-view='hist1d']")
    assert page.locator("section.frame .fname").first.inner_text() == "hpx"
    assert page.locator("section.frame").count() == 1
    open_ui(page, live_server.url + "Objects/hists/hpxpy/?opt=colz;logz")
    page.wait_for_selector("section.frame[data-item=''] canvas.hist2d[data-logz='true']")
    assert page.log.errors == []


def test_items_from_the_url_get_the_layout_asked_for(page: Any, live_server: LiveServer) -> None:
    # the demo's _layout (grid2x2) is for its own four _drawitem entries
    area = page.locator("main.area")
    open_ui(page, live_server.url + "?item=Objects/hists/hpx&opt=logy")
    page.wait_for_selector("section.frame[data-item='Objects/hists/hpx'] svg[data-logy='true']")
    assert area.get_attribute("data-layout") == "1x1"
    assert page.locator("section.frame").count() == 1
    doc_shot(page, "ui-logy.png", page.locator("section.frame"))
    open_ui(page, live_server.url + "?item=[Objects/hists/hpx,Objects/hists/hpxpy]")
    page.wait_for_selector("section.frame[data-item='Objects/hists/hpxpy'][data-view='hist2d']")
    assert area.get_attribute("data-layout") == "2x1"
    open_ui(page, live_server.url + "?item=Objects/hists/hpx&opt=logy&layout=grid1x2")
    page.wait_for_selector("section.frame[data-item='Objects/hists/hpx'] svg[data-logy='true']")
    assert area.get_attribute("data-layout") == "1x2"  # asked for in the URL: kept
    assert page.log.errors == []
