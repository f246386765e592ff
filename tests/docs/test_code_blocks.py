"""Every ```python block of README.md and docs/*.md runs as pasted.

The rules for code blocks in the docs (what this module enforces):

1. A ```python block is a **complete program**, as a user would paste it into a file and
   run it: its imports, every name it uses, ``trio.run(main)``. Each is run alone, as a
   script in a fresh temporary directory (the files it creates go there). Of the
   repository it sees only the package under test (this tree's ``trioserve`` and ``fcgi``,
   whatever else is installed), plus ``examples`` when it imports from there.
2. A block that serves uses the port **8080** for HTTP and **9000** for FastCGI, and no
   other fixed port; every ``8080`` and ``9000`` in its text (comments too) is such a port.
   The runner replaces each by a free port, waits until the program answers there
   (``GET /h.json`` over HTTP, the same as a FastCGI request) with a 200 JSON reply, runs
   the block's narrative commands (rule 4), then stops it with SIGTERM: it must still be
   running then and must not have printed a traceback.
3. A block with neither port must end by itself, with status 0, within a minute.
4. The narrative of a serving block -- its prose up to the next heading or ```python block
   -- may tell the reader to run ``curl`` against ``127.0.0.1:8080`` or ``cgi-fcgi``
   against ``127.0.0.1:9000``, inline (`` `curl http://127.0.0.1:8080/x` ``) or in a ```sh
   block (``$ curl ...`` lines followed by the output they print, or bare command lines).
   Each such command is run as written through bash, ports replaced, in the block's
   directory, and must succeed: curl with ``--fail-with-body`` added, cgi-fcgi with a 2xx
   ``Status``. When the docs show its output, and that output is not abridged with
   ``...``/``…``, it must be exactly that.
5. Anything that is not such a program -- a fragment, pseudo-code, a REPL session, an API
   signature -- is not ```python: use ```text (or prose).
6. Every ```toml block must parse (``tomllib``).

A failure names the block as ``file:line`` (the line of its opening fence) and shows the
program's output.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import fcgi
import trioserve
from tests.conftest import require_tool
from tests.docs.blocks import (
    FASTCGI_PORT,
    HTTP_PORT,
    TOOLS,
    Block,
    Command,
    python_blocks,
    toml_blocks,
)
from tests.frontends.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = python_blocks(ROOT)
TOMLS = toml_blocks(ROOT)

#: bounds, not budgets: each wait below ends as soon as its event happens
START_BOUND = 60.0  # until a serving block answers (a loaded 2-core machine, cold imports)
RUN_BOUND = 60.0  # a block that ends by itself
COMMAND_BOUND = 30.0  # one narrative command
STOP_BOUND = 10.0  # after SIGTERM

_IMPORTS_EXAMPLES = re.compile(r"^\s*(from|import)\s+examples\b", re.MULTILINE)


@dataclass
class Program:
    """One block written out as a script, with the ports it was given."""

    block: Block
    directory: Path
    http: int | None
    fastcgi: int | None

    @classmethod
    def write(cls, block: Block, directory: Path) -> Program:
        text = block.text
        http = fastcgi = None
        if re.search(rf"\b{HTTP_PORT}\b", text):
            http = free_port()
            text = re.sub(rf"\b{HTTP_PORT}\b", str(http), text)
        if re.search(rf"\b{FASTCGI_PORT}\b", text):
            fastcgi = free_port()
            text = re.sub(rf"\b{FASTCGI_PORT}\b", str(fastcgi), text)
        site = directory / "site"
        site.mkdir()
        for package in (trioserve, fcgi):
            source = Path(str(package.__file__)).parent
            (site / source.name).symlink_to(source, target_is_directory=True)
        cwd = directory / "run"
        cwd.mkdir()
        (cwd / "doc_block.py").write_text(text, encoding="utf-8")
        return cls(block, cwd, http, fastcgi)

    @property
    def serves(self) -> bool:
        return self.http is not None or self.fastcgi is not None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONUNBUFFERED"] = "1"
        path = [str(self.directory.parent / "site")]
        if _IMPORTS_EXAMPLES.search(self.block.text):
            path.append(str(ROOT))
        env["PYTHONPATH"] = os.pathsep.join(path)
        return env

    def start(self) -> subprocess.Popen[bytes]:
        with (
            (self.directory / "stdout").open("wb") as out,
            (self.directory / "stderr").open("wb") as err,
        ):
            return subprocess.Popen(
                [sys.executable, "doc_block.py"],
                cwd=self.directory,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )

    def output(self) -> str:
        parts = []
        for name in ("stdout", "stderr"):
            path = self.directory / name
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"--- {name} ---\n{text.rstrip()}")
        return "\n".join(parts)

    def fail(self, what: str) -> None:
        pytest.fail(f"{self.block.id}: {what}\n{self.output()}", pytrace=False)


# ------------------------------------------------------------------------ waiting on the port


def _wait_http(program: Program, proc: subprocess.Popen[bytes], auth: Any) -> httpx.Response:
    """The first answer to ``GET /h.json``, once the program listens (bounded)."""
    url = f"http://127.0.0.1:{program.http}/h.json"
    deadline = time.monotonic() + START_BOUND
    while True:
        if proc.poll() is not None:
            program.fail(f"exited with status {proc.returncode} before answering on HTTP")
        try:
            return httpx.get(url, auth=auth, timeout=COMMAND_BOUND)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                program.fail(f"nothing answered on {url} within {START_BOUND:.0f} s")
            time.sleep(0.05)


def _wait_fastcgi(program: Program, proc: subprocess.Popen[bytes]) -> tuple[int, bytes]:
    """Status and body of a FastCGI ``GET /h.json`` (as lighttpd sends it), once it listens."""
    assert program.fastcgi is not None
    deadline = time.monotonic() + START_BOUND
    while True:
        if proc.poll() is not None:
            program.fail(f"exited with status {proc.returncode} before answering on FastCGI")
        try:
            return _fastcgi_get(program.fastcgi, "/h.json")
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                program.fail(f"nothing listened on FastCGI port {program.fastcgi}")
            time.sleep(0.05)


def _fastcgi_get(port: int, path: str) -> tuple[int, bytes]:
    params = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "/root.app",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    request = (
        fcgi.encode_begin_request(1, keep_conn=False)
        + fcgi.encode_stream(fcgi.RecordType.PARAMS, 1, fcgi.encode_params(params), end=True)
        + fcgi.encode_stream(fcgi.RecordType.STDIN, 1, b"", end=True)
    )
    reader = fcgi.RecordReader()
    stdout = b""
    with socket.create_connection(("127.0.0.1", port), timeout=COMMAND_BOUND) as sock:
        sock.sendall(request)
        while True:
            record = reader.next_record()
            if record is None:
                data = sock.recv(1 << 16)
                if not data:
                    raise AssertionError("FastCGI connection closed before END_REQUEST")
                reader.feed(data)
                continue
            if record.type == fcgi.RecordType.END_REQUEST:
                break
            if record.type == fcgi.RecordType.STDOUT:
                stdout += record.content
    head, _, body = stdout.partition(b"\r\n\r\n")
    status = re.search(rb"^Status: (\d{3})", head, re.MULTILINE)
    assert status is not None, f"no Status line in {head!r}"
    return int(status[1]), body


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------ narrative commands


def _credentials(commands: list[Command]) -> Any:
    """Digest credentials the narrative's curl uses (a block with auth on is fetched as them)."""
    for command in commands:
        user = re.search(r"(?:-u|--user)\s+(\S+)", command.text)
        if user and "--digest" in command.text:
            name, _, password = user[1].strip("'\"").partition(":")
            return httpx.DigestAuth(name, password)
    return None


def _run_command(program: Program, command: Command) -> None:
    text = command.text
    for port, given in ((HTTP_PORT, program.http), (FASTCGI_PORT, program.fastcgi)):
        if given is not None:
            text = re.sub(rf"\b{port}\b", str(given), text)
    text = re.sub(r"(^|\|\s*)curl\b", r"\1curl --fail-with-body --no-progress-meter", text)
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", text],
        cwd=program.directory,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=COMMAND_BOUND,
    )
    shown = f"`{command.text}`"
    out = result.stdout.decode(errors="replace")
    if result.returncode != 0:
        program.fail(
            f"the narrative's {shown} failed with status {result.returncode}:\n"
            f"{out}\n{result.stderr.decode(errors='replace')}"
        )
    if "cgi-fcgi" in text and not re.match(r"Status: 2\d\d", out):
        program.fail(f"the narrative's {shown} was not answered with a 2xx:\n{out[:300]}")
    if command.expected is not None and out.strip() != command.expected:
        program.fail(
            f"the narrative's {shown} printed\n{out.strip()}\nand the docs show\n{command.expected}"
        )


# ------------------------------------------------------------------------ the tests


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_python_block_runs(block: Block, short_tmp: Path) -> None:
    program = Program.write(block, short_tmp)
    if not program.serves:
        _run_to_end(program)
        return
    for tool in sorted({m[1] for c in block.commands for m in TOOLS.finditer(c.text)}):
        require_tool(tool)
    proc = program.start()
    try:
        if program.http is not None:
            reply = _wait_http(program, proc, _credentials(block.commands))
            if reply.status_code != 200 or not _is_json(reply.content):
                program.fail(f"GET /h.json answered {reply.status_code}: {reply.text[:300]}")
        if program.fastcgi is not None:
            status, body = _wait_fastcgi(program, proc)
            if status != 200 or not _is_json(body):
                program.fail(f"FastCGI GET /h.json answered {status}: {body[:300]!r}")
        for command in block.commands:
            _run_command(program, command)
        if proc.poll() is not None:
            program.fail(f"stopped by itself (status {proc.returncode}) instead of serving")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_BOUND)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.returncode != -signal.SIGTERM:
        program.fail(f"ended with status {proc.returncode}, not by our SIGTERM")
    if "Traceback" in (program.directory / "stderr").read_text(errors="replace"):
        program.fail("printed a traceback while serving")


def _run_to_end(program: Program) -> None:
    proc = program.start()
    try:
        proc.wait(timeout=RUN_BOUND)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        program.fail(
            f"still running after {RUN_BOUND:.0f} s; a block that serves must use port "
            f"{HTTP_PORT} (HTTP) or {FASTCGI_PORT} (FastCGI)"
        )
    if proc.returncode != 0:
        program.fail(f"exited with status {proc.returncode}")


@pytest.mark.parametrize(("where", "text"), TOMLS, ids=[w for w, _ in TOMLS])
def test_toml_block_parses(where: str, text: str) -> None:
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        pytest.fail(f"{where}: {exc}\n{text}", pytrace=False)


def test_the_docs_have_python_blocks() -> None:
    """The runner found the blocks it must run (a broken extractor would pass everything)."""
    files = {b.path for b in BLOCKS}
    assert "README.md" in files and "docs/quickstart.md" in files, files
