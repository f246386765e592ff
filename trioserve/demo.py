"""The demo: a live object tree that changes ten times a second.

``trioserve demo`` runs it; examples and tests reuse :func:`build_demo` and
:func:`update_forever` so what the README promises is what the tests query.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import trio

from trioserve.histograms import Hist1D, Hist2D
from trioserve.items import Text
from trioserve.server import Server
from trioserve.ws import Connection, WebSocketHandler

__all__ = ["Demo", "build_demo", "update_forever"]


@dataclass
class Position:
    x: float = 0.0
    y: float = 0.0


@dataclass
class Settings:
    """A dataclass with nested members: reach ``/Objects/config/settings/gain/root.json``."""

    gain: float = 1.5
    threshold: int = 12
    label: str = "detector-A"
    position: Position = field(default_factory=Position)
    channels: list[int] = field(default_factory=lambda: [1, 2, 3, 5, 8])


@dataclass
class Counter:
    """A plain counter; ``value`` grows every update."""

    name: str = "counter"
    title: str = "updates since start"
    value: int = 0
    rate_hz: float = 10.0


@dataclass
class Demo:
    counter: Counter
    hpx: Hist1D
    hpxpy: Hist2D
    settings: Settings
    status: Text
    wave: np.ndarray
    rng: np.random.Generator
    started: float = field(default_factory=time.monotonic)

    def update(self) -> None:
        """One tick: fill the histograms, move the wave, bump the counter."""
        self.counter.value += 1
        px = self.rng.normal(size=200)
        py = self.rng.normal(size=200)
        self.hpx.fill_many(px)
        self.hpxpy.fill_many(px, py)
        phase = self.counter.value / 10.0
        self.wave[:] = np.sin(np.linspace(0, 4 * math.pi, self.wave.size) + phase)
        self.settings.position.x = round(math.cos(phase), 6)
        self.settings.position.y = round(math.sin(phase), 6)
        self.status.value = (
            f"running for {time.monotonic() - self.started:.1f} s, "
            f"{self.counter.value} updates, {self.hpx.entries} entries"
        )


def build_demo(server: Server, seed: int = 1) -> Demo:
    demo = Demo(
        counter=Counter(),
        hpx=Hist1D("hpx", "px distribution", 100, -4.0, 4.0),
        hpxpy=Hist2D("hpxpy", "py vs px", 40, -4.0, 4.0, 40, -4.0, 4.0),
        settings=Settings(),
        status=Text("starting"),
        wave=np.zeros(64),
        rng=np.random.default_rng(seed),
    )
    server.register("hists", demo.hpx)
    server.register("hists", demo.hpxpy)
    server.register("live", demo.counter)
    server.register("live", demo.wave, name="wave", title="a moving sine wave (numpy array)")
    server.register("config", demo.settings, name="settings", title="nested dataclass")
    server.register("/", demo.status, name="status", title="what the demo is doing")
    server.set_item_field("/", "_monitoring", "1000")
    # what the browser UI (and JSROOT mode) shows on load: four items in a 2x2 grid
    server.set_item_field("/", "_layout", "grid2x2")
    server.set_item_field(
        "/", "_drawitem", "[Objects/hists/hpx,Objects/hists/hpxpy,Objects/live/wave,status]"
    )
    server.set_item_field("/", "_drawopt", "[hist,colz]")
    _register_demo_commands(server, demo)
    server.register("/", DemoEcho("echo", "websocket echo: open /echo/"))
    return demo


_ECHO_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>echo</title></head>
<body><h1>websocket echo</h1>
<form id="f"><input id="msg" value="hello" autofocus> <button>send</button></form>
<pre id="log"></pre>
<script type="module">
// relative URL: works under any prefix; falls back to nothing fancy, this is a demo
const url = new URL("root.websocket", location.href);
url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
const ws = new WebSocket(url);
const log = (text) => { document.getElementById("log").textContent += text + "\\n"; };
ws.onopen = () => log("connected");
ws.onmessage = (event) => log("echo: " + event.data);
ws.onclose = (event) => log("closed " + event.code);
document.getElementById("f").onsubmit = (event) => {
  event.preventDefault();
  ws.send(document.getElementById("msg").value);
};
</script></body></html>
"""


class DemoEcho(WebSocketHandler):
    """Echoes every message back: the fixed-path handler for quick websocket checks
    (``ws://127.0.0.1:8080/echo/root.websocket``; long-poll at ``/echo/root.longpoll``)."""

    page = _ECHO_PAGE

    async def on_data(self, conn: Connection, message: str | bytes) -> None:
        await conn.send(message)


def _register_demo_commands(server: Server, demo: Demo) -> None:
    """Two harmless commands: a toolbar button, and one that asks for an argument."""

    def reset_histograms() -> bool:
        demo.hpx.reset()
        demo.hpxpy.reset()
        return True

    def set_label(label: str) -> str:
        demo.settings.label = label
        return label

    server.register_command(
        "/commands/reset", reset_histograms, button=True, title="empty both histograms"
    )
    server.register_command("/commands/set_label", set_label, title="set settings.label")


async def update_forever(demo: Demo, period: float = 0.1) -> None:
    while True:
        demo.update()
        await trio.sleep(period)
