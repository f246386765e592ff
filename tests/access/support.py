"""The access tests' world: one server with users, rules, methods and commands, and one way to
fetch from it over HTTP (digest), a unix socket (digest) and FastCGI (front-end user).

Users: ``anonymous`` (no credentials), ``guest`` (empty password) and ``admin`` (``admin``),
from ``config/example.htdigest`` (realm ``root``). Each transport has an engine with digest
auth for the named users and one without auth for anonymous requests; FastCGI has one engine
and the user comes from ``REMOTE_USER``/``AUTH_TYPE`` as a front-end would send them.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import trio

import fcgi
from tests.conftest import Inner, Sample
from trioserve import Server, Text

ROOT = Path(__file__).resolve().parents[2]
HTDIGEST = ROOT / "config" / "example.htdigest"
REALM = "root"
PASSWORDS = {"guest": "", "admin": "admin"}
USERS = ("anonymous", "guest", "admin")
TRANSPORTS = ("http", "unix", "fastcgi")
#: a value only the secret object holds: it must never appear in a reply to guest/anonymous
MARKER = "TOP-SECRET-PLAN-7731"
TIMEOUT = 10


class Mode(enum.Enum):
    slow = "s"
    fast = "f"


@dataclass
class Panel(Sample):
    """Sample plus methods of every kind the rules must tell apart."""

    calls: list[str] = field(default_factory=list)

    def set_title(self, title: str) -> None:
        self.title = title
        self.calls.append("set_title")

    def add(self, a: int, b: int = 1) -> int:
        return a + b

    def choose(self, mode: Mode, xs: list[int]) -> str:
        return f"{mode.name}:{sum(xs)}"

    def _private_method(self) -> str:
        return MARKER

    def fail(self) -> None:
        raise RuntimeError(MARKER)


def build_server() -> tuple[Server, dict[str, object]]:
    server = Server(top_name="acl")
    panel = Panel(name="panel")
    open_ = Panel(name="open")
    adminonly = Panel(name="adminonly")
    plan = Panel(name="plan", label=MARKER, inner=Inner(value=7731))
    server.register("public", panel)
    server.register("public", open_)
    server.register("public", adminonly)
    server.register("public", Panel(name="allhidden", label=MARKER))
    server.register("secret", plan)
    server.register("members", Text("for members"), name="thing")
    server.register_command("/Commands/Ping", lambda: "pong", button=True)

    def reset(n: int) -> int:
        return n

    server.register_command("/Commands/Reset", reset)
    server.register_command("/Objects/secret/Wipe", lambda: MARKER)
    server.restrict("/Objects/public/panel", "allow_method=describe")
    server.restrict("/Objects/public/panel/inner", "hidden=guest")
    server.restrict("/Objects/public/open", "allow=all")
    server.restrict("/Objects/public/adminonly", "allow=admin")
    server.restrict("/Objects/public/allhidden", "hidden=all")
    server.restrict("/Objects/secret", "visible=admin")
    server.restrict("/Objects/members", "hidden=anonymous")
    server.restrict("/Commands/Reset", "allow=admin")
    return server, {"panel": panel, "open": open_, "plan": plan, "adminonly": adminonly}


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Client:
    """Fetch ``target`` (raw, as it would appear on the request line) as ``user``."""

    async def fetch(
        self,
        target: str,
        user: str,
        *,
        method: str = "GET",
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        raise NotImplementedError


class HttpClients(Client):
    def __init__(self, clients: dict[str, httpx.AsyncClient]) -> None:
        self.clients = clients

    async def fetch(
        self,
        target: str,
        user: str,
        *,
        method: str = "GET",
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        client = self.clients[user]
        # a raw target: httpx keeps percent-escapes and dot segments as given
        url = httpx.URL(str(client.base_url).rstrip("/") + target)
        with trio.fail_after(TIMEOUT):
            r = await client.request(method, url, content=body, headers=headers)
        return Reply(r.status_code, r.headers.get("content-type", ""), r.content, dict(r.headers))


class FastCgiClient(Client):
    """A raw-socket FastCGI client sending what Apache's mod_proxy_fcgi sends by default
    (``SCRIPT_FILENAME=proxy:fcgi://host:port/<encoded path>``), plus the front-end's user."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address

    async def fetch(
        self,
        target: str,
        user: str,
        *,
        method: str = "GET",
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        path, _, query = target.partition("?")
        params = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "/app" + path,
            "SCRIPT_FILENAME": f"proxy:fcgi://127.0.0.1:{self.address[1]}{path}",
            "QUERY_STRING": query,
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
        }
        for name, value in (headers or {}).items():
            params["HTTP_" + name.upper().replace("-", "_")] = value
        if user != "anonymous":
            params["REMOTE_USER"] = user
            params["AUTH_TYPE"] = "Digest"
        data = (
            fcgi.encode_begin_request(1)
            + fcgi.encode_stream(fcgi.RecordType.PARAMS, 1, fcgi.encode_params(params), end=True)
            + fcgi.encode_stream(fcgi.RecordType.STDIN, 1, body, end=True)
        )
        with trio.fail_after(TIMEOUT):
            stream = await trio.open_tcp_stream(*self.address)
            async with stream:
                await stream.send_all(data)
                reader = fcgi.RecordReader()
                out = bytearray()
                while True:
                    chunk = await stream.receive_some(65536)
                    if not chunk:
                        raise AssertionError("FastCGI connection closed before END_REQUEST")
                    reader.feed(chunk)
                    done = False
                    while (record := reader.next_record()) is not None:
                        if record.type == fcgi.RecordType.STDOUT:
                            out += record.content
                        elif record.type == fcgi.RecordType.END_REQUEST:
                            done = True
                    if done:
                        break
        head, _, payload = bytes(out).partition(b"\r\n\r\n")
        reply_headers: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            reply_headers[name.strip().lower()] = value.strip()
        status = int(reply_headers.get("status", "200").split()[0])
        return Reply(status, reply_headers.get("content-type", ""), payload, reply_headers)


@asynccontextmanager
async def serve_world(
    nursery: trio.Nursery, transport: str, sock_dir: Path, server: Server | None = None
) -> AsyncIterator[tuple[Client, Server]]:
    """Start the world's server in ``nursery`` with the engines ``transport`` needs and yield
    a client. The caller's nursery (pytest-trio's) cancels the server at the end."""
    if server is None:
        server, _ = build_server()
    auth = f"auth_file={HTDIGEST}&auth_domain={REALM}"
    if transport == "http":
        spec = f"http:0?{auth};http:0"
    elif transport == "unix":
        spec = f"socket:{sock_dir / 'auth.sock'}?{auth};socket:{sock_dir / 'anon.sock'}"
    else:
        spec = "fastcgi:0"
    await nursery.start(server.serve, spec)
    if transport == "fastcgi":
        yield FastCgiClient(server.addresses[0][:2]), server
        return
    clients: dict[str, httpx.AsyncClient] = {}
    for user in USERS:
        address = server.addresses[1 if user == "anonymous" else 0]
        if transport == "http":
            base = f"http://{address[0]}:{address[1]}"
            http_transport = httpx.AsyncHTTPTransport()
        else:
            base = "http://localhost"
            http_transport = httpx.AsyncHTTPTransport(uds=str(address))
        auth_obj = None if user == "anonymous" else httpx.DigestAuth(user, PASSWORDS[user])
        clients[user] = httpx.AsyncClient(
            transport=http_transport, base_url=base, auth=auth_obj, timeout=TIMEOUT
        )
    try:
        yield HttpClients(clients), server
    finally:
        for client in clients.values():
            await client.aclose()


__all__ = [
    "MARKER",
    "TRANSPORTS",
    "USERS",
    "Client",
    "Panel",
    "Reply",
    "build_server",
    "serve_world",
]
