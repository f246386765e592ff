"""The built-in UI in real headless Chromium against a real server running the demo."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import (
    HANG_GUARD_MS,
    MANY,
    SCRIPT_COMMENT,
    XSS_NAME,
    XSS_TITLE,
    XSS_VALUE,
    LiveServer,
)

pytestmark = pytest.mark.browser


def open_ui(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#app[data-ready='true']")


def row(page: Any, path: str) -> Any:
    return page.locator(f"li.titem[data-path='{path}']").first


def click_name(page: Any, path: str) -> None:
    row(page, path).locator(":scope > .trow > .tname").click()


def expand(page: Any, path: str) -> None:
    item = row(page, path)
    if "open" not in (item.get_attribute("class") or ""):
        item.locator(":scope > .trow > .toggle").click()
    page.wait_for_selector(f"li.titem.open[data-path='{path}']")


def frame(page: Any, path: str) -> Any:
    return page.locator(f"section.frame[data-item='{path}']")


def canvas_coloured_pixels(page: Any, selector: str) -> int:
    return page.eval_on_selector(
        selector,
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let n = 0;
                  for (let i = 0; i < d.length; i += 4) {
                    const [r, g, b] = [d[i], d[i + 1], d[i + 2]];
                    if (Math.max(r, g, b) - Math.min(r, g, b) > 40) n++;  // saturated = palette
                  }
                  return n; }""",
    )


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (the hang guard is the only limit)."""
    deadline = time.monotonic() + HANG_GUARD_MS / 1000
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.02)


def test_tree_expands_and_histograms_are_drawn(page: Any, live_server: LiveServer) -> None:
    open_ui(page, live_server.url + "?layout=simple&item=&nomonitoring")
    assert page.title() == "trioserve"  # the top _title
    expand(page, "Objects/hists")
    assert row(page, "Objects/hists/hpx").is_visible()

    click_name(page, "Objects/hists/hpx")
    view = frame(page, "Objects/hists/hpx")
    page.wait_for_selector("section.frame[data-item='Objects/hists/hpx'][data-view='hist1d']")
    bins = int(view.locator("svg.hist1d").get_attribute("data-drawn-bins"))
    assert bins > 20  # a normal distribution over 100 bins: most are filled
    outline = view.locator("svg.hist1d path.bins").get_attribute("d")
    assert outline.count("L") > 100  # one step per bin, really drawn
    assert "Entries" in view.locator("svg.hist1d .stats").text_content()

    click_name(page, "Objects/hists/hpxpy")  # simple layout: replaces the drawing
    page.wait_for_selector("section.frame[data-item='Objects/hists/hpxpy'][data-view='hist2d']")
    assert frame(page, "Objects/hists/hpx").count() == 0
    canvas = "section.frame[data-item='Objects/hists/hpxpy'] canvas.hist2d"
    assert int(page.get_attribute(canvas, "data-drawn-bins")) > 100
    assert canvas_coloured_pixels(page, canvas) > 2000
    assert page.log.errors == []


def test_object_members_expand_lazily(page: Any, live_server: LiveServer) -> None:
    open_ui(page, live_server.url + "?layout=simple&item=&nomonitoring")
    expand(page, "Objects/config")
    before = len(page.log.requests)
    expand(page, "Objects/config/settings")  # _more: children come from settings/h.json
    assert any("settings/h.json" in url for url in page.log.requests[before:])
    assert row(page, "Objects/config/settings/position").is_visible()
    click_name(page, "Objects/config/settings/gain")
    page.wait_for_selector("section.frame[data-item='Objects/config/settings/gain'][data-view]")
    assert frame(page, "Objects/config/settings/gain").locator(".scalar-value").inner_text() == (
        "1.5"
    )
    click_name(page, "Objects/config/settings")  # a dataclass: a collapsible JSON tree
    settings = frame(page, "Objects/config/settings")
    page.wait_for_selector("section.frame[data-view='json'] details.jnode")
    assert "detector-A" in settings.inner_text()
    nested = settings.locator("details.jnode[data-jpath='/position'] > summary")
    nested.click()
    assert "Position" in nested.inner_text()
    page.wait_for_selector("details.jnode[data-jpath='/position'][open] .jleaf")
    assert settings.locator("details.jnode[data-jpath='/position'] .jleaf").count() == 2
    assert page.log.errors == []


def test_monitoring_toggle_refreshes_displayed_items(page: Any, live_server: LiveServer) -> None:
    open_ui(page, live_server.url + "?layout=simple&item=&nomonitoring")
    page.uncheck("input.monitor")
    expand(page, "Objects/live")
    expand(page, "Objects/live/counter")
    click_name(page, "Objects/live/counter/value")
    value = frame(page, "Objects/live/counter/value").locator(".scalar-value")
    value.wait_for()
    first = int(value.inner_text())
    # the demo counts 10 times a second; wait until the server's counter has moved on by
    # several ticks (an event, not a time budget): the page must not have followed
    demo = live_server.extra["demo"]
    wait_until(lambda: live_server.call(lambda: demo.counter.value) > first + 5)
    assert int(value.inner_text()) == first

    page.fill("input.interval", "200")
    page.check("input.monitor")
    page.wait_for_function(
        """first => Number(document.querySelector(
             "section.frame[data-item='Objects/live/counter/value'] .scalar-value").textContent)
           > first""",
        arg=first,
    )
    updates = int(frame(page, "Objects/live/counter/value").get_attribute("data-updates"))
    page.wait_for_function(  # monitoring goes on refreshing
        """n => Number(document.querySelector(
             "section.frame[data-item='Objects/live/counter/value']").dataset.updates) > n""",
        arg=updates,
    )
    page.uncheck("input.monitor")
    assert page.log.errors == []


def test_grid_layout_from_the_server_fields(page: Any, live_server: LiveServer) -> None:
    # the demo sets _layout=grid2x2 and four _drawitem entries: shown without any click
    open_ui(page, live_server.url)
    assert page.locator("main.area").get_attribute("data-layout") == "2x2"
    page.wait_for_selector("section.frame[data-item='status'][data-view='text']")
    views = {
        frame(page, path).get_attribute("data-view")
        for path in ("Objects/hists/hpx", "Objects/hists/hpxpy", "Objects/live/wave", "status")
    }
    assert views == {"hist1d", "hist2d", "array", "text"}
    boxes = [frame(page, p).bounding_box() for p in ("Objects/hists/hpx", "status")]
    assert boxes[1]["x"] > boxes[0]["x"] and boxes[1]["y"] > boxes[0]["y"]  # really a grid
    wave = frame(page, "Objects/live/wave")
    assert int(wave.locator("svg.line").get_attribute("data-drawn-bins")) == 64
    assert wave.locator("table.values tbody tr").count() == 64
    assert "updates" in frame(page, "status").inner_text()

    page.select_option("select.layout", "grid1x2")  # change the layout: items move along
    assert page.locator("section.frame").count() == 2
    assert page.locator("main.area").get_attribute("data-layout") == "1x2"
    assert page.locator("section.frame[data-item]").count() == 2
    assert page.log.errors == []


def test_hostile_names_are_shown_as_text(page: Any, live_server: LiveServer) -> None:
    open_ui(page, live_server.url + "?layout=simple&item=&nomonitoring")
    # a title holding "<!--<script>" no longer breaks the embedded hierarchy: the server
    # writes "<" as \u003c, so the page needs no h.json fallback request
    comment = row(page, "comment").locator(":scope > .trow > .tname")
    assert comment.get_attribute("title") == SCRIPT_COMMENT
    assert live_server.url + "h.json?compact=3" not in page.log.requests
    hostile = page.locator("li.titem > .trow > .tname", has_text="<img src=x")
    assert hostile.inner_text() == XSS_NAME
    assert hostile.get_attribute("title") == XSS_TITLE
    hostile.click()
    page.wait_for_selector("section.frame[data-view='text']")
    shown = page.locator("section.frame[data-view='text']")
    assert shown.locator(".text-item").inner_text() == XSS_VALUE
    assert shown.locator(".fname").inner_text() == XSS_NAME
    # every request the page made has ended (an injected <img> would have loaded or failed,
    # and its onerror run), and the page has painted
    page.wait_for_load_state("networkidle")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("img[src='x'], img[src='y'], img[src='z']").count() == 0
    assert page.log.errors == []


def test_thousands_of_items_render_lazily(page: Any, live_server: LiveServer) -> None:
    open_ui(page, live_server.url + "?layout=simple&item=&nomonitoring")
    expand(page, "Objects/many")
    rows = page.locator("li.titem[data-path='Objects/many'] > ul > li.titem")
    assert rows.count() == 200  # one chunk, not MANY rows: the page stays responsive
    more = page.locator("li.titem[data-path='Objects/many'] > ul > li.tmore button")
    assert f"of {MANY - 200}" in more.inner_text()
    more.click()
    assert rows.count() == 400
    click_name(page, "Objects/many/item00321")
    page.wait_for_selector("section.frame[data-item='Objects/many/item00321'][data-view='json']")
    assert "w321" in frame(page, "Objects/many/item00321").inner_text()
    assert page.log.errors == []


def test_websocket_items_link_to_their_page(page: Any, live_server: LiveServer) -> None:
    open_ui(page, live_server.url + "?layout=simple&item=&nomonitoring")
    expand(page, "Objects/tools")
    link = row(page, "Objects/tools/wsdemo").locator("a.ws-link")
    assert link.inner_text() == "wsdemo"
    assert link.get_attribute("href") == "Objects/tools/wsdemo/"
    with page.context.expect_page() as opened:
        link.click()
    handler_page = opened.value
    handler_page.wait_for_selector("#ws-page")
    assert handler_page.url == live_server.url + "Objects/tools/wsdemo/"
    handler_page.close()


def test_page_at_an_item_path_uses_relative_urls(page: Any, live_server: LiveServer) -> None:
    # the same page served at /Objects/hists/ shows that sub-tree and fetches relative to it,
    # which is what makes the UI work under any front-end prefix too
    open_ui(page, live_server.url + "Objects/hists/?item=hpx&layout=simple")
    assert row(page, "").locator(":scope > .trow > .tname").inner_text() == "hists"
    page.wait_for_selector("section.frame[data-item='hpx'][data-view='hist1d']")
    own = [u for u in page.log.requests if u.startswith(live_server.url)]
    assert any(u.startswith(live_server.url + "Objects/hists/hpx/root.json") for u in own)
    assert not any("h.json" in u for u in own)  # the embedded sub-hierarchy was used
    assert all(u.startswith(live_server.url) or u.startswith("data:") for u in page.log.requests)
    assert page.log.errors == []


def test_browser_modes_and_url_options(page: Any, live_server: LiveServer) -> None:
    open_ui(page, live_server.url + "?nobrowser&item=Objects/hists/hpx&opt=bar")
    assert page.locator("#app").get_attribute("data-browser") == "off"
    assert not page.locator("nav.browser").is_visible()
    page.wait_for_selector("section.frame[data-item='Objects/hists/hpx'] svg.hist1d rect.bin")
    open_ui(page, live_server.url + "?browser=float&item=")
    assert page.locator("nav.browser").evaluate("n => getComputedStyle(n).position") == "absolute"
    page.click("header.toolbar > button.tbtn >> nth=0")  # hide and show again
    assert not page.locator("nav.browser").is_visible()
    assert page.log.errors == []


@pytest.mark.skipif(
    importlib.util.find_spec("trioserve.render.image") is None,
    reason="root.png (trioserve.render.image) is not implemented yet",
)
def test_png_view_shows_the_server_image(page: Any, live_server: LiveServer) -> None:
    pytest.importorskip("matplotlib")
    open_ui(page, live_server.url + "?layout=simple&item=Objects/hists/hpx")
    page.wait_for_selector("section.frame[data-item='Objects/hists/hpx'][data-view='hist1d']")
    page.select_option("section.frame[data-item='Objects/hists/hpx'] select.fmode", "png")
    # the image's own load event marks it (the first picture can take long on a loaded
    # machine: matplotlib's import and font cache); no time budget but the hang guard
    image = page.locator("section.frame[data-view='image'] img.image[data-loaded='true']")
    image.wait_for()
    assert image.evaluate("i => i.naturalWidth") > 100
    assert page.log.errors == []


def _commands_available(server: Any) -> bool:
    from trioserve.requests import HANDLERS

    return hasattr(server, "register_command") and "cmd.json" in HANDLERS


def test_command_with_an_argument(page: Any, live_server: LiveServer) -> None:
    server = live_server.extra["server"]
    if not _commands_available(server):
        pytest.skip("commands (server.register_command, cmd.json) are not implemented yet")
    received: list[str] = []

    def set_label(text: str) -> bool:
        received.append(text)
        return text != "refuse"

    live_server.call(lambda: server.register_command("/tools/setlabel", set_label, button=True))
    open_ui(page, live_server.url + "?layout=simple&item=&nomonitoring")
    button = page.locator("header .fastcmd[data-path='tools/setlabel']")
    for value, outcome in (("hello <b>world</b> & more", "ok"), ("refuse", "fail")):
        button.click()
        page.fill("dialog.cmd-dialog input[name='arg1']", value)
        page.click("dialog.cmd-dialog button.cmd-ok-btn")
        page.wait_for_selector(f"#app[data-last-command='{outcome}']")
        assert received[-1] == value
    assert "FAILED" in page.locator("footer.status").inner_text()


def test_command_from_the_tree_asks_for_its_argument(page: Any, live_server: LiveServer) -> None:
    server, demo = live_server.extra["server"], live_server.extra["demo"]
    if not _commands_available(server):
        pytest.skip("commands (server.register_command, cmd.json) are not implemented yet")
    open_ui(page, live_server.url + "?layout=simple&item=&nomonitoring")
    expand(page, "commands")
    assert row(page, "commands/reset").is_visible()
    assert page.locator("header .fastcmd[data-path='commands/reset']").count() == 1
    click_name(page, "commands/set_label")
    page.fill("dialog.cmd-dialog input[name='arg1']", "label from the browser")
    page.click("dialog.cmd-dialog button.cmd-ok-btn")
    page.wait_for_selector("li.titem.cmd-ok[data-path='commands/set_label']")
    assert live_server.call(lambda: demo.settings.label) == "label from the browser"
    click_name(page, "commands/set_label")  # cancelling sends nothing
    page.click("dialog.cmd-dialog button:has-text('Cancel')")
    page.wait_for_selector("footer.status:text-is('command cancelled')")
    assert page.log.errors == []
