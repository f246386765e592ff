"""The Autobahn test cases (run by ``kosoku``) against the example's echo handler.

The example runs as its own process, as a user would start it. Every case runs except the
compression groups 12.* and 13.* (no permessage-deflate); the whole run takes seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import trio

from tests.conftest import require_tool

EXAMPLE = Path(__file__).parents[2] / "examples" / "ws.py"
PASSING = {"OK", "NON-STRICT", "INFORMATIONAL"}


async def test_autobahn_cases_pass(tmp_path: Path) -> None:
    kosoku = require_tool("kosoku")
    with trio.fail_after(180):
        process = await trio.lowlevel.open_process(
            [sys.executable, str(EXAMPLE), "--port", "0"], stdout=subprocess.PIPE
        )
        try:
            assert process.stdout is not None
            line = b""
            while b"\n" not in line:
                chunk = await process.stdout.receive_some(1024)
                assert chunk, "the example exited"
                line += chunk
            port = int(line.split(b"\n")[0].rsplit(b":", 1)[1].split(b"/")[0])
            run = await trio.run_process(
                [
                    kosoku,
                    "-p", "4",
                    "-o", str(tmp_path / "reports"),
                    "-x", "12.*", "-x", "13.*",
                    f"ws://127.0.0.1:{port}/echo/root.websocket",
                ],
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )  # fmt: skip
        finally:
            process.terminate()
            await process.wait()
    index = json.loads((tmp_path / "reports" / "index.json").read_text())
    results = {case: r for agent in index.values() for case, r in agent.items()}
    assert len(results) == 301, run.stdout  # every case outside 12.* and 13.*
    failed = {
        case: (r["behavior"], r["behaviorClose"])
        for case, r in results.items()
        if r["behavior"] not in PASSING or r["behaviorClose"] not in PASSING
    }
    assert failed == {}
    assert run.returncode == 0, run.stdout
