"""Scale-out: two trioserve processes behind one prefix.

Apache's ``mod_proxy_balancer`` (``balancer://`` with two ``fcgi://`` members, section
"balancer" of config/apache-fastcgi.conf) and lighttpd's host list (section "balance" of
config/lighttpd-fastcgi.conf). Each process has its own top name, so ``h.json``'s ``_name``
says who answered; both must answer, and each request must be answered completely by one.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import require_tool
from tests.frontends import harness
from tests.frontends.backend import big_body
from tests.frontends.conftest import Backend, start_backend

TIMEOUT = 20


@pytest.fixture(scope="module")
def pair(workdir: Path) -> Iterator[tuple[Backend, Backend]]:
    alpha = start_backend(workdir / "alpha", "alpha")
    try:
        beta = start_backend(workdir / "beta", "beta")
    except BaseException:
        alpha.stop()
        raise
    yield alpha, beta
    alpha.stop()
    beta.stop()


@pytest.fixture(scope="module")
def balanced_apache(workdir: Path, pair: tuple[Backend, Backend]) -> Iterator[int]:
    binary = require_tool("apache2", "/usr/sbin/apache2", "httpd")
    alpha, beta = pair
    values = {
        "PREFIX": harness.PREFIX,
        "MEMBER1": "fcgi://{}:{}".format(*alpha.fastcgi),
        "MEMBER2": "fcgi://{}:{}".format(*beta.fastcgi),
    }
    front = harness.apache(workdir / "apache-lb", binary, {"balancer": [("balancer", values)]})
    yield front.ports["balancer"]
    front.stop()


@pytest.fixture(scope="module")
def balanced_lighttpd(workdir: Path, pair: tuple[Backend, Backend]) -> Iterator[int]:
    binary = require_tool("lighttpd", "/usr/sbin/lighttpd")
    alpha, beta = pair
    values = {
        "PREFIX": harness.PREFIX,
        "HOST": alpha.fastcgi[0],
        "PORT": alpha.fastcgi[1],
        "HOST2": beta.fastcgi[0],
        "PORT2": beta.fastcgi[1],
    }
    front = harness.lighttpd(workdir / "lighttpd-lb", binary, {"balance": [("balance", values)]})
    yield front.ports["balance"]
    front.stop()


@pytest.fixture(params=["apache", "lighttpd"])
def balanced(request: pytest.FixtureRequest) -> str:
    port = request.getfixturevalue(f"balanced_{request.param}")
    return f"http://127.0.0.1:{port}{harness.PREFIX}"


async def test_requests_are_served_by_both_processes(
    balanced: str, pair: tuple[Backend, Backend]
) -> None:
    served: Counter[str] = Counter()
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        for _ in range(12):
            r = await client.get(balanced + "/h.json")
            assert r.status_code == 200, r.text
            served[r.json()["_name"]] += 1
        # a large reply, too, comes whole from one member
        size = 2 * 1024 * 1024
        big = await client.get(f"{balanced}/bigstream.bin?size={size}")
        assert big.status_code == 200
        assert hashlib.sha256(big.content).digest() == hashlib.sha256(big_body(size)).digest()
    assert set(served) == {"alpha", "beta"}, served
    # both balancers take turns: neither member gets everything
    assert min(served.values()) >= 3, served


async def test_each_member_keeps_its_own_objects(
    balanced: str, pair: tuple[Backend, Backend]
) -> None:
    """The echo hook tells which process answered a POST; bodies arrive intact at either."""
    tops: set[str] = set()
    body = b"scale-out" * 5000
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        for _ in range(6):
            echo = (await client.post(balanced + "/echo.json", content=body)).json()
            assert echo["length"] == len(body)
            assert echo["sha256"] == hashlib.sha256(body).hexdigest()
            assert echo["script_name"] == harness.PREFIX
            tops.add(echo["top"])
    assert tops == {"alpha", "beta"}
