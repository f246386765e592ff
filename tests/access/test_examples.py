"""examples/httpcontrol.py and examples/httpaccess.py run as programs and answer as documented."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _start(name: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / name), "--port", "0", "--seconds", "20"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if match is None:
        proc.kill()
        raise AssertionError(f"{name} printed {line!r}; stderr: {proc.stderr.read()}")  # type: ignore[union-attr]
    return proc, f"http://127.0.0.1:{match.group(1)}"


@pytest.fixture
def running(request: pytest.FixtureRequest) -> Iterator[str]:
    proc, base = _start(request.param)
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize("running", ["httpcontrol.py"], indirect=True)
def test_httpcontrol(running: str) -> None:
    with httpx.Client(base_url=running, timeout=10) as c:
        top = c.get("/h.json").json()
        items = {child["_name"]: child for child in top["_childs"]}
        assert top["_layout"] == "grid2x2" and top["_drawitem"] == "[hpxpy,hpx,Debug]"
        assert items["Start"]["_kind"] == "Command" and items["Start"]["_fastcmd"] == "true"
        assert items["ResetHPX"]["_update_item"] == "hpx"
        assert items["Debug"]["_kind"] == "Text"
        assert c.get("/Stop/cmd.json").text == "true"
        assert c.get("/ResetHPX/cmd.json").text == "null"
        hpx = c.get("/hpx/root.json").json()
        assert hpx["_typename"] == "TH1D" and hpx["fEntries"] == 0
        # read-only server: the histogram's own methods are not callable remotely
        assert c.get("/hpx/exe.json?method=reset").status_code == 403
        assert c.get("/Start/cmd.json").text == "true"


@pytest.mark.parametrize("running", ["httpaccess.py"], indirect=True)
def test_httpaccess(running: str) -> None:
    guest = httpx.Client(base_url=running, timeout=10, auth=httpx.DigestAuth("guest", ""))
    admin = httpx.Client(base_url=running, timeout=10, auth=httpx.DigestAuth("admin", "admin"))
    with guest, admin, httpx.Client(base_url=running, timeout=10) as anonymous:
        assert anonymous.get("/h.json").status_code == 401
        names = {c["_name"] for c in guest.get("/h.json").json()["_childs"]}
        assert names == {"hpx", "Rate"}
        assert json.loads(admin.get("/h.json").text)["_username"] == "admin"
        assert {c["_name"] for c in admin.get("/h.json").json()["_childs"]} >= {
            "hpx",
            "hpxpy",
            "Start",
            "Stop",
            "ResetHPX",
            "Rate",
        }
        assert guest.get("/hpxpy/root.json").status_code == 404
        assert guest.get("/Stop/cmd.json").status_code == 404
        assert guest.get("/Rate/cmd.json?arg1=100").text == "false"
        assert admin.get("/Rate/cmd.json?arg1=100").text == "true"
        assert admin.get("/Rate/cmd.json?arg1=lots").text == "false"
        assert guest.get("/hpx/exe.json?method=fill&x=0.5").text == "null"
        assert guest.get("/hpx/exe.json?method=reset").status_code == 403
        assert admin.get("/Stop/cmd.json").text == "true"
