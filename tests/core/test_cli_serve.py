"""``trioserve serve APP``: a real process serving the example DAQ program, with and without
``--config``, ``--check``, Ctrl-C, ``--version`` and help texts."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import reap

ROOT = Path(__file__).resolve().parents[2]
#: a bound on waits for an event, never a budget: each wait ends as soon as the event happens
BOUND = 30.0
FASTCGI_NOTE = "(an address for a web front-end: see docs/deployment.md)"


@dataclass
class Running:
    proc: subprocess.Popen[str]
    lines: list[str]

    @property
    def base(self) -> str:
        for line in self.lines:
            match = re.fullmatch(r"trioserve serving http on (http://127\.0\.0\.1:\d+)/", line)
            if match:
                return match.group(1)
        raise AssertionError(f"no http URL in {self.lines}")


Start = Callable[..., Running]


@pytest.fixture
def serve() -> Iterator[Start]:
    """Start ``trioserve serve ARGS...`` and return once it printed its addresses."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, cwd: Path = ROOT) -> Running:
        proc = subprocess.Popen(
            [sys.executable, "-m", "trioserve.cli", "serve", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        assert proc.stdout is not None and proc.stderr is not None
        lines: list[str] = []
        while not lines or lines[-1] != "Press Ctrl-C to stop.":
            line = proc.stdout.readline()  # the event: the server printed its addresses
            if not line:
                raise AssertionError(f"serve ended: {lines} {proc.stderr.read()}")
            lines.append(line.rstrip("\n"))
        return Running(proc, lines)

    yield start
    for proc in started:
        reap(proc)


def wait_for_change(read: Callable[[], int], first: int) -> int:
    """Poll until ``read()`` differs from ``first`` (the DAQ loop's next block)."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        value = read()
        if value != first:
            return value
        time.sleep(0.02)
    raise AssertionError(f"still {first!r} after {BOUND} s")


def stop_with(proc: subprocess.Popen[str], signum: int) -> None:
    proc.send_signal(signum)
    assert proc.wait(timeout=BOUND) == 0
    assert proc.stderr is not None
    assert f"stopping on {signal.Signals(signum).name}" in proc.stderr.read()


@pytest.mark.parametrize("factory", ["build", "build_threaded"])
def test_serve_runs_the_programs_own_loop(serve: Start, factory: str) -> None:
    running = serve(f"examples.daq_app:{factory}", "--spec", "http:0", "--top", "daq")
    assert running.lines[1:] == ["Press Ctrl-C to stop."]
    with httpx.Client(base_url=running.base, timeout=10) as client:
        top = client.get("/h.json").json()
        assert top["_name"] == "daq"
        objects = next(child for child in top["_childs"] if child["_name"] == "Objects")
        daq = next(child for child in objects["_childs"] if child["_name"] == "daq")
        assert {child["_name"] for child in daq["_childs"]} == {"energy", "readout"}
        assert client.get("/Objects/daq/energy/root.json").json()["_typename"] == "TH1D"

        def events() -> int:
            return int(client.get("/Objects/daq/readout/events/root.json").json())

        first = events()
        assert wait_for_change(events, first) > first
        hist = client.get("/Objects/daq/energy/root.json").json()
        assert hist["fEntries"] > 0
    stop_with(running.proc, signal.SIGINT)


def test_serve_a_server_instance_and_sigterm(serve: Start, tmp_path: Path) -> None:
    running = serve("trioserve.demo:build_demo", "--spec", "http:0", "--spec", "fastcgi:0")
    assert re.fullmatch(
        rf"trioserve serving fastcgi on 127\.0\.0\.1:\d+ {re.escape(FASTCGI_NOTE)}",
        running.lines[1],
    )
    reply = httpx.get(running.base + "/Objects/config/settings/gain/root.json", timeout=10)
    assert reply.json() == 1.5
    stop_with(running.proc, signal.SIGTERM)


OTHER_SHAPES = """
import trio
import trioserve

server = trioserve.Server(top_name="instance")
server.register("/", {"shape": "a Server"}, name="what")


async def setup(server: trioserve.Server) -> None:
    await trio.sleep(0)  # setup that awaits
    server.register("/", {"shape": "async def"}, name="what")
"""


@pytest.mark.parametrize(
    ("attribute", "top", "shape"),
    [("server", "instance", "a Server"), ("setup", "trioserve", "async def")],
)
def test_serve_a_server_or_an_async_setup(
    serve: Start, tmp_path: Path, attribute: str, top: str, shape: str
) -> None:
    (tmp_path / "shapes.py").write_text(OTHER_SHAPES)
    running = serve(f"shapes:{attribute}", "--spec", "http:0", cwd=tmp_path)
    with httpx.Client(base_url=running.base, timeout=10) as client:
        assert client.get("/h.json").json()["_name"] == top
        assert client.get("/what/shape/root.json").json() == shape
    stop_with(running.proc, signal.SIGINT)


def copy_example_config(tmp_path: Path) -> Path:
    """config/trioserve.toml and the files it names, in ``tmp_path`` with free ports."""
    (tmp_path / "config").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "note.txt").write_text("served next to the objects\n")
    shutil.copy(ROOT / "config" / "example.htdigest", tmp_path / "config")
    text = (ROOT / "config" / "trioserve.toml").read_text()
    assert '"http:127.0.0.1:8080"' in text and '"fastcgi:127.0.0.1:9000"' in text
    text = text.replace("127.0.0.1:8080", "127.0.0.1:0").replace("127.0.0.1:9000", "127.0.0.1:0")
    path = tmp_path / "config" / "trioserve.toml"
    path.write_text(text)
    return path


def test_serve_with_the_example_config(serve: Start, tmp_path: Path) -> None:
    config = copy_example_config(tmp_path)
    running = serve("--config", str(config), "--top", "from-the-command-line")
    assert re.fullmatch(
        rf"trioserve serving fastcgi on 127\.0\.0\.1:\d+ {re.escape(FASTCGI_NOTE)}",
        running.lines[1],
    )
    guest = httpx.DigestAuth("guest", "")
    admin = httpx.DigestAuth("admin", "admin")
    with httpx.Client(base_url=running.base, timeout=10) as client:
        assert client.get("/h.json").status_code == 401  # [auth] reached the engine
        top = client.get("/h.json", auth=guest).json()
        assert top["_name"] == "from-the-command-line"  # the option beats top_name
        assert client.get("/Objects/daq/energy/root.json", auth=guest).status_code == 200
        # [restrict]: the readout is for admin only
        assert client.get("/Objects/daq/readout/root.json", auth=guest).status_code == 404

        def events() -> int:
            reply = client.get("/Objects/daq/readout/events/root.json", auth=admin)
            return int(reply.json())

        first = events()
        assert wait_for_change(events, first) > first
        # [locations]: "../docs" relative to the config file's folder
        note = client.get("/docs/note.txt", auth=guest)
        assert note.text == "served next to the objects\n"
        assert note.headers["cache-control"] == "max-age=600"  # max_age = 600
        # readonly = true: methods are refused
        refused = client.get("/Objects/daq/energy/exe.json?method=GetEntries", auth=admin)
        assert refused.status_code == 403
    stop_with(running.proc, signal.SIGINT)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trioserve.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_builds_the_app_and_binds_nothing() -> None:
    with socket.socket() as held:  # --check must not even try to bind it
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = run_cli(
            "serve", "--config", "config/trioserve.toml", "--check", "--spec", f"http:{port}"
        )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"trioserve: ok: examples.daq_app:build builds, engines http:{port}\n"
    result = run_cli("serve", "--config", "config/trioserve.toml", "--check")
    assert result.stdout == (
        "trioserve: ok: examples.daq_app:build builds, engines http:127.0.0.1:8080, "
        "fastcgi:127.0.0.1:9000\n"
    )


def test_check_reports_a_bad_config(tmp_path: Path) -> None:
    config = copy_example_config(tmp_path)
    config.write_text(config.read_text().replace("[limits]", "[limits]\nmax_bodies = 1"))
    result = run_cli("serve", "--config", str(config), "--check")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"trioserve: cannot start: {config}: limits.max_bodies: unknown key; "
        "did you mean 'max_body'?\n"
    )


def test_version_and_help_texts() -> None:
    from trioserve import __version__

    version = run_cli("--version")
    assert (version.returncode, version.stdout) == (0, f"trioserve {__version__}\n")
    for args in ([], ["serve"], ["demo"], ["htdigest"]):
        result = run_cli(*args, "--help")
        assert result.returncode == 0, result.stderr
        assert "`" not in result.stdout and ":func:" not in result.stdout, result.stdout
        assert result.stdout.startswith("usage: trioserve")
    top = run_cli("--help").stdout
    assert all(command in top for command in ("serve", "demo", "htdigest", "--version"))
