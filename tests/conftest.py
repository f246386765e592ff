"""Shared fixtures: a real server task on real sockets (TCP and a unix socket)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def require_tool(name: str, *candidates: str) -> str:
    """Find an external tool; skip loudly without it, but fail under CI=true."""
    for candidate in (name, *candidates):
        found = shutil.which(candidate) or (candidate if os.path.isfile(candidate) else None)
        if found:
            return found
    message = f"{name} is not installed (scripts/test installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI requires it: {message}")
    pytest.skip(f"SKIPPED LOUDLY: {message}")


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
