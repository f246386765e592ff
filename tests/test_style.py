"""ruff format and ruff check over the whole tree: style is part of the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_ruff_check() -> None:
    result = _ruff("check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = _ruff("format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


#: the sans-IO cores are held to mypy --strict (STYLE.md); the rest to plain mypy
STRICT = [
    "fcgi",
    "trioserve/policy.py",
    "trioserve/auth",
    "trioserve/tree.py",
    "trioserve/hierarchy.py",
    "trioserve/call.py",
    "trioserve/context.py",
    "trioserve/cors.py",
    "trioserve/spec.py",
    "trioserve/render",
    "trioserve/files",
    "trioserve/histograms",
    "trioserve/commands",
    "trioserve/ws/_handshake.py",
    "trioserve/error_page.py",
    "trioserve/config.py",
    "trioserve/startup.py",
    "trioserve/errors.py",
    "trioserve/engines/_tls.py",
]


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_mypy_strict_on_the_sans_io_cores() -> None:
    result = _mypy("--strict", *STRICT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_on_the_package_and_examples() -> None:
    result = _mypy("trioserve", "examples")
    assert result.returncode == 0, result.stdout + result.stderr
