"""Fixtures: trioserve backend processes and real Apache / lighttpd / nginx in front of them.

Each front-end is started once per test module with every variant as its own virtual host
(Apache), socket block (lighttpd) or server block (nginx), so the whole directory starts a
handful of processes.
When a test fails, the front-ends' error logs and the backend's output are attached to the
report.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import require_tool
from tests.frontends import harness

USERS = {"user": "secret", "admin": "adminpw"}


@dataclass
class Backend:
    """One ``tests.frontends.backend`` process."""

    name: str
    workdir: Path
    proc: subprocess.Popen[bytes]
    http: tuple[str, int]
    fastcgi: tuple[str, int]
    unix: str
    log: Path

    @property
    def direct(self) -> str:
        """Base URL of its HTTP engine: reference answers and counters, no front-end."""
        return f"http://{self.http[0]}:{self.http[1]}"

    def log_text(self, limit: int = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- backend {self.name} output\n{text[-limit:] or '(empty)'}"

    def stop(self) -> None:
        if self in harness.LIVE:
            harness.LIVE.remove(self)  # type: ignore[arg-type]
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc.stdin is not None:
            self.proc.stdin.close()


def start_backend(workdir: Path, top: str) -> Backend:
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)  # Apache's www-data children must reach the unix socket
    log = workdir / "backend.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.frontends.backend", str(workdir), "--top", top],
            cwd=harness.REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the backend prints its addresses once it is bound
    if not line:
        proc.wait(timeout=10)
        raise RuntimeError(f"backend {top} did not start:\n{log.read_text(errors='replace')}")
    info = json.loads(line)
    backend = Backend(
        name=top,
        workdir=workdir,
        proc=proc,
        http=tuple(info["http"]),  # type: ignore[arg-type]
        fastcgi=tuple(info["fastcgi"]),  # type: ignore[arg-type]
        unix=info["unix"],
        log=log,
    )
    harness.LIVE.append(backend)  # type: ignore[arg-type]
    return backend


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed:
        for running in list(harness.LIVE):
            report.sections.append((f"{running.name} logs", running.log_text()))


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    # short: unix socket paths must stay under ~100 bytes
    path = Path(tempfile.mkdtemp(prefix="tsfe-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def htdigest(workdir: Path) -> Path:
    path = workdir / "htdigest.txt"
    harness.write_htdigest(path, harness.REALM, USERS)
    return path


@pytest.fixture(scope="module")
def htpasswd(workdir: Path) -> Path:
    path = workdir / "htpasswd.txt"
    harness.write_htpasswd(path, USERS)
    return path


@pytest.fixture(scope="module")
def backend(workdir: Path) -> Iterator[Backend]:
    running = start_backend(workdir / "backend", "trioserve")
    yield running
    running.stop()


def apache_variants(backend: Backend, htdigest: Path) -> dict[str, list[tuple[str, dict]]]:
    host, port = backend.fastcgi
    common = {"PREFIX": harness.PREFIX}
    tcp = {**common, "BACKEND": f"fcgi://{host}:{port}/"}
    unix = {**common, "BACKEND": f"unix:{backend.unix}|fcgi://localhost/"}
    digest = {**common, "HTDIGEST": htdigest, "REALM": harness.REALM}
    return {
        # the user guide's line, verbatim apart from the port: fcgi://localhost:PORT/
        "apache-userguide": [
            ("userguide", {**common, "BACKEND": f"fcgi://localhost:{port}/"}),
        ],
        "apache-tcp": [("proxy", tcp)],
        "apache-unix": [("proxy", unix)],
        "apache-generic": [("generic", {}), ("proxy", tcp)],
        "apache-digest": [("proxy", tcp), ("digest", digest)],
    }


def lighttpd_variants(backend: Backend, htdigest: Path) -> dict[str, list[tuple[str, dict]]]:
    host, port = backend.fastcgi
    common = {"PREFIX": harness.PREFIX}
    tcp = {**common, "HOST": host, "PORT": port}
    digest = {**common, "HTDIGEST": htdigest, "REALM": harness.REALM}
    return {
        "lighttpd-tcp": [("fastcgi-tcp", tcp)],
        "lighttpd-unix": [("fastcgi-unix", {**common, "SOCKET": backend.unix})],
        "lighttpd-digest": [("fastcgi-tcp", tcp), ("digest", digest)],
    }


def nginx_variants(backend: Backend, htpasswd: Path) -> dict[str, list[tuple[str, dict]]]:
    host, port = backend.fastcgi
    common = {"PREFIX": harness.PREFIX, "PREFIX_RE": harness.PREFIX_RE}
    tcp = ("upstream-tcp", {"UPSTREAM": "trioserve_tcp", "HOST": host, "PORT": port})
    unix = ("upstream-unix", {"UPSTREAM": "trioserve_unix", "SOCKET": backend.unix})
    location = {**common, "UPSTREAM": "trioserve_tcp"}
    basic = {**location, "REALM": harness.REALM, "HTPASSWD": htpasswd}
    return {
        "nginx-tcp": [tcp, ("location", location)],
        "nginx-unix": [unix, ("location", {**common, "UPSTREAM": "trioserve_unix"})],
        # what most guides write: stock params + split_path_info, no upstream block
        "nginx-usual": [("usual", {**common, "HOST": host, "PORT": port})],
        # the whole site, stock params only: no PATH_INFO reaches the engine
        "nginx-root": [tcp, ("root", {"UPSTREAM": "trioserve_tcp"})],
        "nginx-basic": [tcp, ("basic", basic)],
    }


@pytest.fixture(scope="module")
def apache_front(workdir: Path, backend: Backend, htdigest: Path) -> Iterator[harness.FrontEnd]:
    binary = require_tool("apache2", "/usr/sbin/apache2", "httpd")
    front = harness.apache(workdir / "apache", binary, apache_variants(backend, htdigest))
    yield front
    front.stop()


@pytest.fixture(scope="module")
def lighttpd_front(workdir: Path, backend: Backend, htdigest: Path) -> Iterator[harness.FrontEnd]:
    binary = require_tool("lighttpd", "/usr/sbin/lighttpd")
    front = harness.lighttpd(workdir / "lighttpd", binary, lighttpd_variants(backend, htdigest))
    yield front
    front.stop()


@pytest.fixture(scope="module")
def nginx_front(workdir: Path, backend: Backend, htpasswd: Path) -> Iterator[harness.FrontEnd]:
    binary = require_tool("nginx", "/usr/sbin/nginx")
    params = require_tool("fastcgi_params", harness.nginx_params_file(binary))
    front = harness.nginx(workdir / "nginx", binary, params, nginx_variants(backend, htpasswd))
    yield front
    front.stop()


@dataclass
class Variant:
    """One front-end configuration: where to send requests and what to expect there."""

    name: str
    base: str  # http://127.0.0.1:PORT/root.app
    port: int
    backend: Backend
    front: harness.FrontEnd

    @property
    def apache(self) -> bool:
        return self.name.startswith("apache")

    @property
    def auth(self) -> type[httpx.Auth]:
        """How this front-end logs users in: nginx has basic authentication only."""
        return httpx.BasicAuth if self.name == "nginx-basic" else httpx.DigestAuth

    @property
    def limits_bodies_first(self) -> bool:
        """The guides' nginx lines keep nginx's own 1 MiB client_max_body_size: nginx, not
        trioserve, refuses a big body there (our "location" section raises it)."""
        return self.name == "nginx-usual"

    @property
    def keeps_content_length(self) -> bool:
        """lighttpd and nginx forward our Content-Length; Apache only with
        ap_trust_cgilike_cl (our "proxy" section), not with the user guide's bare line,
        where Apache >= 2.4.59 re-frames every reply as chunked."""
        return self.name != "apache-userguide"


def variant(request: pytest.FixtureRequest, name: str) -> Variant:
    front_fixture = name.split("-", 1)[0] + "_front"  # apache_front, lighttpd_front, ...
    front: harness.FrontEnd = request.getfixturevalue(front_fixture)
    backend: Backend = request.getfixturevalue("backend")
    port = front.ports[name]
    prefix = "" if name == "nginx-root" else harness.PREFIX
    return Variant(name, f"http://127.0.0.1:{port}{prefix}", port, backend, front)
