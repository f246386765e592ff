"""The sans-IO cores import no I/O: no sockets, no Trio, no threads, no event loops."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SANS_IO = [
    "fcgi",
    "trioserve.call",
    "trioserve.spec",
    "trioserve.tree",
    "trioserve.policy",
    "trioserve.hierarchy",
    "trioserve.render.json",
    "trioserve.render.introspect",
    "trioserve.auth.digest",
]
FORBIDDEN = {"socket", "trio", "asyncio", "select", "selectors", "ssl", "anyio"}


@pytest.mark.parametrize("module", SANS_IO)
def test_module_imports_no_io(module: str) -> None:
    code = (
        "import importlib, json, sys\n"
        f"before = set(sys.modules)\nimportlib.import_module({module!r})\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = {name.split(".")[0] for name in json.loads(out.stdout)}
    assert not (loaded & FORBIDDEN), f"{module} pulls in {sorted(loaded & FORBIDDEN)}"
