"""``file.root`` read by JSROOT's own ROOT file reader in headless Chromium, and drawn.

The page (served by a location of the server, so it is same-origin) imports JSROOT's modules
from ``jsrootsys/`` and calls ``openFile(<server>/Objects/hists/hpx/file.root)``: JSROOT reads
the file over HTTP with Range requests (the header first, then keys, streamer infos and the
object), decodes the ``TH1D`` with ROOT's streamers and draws it as SVG.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.browser.conftest import JSROOT_DIR, LiveServer
from tests.conftest import require_jsroot

pytestmark = pytest.mark.browser

pytest.importorskip("uproot", reason="SKIPPED LOUDLY: the root extra is not installed")

ENTRIES = 2500
TITLE = "px distribution"

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>file.root in JSROOT</title>
<link rel="icon" href="data:,"></head>
<body><div id="drawing" style="width:800px;height:500px"></div>
<script type="module">
import { openFile, draw } from '/jsrootsys/modules/main.mjs';
window.readRootFile = async (url, key) => {
  const file = await openFile(url);
  const obj = await file.readObject(key);
  await draw('drawing', obj, '');
  return { keys: file.fKeys.map(k => k.fName), typename: obj._typename, name: obj.fName,
           title: obj.fTitle, entries: obj.fEntries, nbins: obj.fXaxis.fNbins,
           xtitle: obj.fXaxis.fTitle, contents: Array.from(obj.fArray) };
};
window.pageReady = true;
</script></body></html>
"""


#: the histogram the server holds, to compare what JSROOT read with
HELD: dict[str, Any] = {}


def _build(folder: Path) -> Any:
    def build(server: Any) -> None:
        from trioserve.histograms import Hist1D

        hpx = Hist1D("hpx", TITLE, 40, -4, 4, xtitle="px [GeV]")
        hpx.fill_many(np.random.default_rng(7).normal(size=ENTRIES))
        server.register("hists", hpx)
        server.register("hists", np.arange(100, dtype=np.float32) ** 0.5, name="roots")
        server.add_location("rootfile-page/", folder)
        server.set_jsroot(JSROOT_DIR)
        HELD["hpx"] = hpx

    return build


@pytest.fixture(scope="module")
def rootfile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_jsroot(JSROOT_DIR)
    folder = tmp_path_factory.mktemp("rootfile-page")
    (folder / "index.html").write_text(PAGE)
    server = LiveServer(build=_build(folder))
    server.start()
    yield server
    server.stop()


def test_jsroot_opens_file_root_over_http_with_ranges_and_draws_it(
    page: Any, rootfile_server: LiveServer
) -> None:
    ranges: list[str] = []
    page.on(
        "request",
        lambda req: (
            ranges.append(req.headers.get("range", "")) if "/file.root" in req.url else None
        ),
    )
    page.goto(rootfile_server.url + "rootfile-page/index.html")
    page.wait_for_function("() => window.pageReady === true")
    url = rootfile_server.url + "Objects/hists/hpx/file.root"
    result = page.evaluate("([url]) => window.readRootFile(url, 'hpx')", [url])

    hpx = HELD["hpx"]
    assert [k for k in result["keys"] if k != "StreamerInfo"] == ["hpx"]
    assert result["typename"] == "TH1D" and result["name"] == "hpx"
    assert result["title"] == TITLE and result["entries"] == ENTRIES
    assert result["nbins"] == 40 and result["xtitle"] == "px [GeV]"
    assert result["contents"] == hpx.values.tolist()

    # JSROOT read it in pieces, as it reads any ROOT file on a web server
    assert ranges and all(r.startswith("bytes=") for r in ranges), ranges
    assert len(ranges) >= 2
    assert any("," in r for r in ranges), ranges  # several at once: multipart/byteranges

    # and drew it: a frame with the histogram's path and its title
    page.wait_for_function(
        "(title) => [...document.querySelectorAll('#drawing svg text')]"
        ".some(t => t.textContent === title)",
        arg=TITLE,
    )
    drawn = page.evaluate(
        "() => [...document.querySelectorAll('#drawing svg path')]"
        ".reduce((n, p) => n + (p.getAttribute('d') || '').length, 0)"
    )
    assert drawn > 500
    stats = page.evaluate(
        "() => [...document.querySelectorAll('#drawing svg text')].map(t => t.textContent)"
    )
    assert "Entries" in stats and str(ENTRIES) in stats
    assert page.log.errors == []


def test_jsroot_reads_an_array_written_as_a_tree(page: Any, rootfile_server: LiveServer) -> None:
    page.goto(rootfile_server.url + "rootfile-page/index.html")
    page.wait_for_function("() => window.pageReady === true")
    url = rootfile_server.url + "Objects/hists/roots/file.root"
    tree = page.evaluate(
        """async (url) => {
             const { openFile, treeDraw } = await import('/jsrootsys/modules/main.mjs');
             const file = await openFile(url);
             const tree = await file.readObject('roots');
             const hist = await treeDraw(tree, 'value');
             return { typename: tree._typename, entries: tree.fEntries,
                      branches: tree.fBranches.arr.map(b => b.fName),
                      drawn: hist._typename,
                      total: Array.from(hist.fArray).reduce((a, b) => a + b, 0) };
           }""",
        url,
    )
    assert tree["typename"] == "TTree" and tree["branches"] == ["value"]
    # every value went into JSROOT's histogram of the branch (under- and overflow included)
    assert tree["entries"] == 100 and tree["total"] == 100
    assert tree["drawn"].startswith("TH1")
    assert page.log.errors == []
