"""Digest logins across a restart, over real sockets with real clients.

A "restart" is what an operator does: the server on a port stops and a new
:class:`~trioserve.Server` starts on the same port. The client keeps the nonce and opaque of
the challenge it answered before, as browsers do, and sends them again without waiting for
a 401. Browsers and curl retry a following 401 silently only when it says ``stale=true``
(RFC 7616 §3.3); without it they ask the user for the password again. httpx and requests
retry once either way, so the tests read the 401 they got and check it said ``stale=true``.

* without ``auth_secret_file``: the old nonce gets ``stale=true`` and one silent retry;
* with it: the old nonce is simply accepted, after a restart and on a second server
  sharing the file, and a count the browser used before the restart is never accepted again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import requests
import trio
from requests.auth import HTTPDigestAuth

from trioserve import Server

HTDIGEST = Path(__file__).resolve().parents[2] / "config" / "example.htdigest"
TIMEOUT = 10
STALE = "nonce_stale"  # what a 401 said, see _verdict
PROMPT = "password_prompt"


class Slot:
    """One port, one server at a time: ``start()``, ``restart()`` (stop it, then a new
    Server on the same port), ``stop()``."""

    def __init__(self, nursery: trio.Nursery, options: str) -> None:
        self.nursery = nursery
        self.options = options
        self.port = 0
        self.starts = 0
        self._scope: trio.CancelScope | None = None
        self._done = trio.Event()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        server = Server()
        scope, done = trio.CancelScope(), trio.Event()
        spec = f"http:{self.port}?{self.options}"

        async def run(task_status: trio.TaskStatus[None]) -> None:
            try:
                with scope:
                    await server.serve(spec, task_status=task_status)
            finally:
                done.set()

        await self.nursery.start(run)
        self._scope, self._done = scope, done
        self.port = server.addresses[0][1]
        self.starts += 1

    async def stop(self) -> None:
        assert self._scope is not None
        self._scope.cancel()
        with trio.fail_after(TIMEOUT):
            await self._done.wait()

    async def restart(self) -> None:
        port = self.port
        await self.stop()
        await self.start()
        assert self.port == port


def _options(secret: Path | None) -> str:
    options = f"auth_file={HTDIGEST}&auth_domain=root"
    return options if secret is None else f"{options}&auth_secret_file={secret}"


def _nonce(authorization: str) -> str:
    return re.search(r'nonce="([^"]+)"', authorization).group(1)  # type: ignore[union-attr]


def _verdict(reply: httpx.Response | requests.Response) -> str:
    """What a browser makes of a 401 to a request that carried credentials."""
    assert reply.status_code == 401
    if isinstance(reply, httpx.Response):
        challenges = reply.headers.get_list("www-authenticate")
    else:  # requests folds the repeated header into one, comma-joined
        challenges = re.split(r",\s*(?=Digest )", reply.headers.get("www-authenticate", ""))
    assert challenges and all(value.startswith("Digest ") for value in challenges)
    return STALE if all("stale=true" in value for value in challenges) else PROMPT


async def _get(client: httpx.AsyncClient, url: str) -> httpx.Response:
    with trio.fail_after(TIMEOUT):
        return await client.get(url)


class Browser:
    """An httpx client with a digest cache, recording the Authorization of every request it
    sends (httpx re-sends the same Request object for its retry, so the history alone
    cannot tell what went first)."""

    def __init__(self) -> None:
        self.sent: list[str | None] = []
        self.client = httpx.AsyncClient(
            auth=httpx.DigestAuth("admin", "admin"),
            timeout=TIMEOUT,
            event_hooks={"request": [self._record]},
        )

    async def _record(self, request: httpx.Request) -> None:
        self.sent.append(request.headers.get("authorization"))

    async def get(self, url: str) -> tuple[httpx.Response, list[str | None]]:
        """The reply and the Authorization values of the requests it took."""
        start = len(self.sent)
        reply = await _get(self.client, url)
        return reply, self.sent[start:]

    async def aclose(self) -> None:
        await self.client.aclose()


def _silently_retried(reply: httpx.Response | requests.Response) -> str:
    """``reply`` came after exactly one 401; what that 401 told the browser."""
    assert reply.status_code == 200
    assert len(reply.history) == 1
    return _verdict(reply.history[0])


# ---- httpx ------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_secret_file", [False, True], ids=["no-secret-file", "secret-file"])
async def test_httpx_login_survives_a_restart(
    nursery: trio.Nursery, tmp_path: Path, with_secret_file: bool
) -> None:
    secret = tmp_path / "nonce.secret" if with_secret_file else None
    slot = Slot(nursery, _options(secret))
    await slot.start()
    url = f"{slot.base}/h.json"
    browser = Browser()
    try:
        login, sent = await browser.get(url)
        assert login.status_code == 200 and [r.status_code for r in login.history] == [401]
        assert sent[0] is None and sent[1] is not None
        before = _nonce(sent[1])

        await slot.restart()
        reply, sent = await browser.get(url)
        assert sent[0] is not None and _nonce(sent[0]) == before  # the old nonce went first
        if with_secret_file:
            assert reply.status_code == 200 and reply.history == []  # accepted as it is
            assert "nc=00000002" in sent[0]
        else:
            assert _silently_retried(reply) == STALE  # not a password prompt
            assert len(sent) == 2 and sent[1] is not None and _nonce(sent[1]) != before

        # and the login goes on from there without another 401
        again, sent = await browser.get(url)
        assert again.status_code == 200 and again.history == [] and len(sent) == 1
    finally:
        await browser.aclose()


async def test_replay_from_before_a_restart_is_refused_with_the_secret_file(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    slot = Slot(nursery, _options(tmp_path / "nonce.secret"))
    await slot.start()
    url = f"{slot.base}/h.json"
    browser = Browser()
    try:
        captured = (await browser.get(url))[1][-1]  # nc=1, as seen on the wire
        await slot.restart()
        reply, sent = await browser.get(url)  # the browser goes on with nc=2
        assert reply.status_code == 200 and len(sent) == 1
    finally:
        await browser.aclose()
    assert captured is not None
    async with httpx.AsyncClient(timeout=TIMEOUT) as plain:
        with trio.fail_after(TIMEOUT):
            replay = await plain.get(url, headers={"Authorization": captured})
    assert replay.status_code == 401  # seen before the restart: never accepted again


async def test_two_servers_sharing_the_secret_file_accept_each_others_nonces(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """Two processes behind a balancer: the client's requests alternate between them."""
    options = _options(tmp_path / "nonce.secret")
    a, b = Slot(nursery, options), Slot(nursery, options)
    await a.start()
    await b.start()
    browser = Browser()
    try:
        login, sent = await browser.get(f"{a.base}/h.json")
        assert [r.status_code for r in login.history] == [401]
        nonce = _nonce(sent[-1])  # type: ignore[arg-type]
        to_a: list[str] = []
        for index, slot in enumerate([b, a, b, a, b]):
            reply, sent = await browser.get(f"{slot.base}/h.json")
            assert reply.status_code == 200 and reply.history == [], slot.base
            assert len(sent) == 1 and sent[0] is not None
            assert _nonce(sent[0]) == nonce and f"nc={index + 2:08x}" in sent[0]
            if slot is a:
                to_a.append(sent[0])
    finally:
        await browser.aclose()
    # a request captured on its way to a, replayed to b after the browser's later ones: refused
    async with httpx.AsyncClient(timeout=TIMEOUT) as plain:
        for captured in to_a:
            with trio.fail_after(TIMEOUT):
                replay = await plain.get(f"{b.base}/h.json", headers={"Authorization": captured})
            assert replay.status_code == 401


async def test_two_servers_without_the_secret_file_retry_silently(
    nursery: trio.Nursery,
) -> None:
    a, b = Slot(nursery, _options(None)), Slot(nursery, _options(None))
    await a.start()
    await b.start()
    browser = Browser()
    try:
        assert (await browser.get(f"{a.base}/h.json"))[0].status_code == 200
        for slot in (b, a):  # each switch costs a silent round trip, never a prompt
            reply, sent = await browser.get(f"{slot.base}/h.json")
            assert _silently_retried(reply) == STALE and sent[0] is not None
    finally:
        await browser.aclose()


# ---- python-requests --------------------------------------------------------------------------


@pytest.mark.parametrize("with_secret_file", [False, True], ids=["no-secret-file", "secret-file"])
async def test_requests_session_survives_a_restart(
    nursery: trio.Nursery, tmp_path: Path, with_secret_file: bool
) -> None:
    """requests keeps its digest state per thread, so the whole session runs in one worker
    thread and asks the Trio side to restart the server in the middle."""
    slot = Slot(nursery, _options(tmp_path / "nonce.secret" if with_secret_file else None))
    await slot.start()
    url = f"{slot.base}/h.json"

    def session(restart: Callable[[], None]) -> None:
        with requests.Session() as s:
            s.auth = HTTPDigestAuth("admin", "admin")
            login = s.get(url, timeout=TIMEOUT)
            assert login.status_code == 200 and [r.status_code for r in login.history] == [401]
            before = _nonce(login.request.headers["Authorization"])
            restart()
            reply = s.get(url, timeout=TIMEOUT)
            if with_secret_file:
                assert reply.status_code == 200 and reply.history == []
                assert _nonce(reply.request.headers["Authorization"]) == before
            else:
                assert _silently_retried(reply) == STALE
                assert _nonce(reply.history[0].request.headers["Authorization"]) == before
            assert s.get(url, timeout=TIMEOUT).history == []

    await trio.to_thread.run_sync(session, lambda: trio.from_thread.run(slot.restart))
    assert slot.starts == 2
