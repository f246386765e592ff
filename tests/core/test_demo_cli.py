"""The README's first command: `trioserve demo` serves a live tree and stops on Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import httpx
from websockets.sync.client import connect

from tests.conftest import reap


def test_demo_serves_live_objects_and_stops_on_ctrl_c() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "trioserve.cli", "demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, f"no URL printed: {line!r}"
        base = f"http://127.0.0.1:{match.group(1)}"
        top = httpx.get(base + "/h.json", timeout=10).json()
        assert top["_name"] == "demo"
        objects = next(c for c in top["_childs"] if c["_name"] == "Objects")
        assert {c["_name"] for c in objects["_childs"]} >= {"hists", "live", "config"}
        hpx = httpx.get(base + "/Objects/hists/hpx/root.json?compact=3", timeout=10).json()
        assert hpx["_typename"] == "TH1D"
        first = httpx.get(base + "/Objects/live/counter/value/root.json", timeout=10).json()
        time.sleep(0.35)
        second = httpx.get(base + "/Objects/live/counter/value/root.json", timeout=10).json()
        assert second > first  # updated ten times a second
        gain = httpx.get(base + "/Objects/config/settings/gain/root.json", timeout=10)
        assert gain.json() == 1.5
        page = httpx.get(base + "/", timeout=10)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        reset = httpx.get(base + "/commands/reset/cmd.json", timeout=10)
        assert reset.status_code == 200 and reset.json() is True
        with connect(base.replace("http:", "ws:") + "/echo/root.websocket", open_timeout=10) as ws:
            ws.send("hello")
            assert ws.recv(timeout=10) == "hello"
            ws.send(b"\x00\x01")
            assert ws.recv(timeout=10) == b"\x00\x01"
        echo_page = httpx.get(base + "/echo/", timeout=10)
        assert "root.websocket" in echo_page.text
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        assert proc.wait(timeout=5) == 0
        assert time.monotonic() - started < 1.5
    finally:
        reap(proc)


def test_demo_prints_a_fastcgi_engine_as_an_address_for_a_front_end() -> None:
    """Not as a URL: a browser or curl pointed at a FastCGI port gets an empty reply."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "trioserve.cli", "demo", "-q", "--port", "0", "--spec", "fastcgi:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        lines = [proc.stdout.readline().rstrip("\n") for _ in range(3)]
        assert re.fullmatch(r"trioserve demo serving http on http://127\.0\.0\.1:\d+/", lines[0])
        note = "(an address for a web front-end: see docs/deployment.md)"
        match = re.fullmatch(
            rf"trioserve demo serving fastcgi on 127\.0\.0\.1:(\d+) {re.escape(note)}", lines[1]
        )
        assert match, lines
        assert lines[2] == "Press Ctrl-C to stop."
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        log = proc.stderr.read()
        where = f"127.0.0.1:{match.group(1)} {note}"
        assert f"trioserve.server fastcgi engine on {where}\n" in log
        assert f"trioserve.fastcgi FastCGI engine serving on {where}\n" in log
        assert f"http://127.0.0.1:{match.group(1)}" not in log
    finally:
        reap(proc)
