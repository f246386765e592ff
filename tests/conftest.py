"""Shared fixtures: a real server task on real sockets (TCP and a unix socket)."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest


def missing(message: str) -> NoReturn:
    """Something a test needs is not on this machine: skip loudly, but fail under CI=true
    (CI must prove every test, so a missing tool there is a broken install)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI requires it: {message}", pytrace=False)
    pytest.skip(f"SKIPPED LOUDLY: {message}", allow_module_level=True)


def reap(proc: subprocess.Popen[Any]) -> None:
    """The end of a test's child process, whatever happened: killed if it still runs,
    waited for (no zombie), its pipes closed (no ResourceWarning)."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def require_tool(name: str, *candidates: str) -> str:
    """Find an external tool; skip loudly without it, but fail under CI=true."""
    for candidate in (name, *candidates):
        found = shutil.which(candidate) or (candidate if os.path.isfile(candidate) else None)
        if found:
            return found
    missing(f"{name} is not installed (scripts/test installs it)")


def require_module(name: str) -> Any:
    """A Python package from the test extras (``require_tool``'s twin)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(f"{name} is not installed (pip install -e '.[test]')")


def require_jsroot(folder: Path) -> Path:
    """JSROOT from npm (``scripts/test`` downloads it into ``.cache/jsroot``)."""
    main = folder / "modules" / "main.mjs"
    if not main.is_file():
        missing(f"JSROOT is not installed at {folder} (scripts/test installs it with npm)")
    return main


@dataclass
class Inner:
    value: int = 3
    ratio: float = 0.5
    _secret: str = "never shown"


@dataclass
class Sample:
    """The test suite's standard object: a few member kinds and a private one."""

    name: str = "sample"
    title: str = "a sample object"
    count: int = 7
    label: str = "été <b>&</b>"
    values: list[float] = field(default_factory=lambda: [1.0, 2.5, 4.0])
    inner: Inner = field(default_factory=Inner)
    _private: str = "hidden"

    def describe(self) -> str:
        return f"{self.name}:{self.count}"


@pytest.fixture
def short_tmp() -> Path:
    """A short temp dir: unix socket paths must stay under ~100 bytes."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="ts-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
