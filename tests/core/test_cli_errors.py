"""A server that cannot start says why in one line, with what to do, and exits with status 2.

The command runs as a real process (``python -m trioserve.cli``, and once the installed
``trioserve`` script); each test asserts the whole of stderr. From Python,
``Server.serve`` raises one :class:`StartupError` instead of an exception group.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from trioserve.errors import BindError, SpecError, StartupError
from trioserve.server import Server

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "trioserve: cannot start: "


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trioserve.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert (result.returncode, result.stderr) == (2, PREFIX + message + "\n")
    assert result.stdout == ""


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that another program listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


# -- trioserve demo --------------------------------------------------------------------------
def test_demo_busy_port(busy_port: int) -> None:
    assert_one_line(
        run_cli("demo", "--port", str(busy_port)),
        f"127.0.0.1:{busy_port} is already in use (http engine 'http:127.0.0.1:{busy_port}'): "
        "stop the program that listens there, or choose another port with --port",
    )


DEMO_CASES = [
    (
        ["--port", "70000"],
        "--port 70000 is out of range: use 1 to 65535 (0 picks a free port)",
    ),
    (
        ["--spec", "htp:9000"],
        "--spec: unknown engine kind 'htp' in 'htp:9000'; expected http, https, socket or fastcgi",
    ),
    (
        ["--host", "192.0.2.1"],
        "192.0.2.1 is not an address of this machine (http engine 'http:192.0.2.1:0'): bind "
        "127.0.0.1 (the default), 0.0.0.0 for every interface, or one of this machine's "
        "addresses",
    ),
    (
        ["--host", "nosuchhost.invalid"],
        "the host name 'nosuchhost.invalid' cannot be resolved (http engine "
        "'http:nosuchhost.invalid:0'): check the name, or give an IP address such as 127.0.0.1",
    ),
    (
        ["--spec", "socket:/nonexistent-dir/app.sock"],
        "the directory /nonexistent-dir of the socket /nonexistent-dir/app.sock does not exist "
        "(socket engine 'socket:/nonexistent-dir/app.sock'): create it, or choose a socket path "
        "in an existing directory",
    ),
    (
        ["--spec", "http:0?auth_file=/nonexistent-dir/auth&auth_domain=root"],
        "http engine 'http:0?auth_file=/nonexistent-dir/auth&auth_domain=root': the password "
        "file '/nonexistent-dir/auth' does not exist: create it with trioserve htdigest -c "
        "/nonexistent-dir/auth root USER",
    ),
    (
        ["--jsroot", "/nonexistent-dir/jsroot"],
        "--jsroot: the directory '/nonexistent-dir/jsroot' does not exist: give the folder of a "
        "JSROOT distribution, e.g. node_modules/jsroot after npm install jsroot",
    ),
]


@pytest.mark.parametrize(
    ("args", "message"), DEMO_CASES, ids=[c[0][0] + c[0][1] for c in DEMO_CASES]
)
def test_demo_startup_errors(args: list[str], message: str) -> None:
    port = [] if "--port" in args else ["--port", "0"]
    assert_one_line(run_cli("demo", *port, *args), message)


# -- trioserve serve -------------------------------------------------------------------------
def test_serve_busy_port(busy_port: int) -> None:
    assert_one_line(
        run_cli("serve", "examples.daq_app:build", "--spec", f"http:{busy_port}"),
        f"127.0.0.1:{busy_port} is already in use (http engine 'http:{busy_port}'): "
        "stop the program that listens there, or choose another port with --spec",
    )


def test_serve_busy_unix_socket(short_tmp: Path) -> None:
    path = short_tmp / "app.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        sock.listen()
        assert_one_line(
            run_cli("serve", "examples.daq_app:build", "--spec", f"socket:{path}"),
            f"another server already listens on {path} (socket engine 'socket:{path}'): "
            "stop it, or choose another socket path",
        )


APP_MODULE = """
import trioserve

def broken(server):
    raise ValueError("no detector")

async def quits(server, *, task_status):
    return None

def build(server):
    server.register("/", {"a": 1}, name="d")

not_callable = 42
"""


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "myapp.py").write_text(APP_MODULE)
    (tmp_path / "needsdep.py").write_text("import nonexistent_dependency_xyz\n")
    return tmp_path


SERVE_CASES = [
    (["myapp"], "APP 'myapp' is not an import string: write module:attribute, e.g. mymodule:build"),
    (
        ["nosuchmodule:build"],
        "APP 'nosuchmodule:build': no module named 'nosuchmodule': run trioserve from the "
        "folder that holds it, or fix the name",
    ),
    (
        ["needsdep:build"],
        "APP 'needsdep:build': importing 'needsdep' failed: No module named "
        "'nonexistent_dependency_xyz'",
    ),
    (["myapp:nope"], "APP 'myapp:nope': module 'myapp' has no attribute 'nope'"),
    (
        ["myapp:not_callable"],
        "APP 'myapp:not_callable' is a int, not a trioserve.Server or a function that takes one",
    ),
    (
        ["myapp:broken"],
        "APP 'myapp:broken' raised ValueError: no detector (--log-level debug shows the traceback)",
    ),
    (
        ["myapp:quits"],
        "APP 'myapp:quits' returned before calling task_status.started(): call it once its "
        "objects are registered, then run its loop",
    ),
    ([], "no APP: give one (trioserve serve mymodule:build) or app= in --config"),
    (
        ["myapp:build", "--spec", "http:70000"],
        "--spec: 'http:70000': port 70000 is out of range: use 0-65535 (0 picks a free port)",
    ),
    (
        ["myapp:build", "--spec", "fastcgi:9000?auth_file=x"],
        "--spec: unknown option(s) auth_file for fastcgi engine in 'fastcgi:9000?auth_file=x'; "
        "allowed: bind, debug, grace, idle_timeout, log, loopback, max_body, max_connections, "
        "max_params, max_websockets, socket_mode, thrds, top",
    ),
    (
        ["myapp:build", "--spec", "http:0?max_body=lots"],
        "engine option max_body='lots' in 'http:0?max_body=lots' is not an integer",
    ),
    (
        ["myapp:build", "--config", "missing.toml"],
        "missing.toml: no such file",
    ),
]


@pytest.mark.parametrize(("args", "message"), SERVE_CASES, ids=lambda v: str(v)[:40])
def test_serve_startup_errors(app_dir: Path, args: list[str], message: str) -> None:
    assert_one_line(run_cli("serve", *args, cwd=app_dir), message)


def test_config_errors_name_file_and_key(app_dir: Path) -> None:
    (app_dir / "app.toml").write_text('app = "myapp:build"\nengins = ["http:0"]\n')
    assert_one_line(
        run_cli("serve", "--config", "app.toml", cwd=app_dir),
        "app.toml: engins: unknown key; did you mean 'engines'?",
    )
    (app_dir / "app.toml").write_text(
        'app = "myapp:build"\nengines = ["http:0"]\n[locations]\n"files/" = "www"\n'
    )
    assert_one_line(
        run_cli("serve", "--config", "app.toml", cwd=app_dir),
        f"app.toml: locations 'files/': the directory '{app_dir / 'www'}' does not exist: "
        "create it or fix the path (relative paths start at the config file's folder)",
    )
    (app_dir / "app.toml").write_text(
        'app = "myapp:nope"\nengines = ["http:0"]\n[auth]\nfile = "pw"\nrealm = "root"\n'
    )
    assert_one_line(
        run_cli("serve", "--config", "app.toml", cwd=app_dir),
        f"app.toml: auth: the password file '{app_dir / 'pw'}' does not exist: create it with "
        f"trioserve htdigest -c {app_dir / 'pw'} root USER",
    )
    (app_dir / "pw").write_text("")
    assert_one_line(
        run_cli("serve", "--config", "app.toml", cwd=app_dir),
        "app.toml: app 'myapp:nope': module 'myapp' has no attribute 'nope'",
    )
    (app_dir / "app.toml").write_text(
        'app = "myapp:build"\nengines = ["http:0"]\n[restrict]\n"/x" = "hide=guest"\n'
    )
    result = run_cli("serve", "--config", "app.toml", cwd=app_dir)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(PREFIX + "app.toml: restrict '/x': ")
    assert "hide" in result.stderr


def test_the_installed_script_imports_from_the_current_directory(app_dir: Path) -> None:
    """The console script's ``sys.path[0]`` is its own folder, not the current one."""
    script = Path(sys.executable).parent / "trioserve"
    if not script.exists():
        pytest.skip(f"SKIPPED LOUDLY: no trioserve script next to {sys.executable}")
    result = subprocess.run(
        [str(script), "serve", "myapp:build", "--check", "--spec", "http:0"],
        cwd=app_dir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "trioserve: ok: myapp:build builds, engines http:0\n"


# -- from Python -----------------------------------------------------------------------------
async def test_serve_raises_one_bind_error(busy_port: int) -> None:
    server = Server()
    async with trio.open_nursery() as nursery:
        with trio.fail_after(10), pytest.raises(StartupError) as info:
            await nursery.start(server.serve, f"http:{busy_port}")
    error = info.value
    assert isinstance(error, BindError) and isinstance(error, OSError)
    assert error.errno == errno.EADDRINUSE
    assert isinstance(error.__cause__, OSError) and error.__cause__.errno == errno.EADDRINUSE
    assert str(error) == (
        f"127.0.0.1:{busy_port} is already in use (http engine 'http:{busy_port}'): "
        "stop the program that listens there, or choose another port"
    )
    assert server.engines == []


async def test_serve_raises_spec_errors_as_startup_errors(tmp_path: Path) -> None:
    missing = tmp_path / "auth"
    server = Server()
    with trio.fail_after(10), pytest.raises(SpecError) as info:
        await server.serve(f"http:0?auth_file={missing}&auth_domain=root")
    assert isinstance(info.value, StartupError)
    assert "does not exist" in str(info.value)


async def test_second_engine_failure_stops_the_first(short_tmp: Path) -> None:
    server = Server()
    with trio.fail_after(10), pytest.raises(BindError) as info:
        await server.serve(f"http:0;socket:{short_tmp}/missing/app.sock")
    assert info.value.errno == errno.ENOENT
    assert "the directory" in str(info.value) and server.engines == []
    assert os.listdir(short_tmp) == []


async def test_create_engine_raises_a_bind_error_while_running(busy_port: int) -> None:
    server = Server()
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "http:0")
        with trio.fail_after(10), pytest.raises(BindError, match="already in use"):
            await server.create_engine(f"fastcgi:{busy_port}")
        assert len(server.engines) == 1  # the running engine is untouched
        nursery.cancel_scope.cancel()
