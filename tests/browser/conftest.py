"""Browser tests: a real server thread running the demo, and real headless Chromium.

Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright for Python (``playwright`` is in
the test extras; its own browser download is never used). No browser or no Playwright: the
tests skip loudly, and fail under ``CI=true`` (:func:`tests.conftest.require_tool`).

The server runs in a background thread with its own Trio loop (``trio.run``), because
Playwright's sync API drives the browser from the test's thread; both talk over a real TCP
socket on 127.0.0.1. One server for the session, one browser per test module.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DOC_IMAGES = ROOT / "docs" / "img"
#: set to 1 to (re)write the screenshots docs/ui.md shows, from the tests that take them
UPDATE_DOC_IMAGES = os.environ.get("TRIOSERVE_UPDATE_DOC_IMAGES") == "1"
#: how long any single wait may take before the test fails. Every wait in these tests is on
#: an event (a selector, a condition, a load event), never a sleep, so this is only the guard
#: against a hang; it is generous because a loaded 2-core machine can be very slow at first
#: (matplotlib's font cache, Chromium's first start).
HANG_GUARD_MS = 90_000
JSROOT_DIR = Path(
    os.environ.get("TRIOSERVE_JSROOT_DIR", ROOT / ".cache" / "jsroot" / "node_modules" / "jsroot")
)

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

XSS_NAME = "<img src=x onerror=window.__xss=1>"
XSS_TITLE = "<img src=y onerror=window.__xss=2>"
XSS_VALUE = "<script>window.__xss=3</script><img src=z onerror=window.__xss=4>"
SCRIPT_COMMENT = "<!--<script>"
MANY = 3000


@dataclass
class Widget:
    """A small object with members, for the expansion tests."""

    label: str = "widget"
    level: int = 3


def _echo_handler_class() -> type:
    from trioserve.ws import WebSocketHandler

    class EchoHandler(WebSocketHandler):
        page = "<!DOCTYPE html><title>echo</title><p id=ws-page>websocket echo page</p>"

        async def on_data(self, conn: Any, message: Any) -> None:
            await conn.send(message)

    return EchoHandler


@dataclass
class LiveServer:
    """A server task in its own thread; ``url`` is the base URL (ends with ``/``)."""

    build: Callable[[Any], Any]
    spec: str = "http:127.0.0.1:0"
    url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    _token: trio.lowlevel.TrioToken | None = None
    _scope: trio.CancelScope | None = None
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    def start(self) -> None:
        ready = threading.Event()

        async def main() -> None:
            from trioserve.demo import update_forever
            from trioserve.server import Server

            server = Server(top_name="demo")
            demo = self.build(server)
            self.extra["server"] = server
            self.extra["demo"] = demo
            self._token = trio.lowlevel.current_trio_token()
            with trio.CancelScope() as scope:
                self._scope = scope
                async with trio.open_nursery() as nursery:
                    if demo is not None:
                        nursery.start_soon(update_forever, demo)
                    await nursery.start(server.serve, self.spec)
                    host, port = server.addresses[0][:2]
                    self.url = f"http://{host}:{port}/"
                    ready.set()

        def run() -> None:
            try:
                trio.run(main)
            except BaseException as exc:  # reported to the test thread
                self._error = exc
            finally:
                ready.set()

        self._thread = threading.Thread(target=run, name="trioserve-browser-tests", daemon=True)
        self._thread.start()
        if not ready.wait(15) or not self.url:
            raise RuntimeError(f"server did not start: {self._error!r}")

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` in the server's thread (to change objects the way the program would)."""
        assert self._token is not None
        return trio.from_thread.run_sync(fn, *args, trio_token=self._token)

    def stop(self) -> None:
        if self._token is not None and self._scope is not None:
            try:
                trio.from_thread.run_sync(self._scope.cancel, trio_token=self._token)
            except trio.RunFinishedError:
                pass
        if self._thread is not None:
            self._thread.join(10)
            assert not self._thread.is_alive(), "server thread did not stop"


def build_ui_demo(server: Any) -> Any:
    """The demo tree plus what the UI tests need: hostile names, many items, a ws link."""
    from trioserve.demo import build_demo
    from trioserve.items import Text

    demo = build_demo(server)
    EchoHandler = _echo_handler_class()
    server.register("/", Text(XSS_VALUE), name=XSS_NAME, title=XSS_TITLE)
    # inside a script element "<!--<script>" would keep it open to the end of the document
    server.register("/", Text("comment"), name="comment", title=SCRIPT_COMMENT)
    many = [Widget(label=f"w{i}", level=i) for i in range(MANY)]
    for i, widget in enumerate(many):
        server.register("many", widget, name=f"item{i:05d}", title=f"widget number {i}")
    server.register("tools", EchoHandler(), name="wsdemo", title="a websocket page")
    if JSROOT_DIR.is_dir():
        server.set_jsroot(JSROOT_DIR)
    return demo


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    server = LiveServer(build=build_ui_demo)
    server.start()
    yield server
    server.stop()


def _playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        message = "playwright for Python is not installed (pip install -e '.[test]')"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires it: {message}")
        pytest.skip(f"SKIPPED LOUDLY: {message}")
    return sync_playwright


@pytest.fixture(scope="module")
def browser_context(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Any]:
    """One Chromium per test module, with a fresh profile directory (and the module's
    ``HTTP_CREDENTIALS``, if it has any, for servers that ask for a login)."""
    chromium = require_tool("chromium", "/usr/bin/chromium")
    sync_playwright = _playwright()
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1100, "height": 700},
            http_credentials=getattr(request.module, "HTTP_CREDENTIALS", None),
            timeout=30_000,
        )
        try:
            yield context
        finally:
            context.close()


@dataclass
class PageLog:
    """What the page said: console errors, uncaught exceptions, every URL it requested."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def page(browser_context: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh tab; a screenshot of it is saved in ``test-artifacts/`` after the test."""
    tab = browser_context.new_page()
    tab.set_default_timeout(HANG_GUARD_MS)
    log = PageLog()
    tab.on("console", lambda msg: log.errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: log.errors.append(f"uncaught: {exc}"))
    tab.on("request", lambda req: log.requests.append(req.url))
    tab.log = log
    try:
        yield tab
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        try:
            tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
        finally:
            tab.close()


def doc_shot(page: Any, name: str, target: Any = None) -> Path:
    """Screenshot ``target`` (a locator, else the page) as ``test-artifacts/<name>``, and as
    ``docs/img/<name>`` when ``TRIOSERVE_UPDATE_DOC_IMAGES=1``: the pictures in docs/ui.md
    come from the same tests that check what they show."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    (target or page).screenshot(path=str(path))
    if UPDATE_DOC_IMAGES:
        (DOC_IMAGES / name).write_bytes(path.read_bytes())
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: a program serving the demo, run as its own process: what a user's DAQ program is
SERVER_PROGRAM = """
import sys
import trio
from trioserve.demo import build_demo, update_forever
from trioserve.server import Server

async def main() -> None:
    server = Server(top_name="demo")
    demo = build_demo(server)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(update_forever, demo)
        await nursery.start(server.serve, sys.argv[1])
        print("ready", flush=True)

trio.run(main)
"""


@dataclass
class ServerProcess:
    """The demo in a real server process on a fixed port, to be killed and started again.

    ``prelude`` runs before anything is imported (``sys.modules["matplotlib"] = None`` makes
    a machine without the images extra)."""

    port: int
    prelude: str = ""
    process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                self.prelude + "\n" + SERVER_PROGRAM,
                f"http:127.0.0.1:{self.port}",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # "ready", or EOF when the program died
        if line.strip() != "ready":
            self.kill()
            raise RuntimeError(f"the server process did not start on port {self.port}")

    def kill(self) -> None:
        """The program dies (SIGKILL: no goodbye to the connections)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None
