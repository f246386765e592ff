"""The release check (issue 14, item 9): build the sdist and the wheel as a packager would, let
twine check them, install the wheel in a fresh venv and serve the demo from it.

Shaped so it runs in CI as part of the suite, offline and in a few seconds:

- **From a copy of the tree, not the tree.** The copy leaves out what ``.gitignore`` leaves
  out, so the build sees what a fresh clone holds (a stale ``*.egg-info/SOURCES.txt`` would
  otherwise leak into the sdist), writes nothing into the working tree, and gives the sdist
  check a fixed list of files to compare against.
- **``python -m build --no-isolation``.** No network: the build backend named in
  ``[build-system]`` must be installed beside the tests (the ``test`` extra holds it). Without
  flags, build makes the sdist and then the wheel *from the sdist*, so a file the sdist lacks
  breaks the wheel.
- **A fresh venv that borrows the test environment's dependencies, the wheel installed
  ``--no-deps --no-index``.** A ``.pth`` file in the venv lists the test environment's
  site-packages: its packages (and pip) become importable, but its own ``.pth`` files, the
  editable install of this checkout among them, never run, and ``--system-site-packages`` could
  not reach them when the tests themselves run in a venv. The code comes from the wheel: the
  test proves it by where ``trioserve`` and ``fcgi`` are imported from.
"""

from __future__ import annotations

import configparser
import email.parser
import importlib.util
import json
import os
import queue
import re
import shutil
import signal
import site
import subprocess
import sys
import tarfile
import threading
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import httpx
import pytest

from trioserve._version import __version__

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

#: what the sdist carries besides the packages (MANIFEST.in): tests, docs, examples, configs
SDIST_TREES = ("trioserve", "fcgi", "tests", "docs", "examples", "config", "scripts", "benchmarks")
SDIST_FILES = ("LICENSE", "README.md", "pyproject.toml", "MANIFEST.in")


@dataclass(frozen=True)
class Dists:
    source: Path  # the copy the two were built from
    sdist: Path
    wheel: Path


def _require_release_tools() -> None:
    missing = [name for name in ("build", "twine") if importlib.util.find_spec(name) is None]
    if not missing:
        import build

        missing = [
            req for req in PYPROJECT["build-system"]["requires"] if any(build.check_dependency(req))
        ]
    if missing:
        missing(f"the release check needs {', '.join(missing)} (scripts/test installs them)")


def _run(
    args: list[str], timeout: float, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd, check=False
    )
    assert result.returncode == 0, (
        f"{args} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def _copy_source(dest: Path) -> Path:
    # .gitignore's patterns here are all names or globs without an inner "/", which
    # shutil.ignore_patterns applies at every depth, as git does
    patterns = [
        line.strip().strip("/")
        for line in (ROOT / ".gitignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(".git", *patterns))
    return dest


def _files_under(root: Path, top: str) -> set[str]:
    return {p.relative_to(root).as_posix() for p in (root / top).rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    _require_release_tools()
    work = tmp_path_factory.mktemp("release")
    source = _copy_source(work / "src")
    out = work / "dist"
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)], 300)
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return Dists(source, sdist, wheel)


@pytest.fixture(scope="module")
def venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("venv")
    python = str(path / "bin" / "python")
    _run([sys.executable, "-m", "venv", "--without-pip", str(path)], 60)
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], 60)
    borrowed = [*site.getsitepackages(), *([site.getusersitepackages()] * site.ENABLE_USER_SITE)]
    lines = [d for d in borrowed if os.path.isdir(d)]
    (Path(purelib.stdout.strip()) / "test-environment.pth").write_text("\n".join(lines) + "\n")
    # pip comes from the borrowed site-packages: no ensurepip, no network. --ignore-installed:
    # the checkout's editable trioserve, of the same version, is visible there too
    install = ["-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed"]
    _run([python, *install, str(dists.wheel)], 120, env=_venv_env())
    return path


def _venv_env() -> dict[str, str]:
    # PYTHONPATH would put another trioserve ahead of the venv's
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    return env | {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def _metadata(text: str) -> Message:
    return email.parser.Parser().parsestr(text)


def test_twine_accepts_the_sdist_and_the_wheel(dists: Dists) -> None:
    args = ["-m", "twine", "check", "--strict", str(dists.sdist), str(dists.wheel)]
    result = _run([sys.executable, *args], 120)
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_the_wheel_holds_both_packages_their_types_the_ui_and_the_license(dists: Dists) -> None:
    info = f"trioserve-{__version__}.dist-info"
    assert dists.wheel.name == f"trioserve-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(dists.wheel) as wheel:
        names = set(wheel.namelist())
        license_text = wheel.read(f"{info}/licenses/LICENSE")
    source = dists.source
    modules = {
        n
        for top in ("trioserve", "fcgi")
        for n in _files_under(source, top)
        if "__pycache__" not in n
    }
    assert modules - names == set()  # every module and every UI asset, subpackages included
    assert {"trioserve/py.typed", "fcgi/py.typed", "trioserve/ui/index.html"} <= names
    assert {n.split("/")[0] for n in names} == {"trioserve", "fcgi", info}  # no tests, no docs
    assert license_text == (source / "LICENSE").read_bytes()
    assert b"MIT License" in license_text


def test_the_wheel_metadata_says_what_pyproject_says(dists: Dists) -> None:
    info = f"trioserve-{__version__}.dist-info"
    with zipfile.ZipFile(dists.wheel) as wheel:
        meta = _metadata(wheel.read(f"{info}/METADATA").decode())
        entry_points = configparser.ConfigParser()
        entry_points.read_string(wheel.read(f"{info}/entry_points.txt").decode())
    project = PYPROJECT["project"]
    assert meta["Name"] == "trioserve"
    assert meta["Version"] == __version__
    assert meta["Metadata-Version"] == "2.4"  # PEP 639: License-Expression, License-File
    assert meta["License-Expression"] == "MIT" == project["license"]
    assert meta.get_all("License-File") == ["LICENSE"]
    assert meta["Requires-Python"] == project["requires-python"]
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta.get_all("Classifier") == project["classifiers"]
    assert {"Framework :: Trio", "Typing :: Typed"} <= set(project["classifiers"])
    urls = {line.split(", ", 1)[0]: line.split(", ", 1)[1] for line in meta.get_all("Project-URL")}
    assert urls == project["urls"]
    assert all(url.startswith("https://") for url in urls.values())
    required = [r for r in meta.get_all("Requires-Dist") if "extra ==" not in r]
    assert required == project["dependencies"]
    assert dict(entry_points["console_scripts"]) == {"trioserve": "trioserve.cli:main"}


def _sdist_bytes(path: Path, name: str) -> bytes:
    with tarfile.open(path) as sdist:
        member = sdist.extractfile(name)
        assert member is not None, name
        return member.read()


def test_the_sdist_holds_what_a_packager_needs(dists: Dists) -> None:
    prefix = f"trioserve-{__version__}/"
    assert dists.sdist.name == f"trioserve-{__version__}.tar.gz"
    with tarfile.open(dists.sdist) as sdist:
        members = {m.name: m for m in sdist.getmembers()}
        pkg_info = _metadata(sdist.extractfile(prefix + "PKG-INFO").read().decode())  # type: ignore[union-attr]
    assert all(name == prefix.rstrip("/") or name.startswith(prefix) for name in members)
    files = {name.removeprefix(prefix) for name, m in members.items() if m.isfile()}
    source = dists.source
    expected = set(SDIST_FILES) | {n for top in SDIST_TREES for n in _files_under(source, top)}
    assert expected - files == set()
    assert not {n for n in files if n.endswith((".pyc", ".pyo")) or n.startswith(".ci/")}
    assert pkg_info["Version"] == __version__
    assert pkg_info["License-Expression"] == "MIT"
    assert members[prefix + "scripts/test"].mode & 0o111  # the README's test command runs
    for name in SDIST_FILES:
        assert _sdist_bytes(dists.sdist, prefix + name) == (source / name).read_bytes()


def test_the_installed_wheel_is_what_runs(venv: Path, dists: Dists) -> None:
    probe = (
        "import json, importlib.metadata as md, trioserve, fcgi;"
        "print(json.dumps([trioserve.__file__, fcgi.__file__, trioserve.__version__,"
        " md.version('trioserve')]))"
    )
    result = _run([str(venv / "bin" / "python"), "-c", probe], 60, env=_venv_env(), cwd=venv)
    trioserve_file, fcgi_file, version, dist_version = json.loads(result.stdout)
    site = venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    assert Path(trioserve_file) == site / "trioserve" / "__init__.py"
    assert Path(fcgi_file) == site / "fcgi" / "__init__.py"
    assert version == dist_version == __version__
    assert (site / "trioserve" / "py.typed").is_file()


@pytest.fixture
def demo(venv: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    """``trioserve demo`` started from the venv's own ``bin/trioserve``, stopped in the end."""
    log = tmp_path / "demo.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [str(venv / "bin" / "trioserve"), "demo", "--port", "0", "-q"],
            cwd=tmp_path,
            env=_venv_env(),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(proc, lines), daemon=True)
    reader.start()
    try:
        yield proc, _wait_for_url(lines, log, timeout=30), log
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        reader.join(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()


def _read_lines(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.put(line)
    lines.put(None)


def _wait_for_url(lines: queue.Queue[str | None], log: Path, timeout: float) -> str:
    """The demo prints its URL once its listener is bound, so from then on it answers."""
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no URL in {timeout} s: {seen}\n{log.read_text()}") from None
        if line is None:
            raise AssertionError(f"the demo exited: {seen}\n{log.read_text()}")
        seen.append(line)
        if match := re.search(r"http://127\.0\.0\.1:(\d+)/", line):
            return f"http://127.0.0.1:{match.group(1)}"


def test_the_installed_demo_serves_and_stops_on_ctrl_c(
    demo: tuple[subprocess.Popen[str], str, Path], dists: Dists
) -> None:
    proc, base, log = demo
    with httpx.Client(base_url=base, timeout=10) as client:
        top = client.get("/h.json")
        assert top.status_code == 200, top.text
        assert top.headers["server"] == f"trioserve/{__version__}"
        assert top.json()["_name"] == "demo"
        objects = next(c for c in top.json()["_childs"] if c["_name"] == "Objects")
        assert "hists" in {c["_name"] for c in objects["_childs"]}
        hpx = client.get("/Objects/hists/hpx/root.json")
        assert hpx.status_code == 200, hpx.text
        assert hpx.json()["_typename"] == "TH1D"
        assert hpx.json()["fName"] == "hpx"
        assert hpx.json()["fXaxis"]["fNbins"] == 100
        # the UI's files are served from the installed package, byte for byte the wheel's
        page = client.get("/")
        assert page.status_code == 200 and "tsui.mjs" in page.text
        with zipfile.ZipFile(dists.wheel) as wheel:
            assert client.get("/tsui.mjs").content == wheel.read("trioserve/ui/tsui.mjs")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 0, log.read_text()
