"""Keep-alive connections a sync="app" program answers in its own thread (trioserve.parking).

Every test runs a real server thread and a real program loop calling process_requests(), and
talks to them over real sockets. Which thread answered is read from the parking's count: a
request answered by the program's own thread counts there (just after its reply went out,
hence the waits), one the server's thread answered (crossing to the program for its object
access, as before parking existed) does not.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest

import trioserve
from tests.conftest import Sample
from trioserve.appthread import AppThreadAccess
from trioserve.auth.htdigest import format_entries
from trioserve.parking import Parking


def _register(server: trioserve.ThreadedServer) -> None:
    server.register("/", Sample(), name="sample")
    server.register("/", {"a": 1, "b": [1, 2, 3]}, name="d")
    server.register("/big", np.arange(1_000_000, dtype=float), name="array")
    server.register("/secret", {"k": 1}, name="s")
    server.restrict("/secret", "hidden=all")


class Program:
    """A program's loop in a thread of its own: process_requests() about every millisecond
    until :meth:`pause` (the program stops calling it) or the end of the test."""

    def __init__(self, server: trioserve.ThreadedServer) -> None:
        self.server = server
        self.running = threading.Event()
        self.running.set()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="the program", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.done.is_set():
            if self.running.is_set():
                self.server.process_requests()
            time.sleep(0.001)

    def pause(self) -> None:
        self.running.clear()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(5)


@contextmanager
def serving(
    spec: str = "http:127.0.0.1:0", **options: float
) -> Iterator[tuple[trioserve.ThreadedServer, Program, Parking]]:
    """A sync="app" server with parking (the default) and its program's loop running."""
    with trioserve.start_in_thread(spec, sync="app", **options) as server:  # type: ignore[arg-type]
        _register(server)
        program = Program(server)
        access = server.server.access
        assert isinstance(access, AppThreadAccess) and isinstance(access.parking, Parking)
        parking = access.parking
        try:
            yield server, program, parking
        finally:
            program.stop()


@contextmanager
def unparked() -> Iterator[trioserve.ThreadedServer]:
    """The same without parking: every request crosses to the program and back."""
    with trioserve.start_in_thread("http:127.0.0.1:0", sync="app", parking=False) as server:
        _register(server)
        access = server.server.access
        assert isinstance(access, AppThreadAccess) and access.parking is None
        program = Program(server)
        try:
            yield server
        finally:
            program.stop()


def _port(server: trioserve.ThreadedServer) -> int:
    return int(server.addresses[0][1])


def _wait_for(condition: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def _exchange(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    conn.request(method, path, body=body)
    reply = conn.getresponse()
    data = reply.read()
    headers = [(name, value) for name, value in reply.getheaders() if name.lower() != "date"]
    return reply.status, headers, data


#: requests the program answers itself (after the connection's first request)
INLINE_REQUESTS = [
    ("GET", "/sample/root.json"),
    ("GET", "/sample/root.json.gz?compact=23"),
    ("GET", "/big/array/root.json.gz?compact=23"),  # rendered here, compressed by the server
    ("GET", "/d/b/root.json"),
    ("GET", "/sample/root.bin"),
    ("GET", "/sample/root.xml"),
    ("GET", "/h.json"),
    ("GET", "/sample/h.xml"),
    ("GET", "/sample/item.json"),
    ("GET", "/sample/item.xml"),
    ("GET", "/sample/get.xml"),
    ("HEAD", "/sample/root.json"),
    ("GET", "/nope/root.json"),  # missing
    ("GET", "/secret/s/root.json"),  # hidden: the same 404
    ("GET", "/sample/_private/root.json"),  # never reachable
    ("GET", "/d/zz/root.json"),  # a member only the object can say is missing
    ("GET", "/sample/root.json?compact=x"),  # a refusal (400)
]


def test_the_program_answers_keep_alive_requests_itself_with_the_same_bytes() -> None:
    with serving() as (parked_server, _, parking), unparked() as plain_server:
        parked = http.client.HTTPConnection("127.0.0.1", _port(parked_server), timeout=10)
        plain = http.client.HTTPConnection("127.0.0.1", _port(plain_server), timeout=10)
        for conn in (parked, plain):  # the first request crosses: the connection is new
            assert _exchange(conn, "GET", "/d/a/root.json")[0] == 200
        assert _wait_for(lambda: len(parking) == 1)
        before = parking.answered
        for method, path in INLINE_REQUESTS:
            got = _exchange(parked, method, path)
            expected = _exchange(plain, method, path)
            assert got == expected, (method, path)
        assert _wait_for(lambda: parking.answered - before == len(INLINE_REQUESTS))


#: requests the program leaves to the server's thread, answered there as before
HANDED_BACK = [
    ("GET", "/sample/exe.json?method=describe", None),
    ("POST", "/d/root.json", b"{}"),  # a body
    ("GET", "/sample/", None),  # the page
    ("GET", "/sample/root.json.gz", None),  # after them all: parked again
]


def test_what_the_program_does_not_answer_is_answered_by_the_server_thread() -> None:
    with serving() as (server, _, parking), unparked() as plain_server:
        for instance in (server, plain_server):
            instance.set_readonly(False)
        parked = http.client.HTTPConnection("127.0.0.1", _port(server), timeout=10)
        plain = http.client.HTTPConnection("127.0.0.1", _port(plain_server), timeout=10)
        for conn in (parked, plain):
            assert _exchange(conn, "GET", "/d/a/root.json")[0] == 200
        assert _wait_for(lambda: len(parking) == 1)
        before = parking.answered
        for method, path, body in HANDED_BACK:
            got = _exchange(parked, method, path, body)
            expected = _exchange(plain, method, path, body)
            assert got[0] == expected[0], path
            if "exe" not in path:  # exe's answer names its timing
                assert got == expected, path
        # only the last one, a root.json after the others, was the program's
        assert _wait_for(lambda: parking.answered - before == 1)


def _raw_replies(sock: socket.socket, count: int) -> list[tuple[int, bytes]]:
    """``count`` complete responses read off ``sock``: (status, body)."""
    data = b""
    replies: list[tuple[int, bytes]] = []
    sock.settimeout(10)
    while len(replies) < count:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            head = data[:end].decode("latin-1")
            length = int(
                next(
                    line.split(":", 1)[1]
                    for line in head.split("\r\n")
                    if line.lower().startswith("content-length:")
                )
            )
            if len(data) >= end + 4 + length:
                replies.append((int(head[9:12]), data[end + 4 : end + 4 + length]))
                data = data[end + 4 + length :]
                continue
        more = sock.recv(65536)
        assert more, "the server closed the connection early"
        data += more
    return replies


def _parked_socket(server: trioserve.ThreadedServer, parking: Parking) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", _port(server)))
    sock.sendall(b"GET /d/a/root.json HTTP/1.1\r\nHost: x\r\n\r\n")
    assert _raw_replies(sock, 1) == [(200, b"1")]
    assert _wait_for(lambda: len(parking) == 1)
    return sock


def test_pipelined_requests_are_answered_in_order_whichever_thread_answers() -> None:
    with serving() as (server, _, parking):
        sock = _parked_socket(server, parking)
        before = parking.answered
        sock.sendall(
            b"GET /d/a/root.json HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /d/b/root.json HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
            b"GET /d/b/root.json HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        replies = _raw_replies(sock, 3)
        assert [status for status, _ in replies] == [200, 200, 200]
        assert [json.loads(body) for _, body in replies] == [1, [1, 2, 3], [1, 2, 3]]
        # the program answered the first; the one with a framing header (h11's to read) and
        # what followed it went to the server
        assert _wait_for(lambda: parking.answered - before == 1)
        # ...which parks the connection again once it is idle
        assert _wait_for(lambda: len(parking) == 1)
        sock.sendall(b"GET /d/a/root.json HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _raw_replies(sock, 1) == [(200, b"1")]
        assert _wait_for(lambda: parking.answered - before == 2)
        sock.close()


def test_a_head_arriving_in_pieces_is_completed_by_the_server_thread() -> None:
    with serving() as (server, _, parking):
        sock = _parked_socket(server, parking)
        sock.sendall(b"GET /d/b/root.json HTT")
        time.sleep(0.1)  # the program polls, finds half a head, hands the connection back
        sock.sendall(b"P/1.1\r\nHost: x\r\n\r\n")
        assert _raw_replies(sock, 1) == [(200, b"[1, 2, 3]")]
        sock.close()


def test_a_bad_head_on_a_parked_connection_gets_the_servers_error_answer() -> None:
    with serving() as (server, _, parking):
        sock = _parked_socket(server, parking)
        sock.sendall(b"GET /d/%zz/root.json HTTP/1.1\r\nHost: x\r\n\r\n")
        status, body = _raw_replies(sock, 1)[0]
        assert status == 400 and json.loads(body)["error"] == "bad_path"
        sock.close()


def test_a_client_closing_a_parked_connection_frees_it() -> None:
    with serving() as (server, _, parking):
        sock = _parked_socket(server, parking)
        sock.close()
        assert _wait_for(lambda: len(parking) == 0)


def test_a_program_that_stops_processing_gets_its_connections_taken_back() -> None:
    with serving(app_timeout=0.3) as (server, program, parking):
        sock = _parked_socket(server, parking)
        program.pause()
        assert _wait_for(lambda: len(parking) == 0, timeout=3)  # the watch took it back
        # served from the server's thread again: missing at once, an object after app_timeout
        started = time.monotonic()
        sock.sendall(b"GET /nope/root.json HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _raw_replies(sock, 1)[0][0] == 404
        sock.sendall(b"GET /d/a/root.json HTTP/1.1\r\nHost: x\r\n\r\n")
        status, body = _raw_replies(sock, 1)[0]
        assert status == 503 and json.loads(body)["error"] == "app_not_processing"
        assert time.monotonic() - started < 3
        assert len(parking) == 0  # nobody to park for
        program.running.set()  # the program is back: the connection parks again
        sock.sendall(b"GET /d/a/root.json HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _raw_replies(sock, 1) == [(200, b"1")]
        assert _wait_for(lambda: len(parking) == 1)
        sock.close()


def test_the_keep_alive_timeout_closes_a_parked_connection() -> None:
    with serving("http:127.0.0.1:0?keepalive_timeout=0.5") as (server, _, parking):
        sock = _parked_socket(server, parking)
        sock.settimeout(5)
        started = time.monotonic()
        assert sock.recv(100) == b""  # closed by the server, not by this test's timeout
        assert 0.3 < time.monotonic() - started < 3
        assert _wait_for(lambda: len(parking) == 0)
        sock.close()


def test_requests_keep_a_parked_connection_alive_past_the_keep_alive_timeout() -> None:
    with serving("http:127.0.0.1:0?keepalive_timeout=0.6") as (server, _, parking):
        sock = _parked_socket(server, parking)
        before = parking.answered
        for _ in range(6):  # 1.5 s of requests, every 0.25 s: never idle for 0.6 s
            time.sleep(0.25)
            sock.sendall(b"GET /d/a/root.json HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _raw_replies(sock, 1) == [(200, b"1")]
        assert _wait_for(lambda: parking.answered - before == 6)
        sock.close()


def test_a_reply_too_large_for_the_socket_is_finished_by_the_server_thread(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="trioserve.access")
    with serving() as (server, _, parking):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", _port(server)))
        sock.sendall(b"GET /d/a/root.json HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _raw_replies(sock, 1) == [(200, b"1")]
        assert _wait_for(lambda: len(parking) == 1)
        before = parking.answered
        sock.sendall(b"GET /big/array/root.json HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)  # not reading: the socket takes a part, the server sends the rest
        assert _wait_for(lambda: parking.answered - before == 1)
        ((status, body),) = _raw_replies(sock, 1)
        assert status == 200
        assert json.loads(body) == list(range(1_000_000))
        sock.sendall(b"GET /d/a/root.json HTTP/1.1\r\nHost: x\r\n\r\n")  # still in step
        assert _raw_replies(sock, 1) == [(200, b"1")]
        sock.close()
    lines = [r.getMessage() for r in caplog.records if "/big/array/root.json" in r.getMessage()]
    assert len(lines) == 1 and f'" 200 {len(body)}' in lines[0]


def test_stopping_the_server_closes_parked_connections() -> None:
    with serving() as (server, _, parking):
        sock = _parked_socket(server, parking)
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 3
        sock.settimeout(5)
        assert sock.recv(100) == b""
        assert len(parking) == 0
        sock.close()


def test_unix_socket_connections_park_too(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    with serving(f"socket:{path}") as (_, _, parking):
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(str(path))
        for expected_answered in (0, 1, 2):
            sock.sendall(b"GET /d/a/root.json HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _raw_replies(sock, 1) == [(200, b"1")]
            assert _wait_for(lambda: len(parking) == 1)
            assert parking.answered == expected_answered  # the first crossed
        sock.close()


def test_a_digest_protected_engine_never_parks(tmp_path: Path) -> None:
    # digest auth's nonce counts stay with the server's thread: the program answers nothing
    auth = tmp_path / "auth.txt"
    auth.write_text("\n".join(format_entries("admin", "root", "secret")) + "\n")
    with serving(f"http:127.0.0.1:0?auth_file={auth}&auth_domain=root") as (server, _, parking):
        with httpx.Client(auth=httpx.DigestAuth("admin", "secret"), timeout=10) as client:
            url = f"http://127.0.0.1:{_port(server)}/d/b/root.json"
            replies = [client.get(url) for _ in range(4)]
        assert [reply.status_code for reply in replies] == [200] * 4
        assert all(reply.json() == [1, 2, 3] for reply in replies)
        assert len(parking) == 0 and parking.answered == 0


def test_https_connections_never_park(tmp_path: Path) -> None:
    # the TLS state lives in the server's Trio stream: only its thread may read or write it
    from tests.engines.tls_support import make_pki

    pki = make_pki(tmp_path)
    with serving(f"https:127.0.0.1:0?ssl_cert={pki.combined}") as (server, _, parking):
        context = pki.client_context()
        with httpx.Client(verify=context, timeout=10) as client:
            url = f"https://localhost:{_port(server)}/d/b/root.json"
            replies = [client.get(url) for _ in range(4)]
        assert [reply.json() for reply in replies] == [[1, 2, 3]] * 4
        assert len(parking) == 0 and parking.answered == 0
