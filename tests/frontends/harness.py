"""Real Apache 2.4, lighttpd and nginx in front of trioserve: config rendering and process
control.

The front-end configs are rendered from the snippet files users copy (``config/``), never
written here: the skeleton below only adds what a test run needs (temp paths, free ports,
the MPM, nginx's temp directories) and wraps each snippet section in a virtual host /
socket condition / server block. Front-ends run as ordinary foreground processes (no
systemd, no apachectl, no service) and are stopped by PID. docs/deployment.md says why each
snippet setting is there.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / "config"
APACHE_SNIPPETS = CONFIG_DIR / "apache-fastcgi.conf"
LIGHTTPD_SNIPPETS = CONFIG_DIR / "lighttpd-fastcgi.conf"
NGINX_SNIPPETS = CONFIG_DIR / "nginx-fastcgi.conf"
APACHE_MODULES = "/usr/lib/apache2/modules"
PREFIX = "/root.app"
PREFIX_RE = re.escape(PREFIX)  # for nginx's fastcgi_split_path_info: /root\.app
REALM = "trioserve"

_SECTION = re.compile(r"^# === section: ([\w-]+) ===\s*$", re.MULTILINE)
_PLACEHOLDER = re.compile(r"@[A-Z0-9_]+@")

#: every front-end process started by this module and not yet stopped (for failure reports)
LIVE: list[FrontEnd] = []


# ------------------------------------------------------------------------- rendering


def sections(path: Path) -> dict[str, str]:
    """The named sections of a snippet file (``# === section: NAME ===`` to the next one)."""
    text = path.read_text()
    marks = list(_SECTION.finditer(text))
    result: dict[str, str] = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        result[mark.group(1)] = text[mark.end() : end].strip("\n") + "\n"
    return result


def render(path: Path, name: str, **values: object) -> str:
    """One section with its ``@PLACEHOLDERS@`` replaced; a placeholder left over is an error
    (it would be a config the user cannot run either)."""
    text = sections(path)[name]
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    left = sorted(set(_PLACEHOLDER.findall(text)))
    if left:
        raise ValueError(f"section {name!r} of {path.name} still has {left}")
    return text


# ------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with status {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


@dataclass
class FrontEnd:
    """One running front-end process; ``ports`` maps a variant name to its listening port."""

    name: str
    binary: str
    config: Path
    logs: list[Path]
    ports: dict[str, int]
    argv: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.config.with_suffix(".out")
        with out.open("wb") as sink:
            self.proc = subprocess.Popen(self.argv, stdout=sink, stderr=subprocess.STDOUT)
        self.logs.append(out)
        LIVE.append(self)
        try:
            for port in self.ports.values():
                wait_for_port(port, self.proc)
        except Exception as exc:
            self.stop()
            raise RuntimeError(f"{self.name} did not start: {exc}\n{self.log_text()}") from exc

    def log_text(self, limit: int = 6000) -> str:
        parts = []
        for log in self.logs:
            try:
                text = log.read_text(errors="replace")
            except OSError:
                continue
            if text:
                parts.append(f"--- {log.name} (last {limit} chars)\n{text[-limit:]}")
        return "\n".join(parts) or f"({self.name}: no log output)"

    def stop(self) -> None:
        """SIGTERM to our own PID (Apache: the parent, which stops its children), then wait;
        SIGKILL only if it does not exit."""
        if self in LIVE:
            LIVE.remove(self)
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _shareable(directory: Path) -> None:
    """Apache's children run as www-data: they must be able to reach files and sockets."""
    directory.chmod(0o755)


#: the tests' event MPM: small, enough for a handful of concurrent requests
TEST_MPM = (
    "StartServers 1",
    "ServerLimit 2",
    "ThreadsPerChild 25",
    "MaxRequestWorkers 50",
    "MinSpareThreads 5",
    "MaxSpareThreads 40",
)
#: Debian's default event MPM sizes (/etc/apache2/mods-available/mpm_event.conf): what
#: users run, and what a benchmark at 50 connections needs (the tests' 50 workers are all
#: busy there, and Apache then drops keep-alive connections)
DEBIAN_MPM = (
    "StartServers 2",
    "MinSpareThreads 25",
    "MaxSpareThreads 75",
    "ThreadLimit 64",
    "ThreadsPerChild 25",
    "MaxRequestWorkers 150",
    "MaxConnectionsPerChild 0",
)


def apache(
    workdir: Path,
    binary: str,
    vhosts: dict[str, list[tuple[str, dict[str, object]]]],
    *,
    mpm: tuple[str, ...] = TEST_MPM,
) -> FrontEnd:
    """An Apache with one virtual host per entry of ``vhosts``: name -> list of (section,
    placeholder values) rendered from config/apache-fastcgi.conf, in order; ``mpm`` sizes its
    event MPM."""
    for sub in ("run", "logs", "htdocs"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    _shareable(workdir)
    ports = {name: free_port() for name in vhosts}
    lines = [
        f'ServerRoot "{workdir}"',
        f'PidFile "{workdir}/run/apache.pid"',
        f'DefaultRuntimeDir "{workdir}/run"',
        f'ErrorLog "{workdir}/logs/apache-error.log"',
        "LogLevel warn",
        "ServerName 127.0.0.1",
        f'DocumentRoot "{workdir}/htdocs"',
        # the harness's own choices: the event MPM sized by ``mpm``, no access log
        f"LoadModule mpm_event_module {APACHE_MODULES}/mod_mpm_event.so",
        f"LoadModule authz_core_module {APACHE_MODULES}/mod_authz_core.so",
        *mpm,
    ]
    if os.geteuid() == 0:
        # Apache refuses "User root"; the parent binds as root, children run as www-data
        lines += ["User www-data", "Group www-data"]
    lines.append(render(APACHE_SNIPPETS, "modules", MODULES=APACHE_MODULES))
    for name, parts in vhosts.items():
        port = ports[name]
        lines.append(f"Listen 127.0.0.1:{port}")
        lines.append(f"<VirtualHost 127.0.0.1:{port}>  # {name}")
        for section, values in parts:
            lines.append(render(APACHE_SNIPPETS, section, **values))
        lines.append("</VirtualHost>")
    config = workdir / "apache.conf"
    config.write_text("\n".join(lines) + "\n")
    front = FrontEnd(
        name="apache",
        binary=binary,
        config=config,
        logs=[workdir / "logs" / "apache-error.log"],
        ports=ports,
        argv=[binary, "-f", str(config), "-DFOREGROUND"],
    )
    front.start()
    return front


def lighttpd(
    workdir: Path, binary: str, hosts: dict[str, list[tuple[str, dict[str, object]]]]
) -> FrontEnd:
    """A lighttpd with one ``$SERVER["socket"]`` block per entry of ``hosts`` (rendered from
    config/lighttpd-fastcgi.conf). The global port serves nothing: every variant is a block."""
    for sub in ("run", "logs", "htdocs"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in hosts}
    lines = [
        f'server.document-root = "{workdir}/htdocs"',
        'server.bind = "127.0.0.1"',
        f"server.port = {free_port()}",
        f'server.pid-file = "{workdir}/run/lighttpd.pid"',
        f'server.errorlog = "{workdir}/logs/lighttpd-error.log"',
        "server.modules = ( )",
        render(LIGHTTPD_SNIPPETS, "modules"),
    ]
    for name, parts in hosts.items():
        lines.append(f'$SERVER["socket"] == "127.0.0.1:{ports[name]}" {{  # {name}')
        for section, values in parts:
            lines.append(render(LIGHTTPD_SNIPPETS, section, **values))
        lines.append("}")
    config = workdir / "lighttpd.conf"
    config.write_text("\n".join(lines) + "\n")
    front = FrontEnd(
        name="lighttpd",
        binary=binary,
        config=config,
        logs=[workdir / "logs" / "lighttpd-error.log"],
        ports=ports,
        argv=[binary, "-D", "-f", str(config)],
    )
    front.start()
    return front


def nginx_params_file(binary: str) -> str:
    """The ``fastcgi_params`` file this nginx was packaged with: next to its compiled-in
    nginx.conf (``nginx -V``, ``--conf-path``; Debian: /etc/nginx/fastcgi_params). The
    snippets ``include`` it as users' configs do, so the tests use the packaged file, as the
    Apache tests use Debian's module directory; the caller decides what a missing one means."""
    info = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=10).stderr
    found = re.search(r"--conf-path=(\S+)", info)
    conf_dir = Path(found.group(1)).parent if found else Path("/etc/nginx")
    return str(conf_dir / "fastcgi_params")


def nginx(
    workdir: Path,
    binary: str,
    params_file: str,
    servers: dict[str, list[tuple[str, dict[str, object]]]],
) -> FrontEnd:
    """An nginx with one ``server`` block per entry of ``servers`` (sections of
    config/nginx-fastcgi.conf; those named ``upstream-*`` go into the ``http`` block, each
    distinct one once). Its prefix, temp directories, pid and error log live in ``workdir``;
    ``params_file`` is copied beside the config, where ``include fastcgi_params`` looks."""
    for sub in ("run", "logs", "tmp"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    _shareable(workdir)
    shutil.copyfile(params_file, workdir / "fastcgi_params")
    ports = {name: free_port() for name in servers}
    error_log = workdir / "logs" / "nginx-error.log"
    upstreams: list[str] = []
    blocks: list[str] = []
    for name, parts in servers.items():
        blocks.append(f"server {{  # {name}\n    listen 127.0.0.1:{ports[name]};")
        for section, values in parts:
            text = render(NGINX_SNIPPETS, section, **values)
            if section.startswith("upstream-"):
                if text not in upstreams:
                    upstreams.append(text)
            else:
                blocks.append(text)
        blocks.append("}")
    tmp = workdir / "tmp"
    lines = [
        f"pid {workdir}/run/nginx.pid;",
        f"error_log {error_log} warn;",
        "worker_processes 1;",
        # as root, the workers run as www-data (nginx's compiled-in "nobody" has no group
        # of that name on Debian); they reach the temp dirs, the socket and the files
        *(["user www-data www-data;"] if os.geteuid() == 0 else []),
        "events { worker_connections 512; }",
        "http {",
        "access_log off;",
        "server_tokens off;",
        *(
            f"{kind}_temp_path {tmp}/{kind};"
            for kind in ("client_body", "fastcgi", "proxy", "uwsgi", "scgi")
        ),
        *upstreams,
        *blocks,
        "}",
    ]
    config = workdir / "nginx.conf"
    config.write_text("\n".join(lines) + "\n")
    front = FrontEnd(
        name="nginx",
        binary=binary,
        config=config,
        logs=[error_log],
        ports=ports,
        # -e: errors logged before the config is read go there too, not to the built-in path
        argv=[
            binary,
            "-p",
            str(workdir),
            "-c",
            str(config),
            "-e",
            str(error_log),
            "-g",
            "daemon off;",
        ],
    )
    front.start()
    return front


def write_htpasswd(path: Path, users: dict[str, str]) -> None:
    """A basic-auth password file made by Apache's ``htpasswd`` tool when it is installed
    (what nginx's docs tell users to run), else in nginx's ``{SSHA}`` scheme; readable by
    nginx's workers."""
    tool = shutil.which("htpasswd")
    path.unlink(missing_ok=True)
    for user, password in users.items():
        if tool:
            flags = ["-b"] if path.exists() else ["-b", "-c"]
            subprocess.run(
                [tool, *flags, str(path), user, password],
                check=True,
                capture_output=True,
                timeout=10,
            )
        else:
            salt = os.urandom(8)
            digest = hashlib.sha1(password.encode() + salt).digest()
            with path.open("a") as out:
                out.write(f"{user}:{{SSHA}}{base64.b64encode(digest + salt).decode()}\n")
    path.chmod(0o644)


def write_htdigest(path: Path, realm: str, users: dict[str, str]) -> None:
    """An htdigest file made by Apache's own ``htdigest`` tool when it is installed (the
    tool users run), else by trioserve's writer in the same format; readable by www-data."""
    tool = shutil.which("htdigest")
    path.unlink(missing_ok=True)
    for user, password in users.items():
        if tool:
            flags = [] if path.exists() else ["-c"]
            subprocess.run(
                [tool, *flags, str(path), realm, user],
                input=f"{password}\n{password}\n".encode(),
                check=True,
                capture_output=True,
                timeout=10,
            )
        else:
            from trioserve.auth.credentials import format_entries

            lines = format_entries(user, realm, password, sha256=False)
            with path.open("a") as out:
                out.write("".join(line + "\n" for line in lines))
    path.chmod(0o644)
