"""Nonces across restarts and processes, sans-IO: one verifier issues, another judges.

"Another run" is a second :class:`DigestVerifier`: with a fresh random secret it is a restart
without ``auth_secret_file``; with the same secret it is a restart with it, or a second process
behind a balancer. The verdicts (RFC 7616 §3.3): a client that proves the password but holds a
nonce we cannot use gets :class:`Stale` (it retries without asking the user); a wrong password
is :class:`Denied` whatever the nonce; a nonce count is never accepted twice by one verifier.
"""

from __future__ import annotations

import re

import pytest

from tests.auth.test_auth_digest import REALM, T0, authorization, challenge_params, creds
from trioserve.auth.digest import Denied, DigestVerifier, Ok, Result, Stale

URI = "/Objects/h/root.json"
SHARED = b"0123456789abcdef0123456789abcdef-shared"


def run(secret: bytes | None = SHARED, **kw: float) -> DigestVerifier:
    """One run of a server: ``secret=None`` is the default random secret."""
    return DigestVerifier(REALM, creds(), secret=secret, **kw)  # type: ignore[arg-type]


def nonce_of(v: DigestVerifier, now: float = T0) -> str:
    return challenge_params(v.challenge(now)[0])["nonce"]


def use(issuer: DigestVerifier, judge: DigestVerifier, nonce: str, nc: int, **kw: object) -> Result:
    header = authorization(issuer, T0, nonce=nonce, nc=f"{nc:08x}", **kw)  # type: ignore[arg-type]
    return judge.verify("GET", URI, header, T0 + 1)


def without_opaque(header: str) -> str:
    return re.sub(r', opaque="[^"]*"', "", header)


STALE_FOREIGN = Stale("nonce not issued by this server")
WRONG = Denied("unknown user or wrong password")

OTHER = b"another secret file, at least 32 bytes"

# (name, secret before the restart, secret after it, password the client proves, verdict);
# None is the default random secret, a new one for each run
RESTART_TABLE = [
    ("restart without secret file", None, None, "admin", STALE_FOREIGN),
    ("restart without secret file, wrong password", None, None, "nope", WRONG),
    ("restart with secret file", SHARED, SHARED, "admin", Ok("admin", "SHA-256")),
    ("restart with secret file, wrong password", SHARED, SHARED, "nope", WRONG),
    ("secret file replaced", OTHER, SHARED, "admin", STALE_FOREIGN),
    ("secret file added", None, SHARED, "admin", STALE_FOREIGN),
    ("secret file removed", SHARED, None, "admin", STALE_FOREIGN),
]


@pytest.mark.parametrize(
    ("before", "after", "password", "expected"),
    [case[1:] for case in RESTART_TABLE],
    ids=[case[0] for case in RESTART_TABLE],
)
def test_nonce_and_opaque_of_an_earlier_run(
    before: bytes | None, after: bytes | None, password: str, expected: Result
) -> None:
    """The browser's whole header from before the restart, its opaque included."""
    earlier, later = run(before), run(after)
    header = authorization(earlier, T0, password=password)
    assert f'opaque="{earlier.opaque}"' in header
    assert later.verify("GET", URI, header, T0 + 60) == expected


def test_opaque_follows_the_secret() -> None:
    assert run().opaque == run().opaque
    assert run(None).opaque != run(None).opaque


def _flip_last(nonce: str) -> str:
    return nonce[:-1] + ("0" if nonce[-1] != "0" else "1")


def _old_format(nonce: str) -> str:
    """The 60-digit nonces of the previous format: time, random, HMAC."""
    return nonce[:28] + nonce[-32:]


RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"  # RFC 7616 §3.9.1

# (name, how the nonce is made from a good one, password, expected)
FORGED_TABLE = [
    ("our nonce", lambda n: n, "admin", Ok("admin", "SHA-256")),
    ("time changed", lambda n: "f" + n[1:], "admin", STALE_FOREIGN),
    ("instance changed", lambda n: n[:12] + "00000000" + n[20:], "admin", STALE_FOREIGN),
    ("signature changed", _flip_last, "admin", STALE_FOREIGN),
    ("upper-case hex", str.upper, "admin", STALE_FOREIGN),
    ("previous format (60 hex digits)", _old_format, "admin", STALE_FOREIGN),
    ("another server's format", lambda n: RFC_NONCE, "admin", STALE_FOREIGN),
    ("time changed, wrong password", lambda n: "f" + n[1:], "nope", WRONG),
    ("another server's format, wrong password", lambda n: "abc", "nope", WRONG),
]


@pytest.mark.parametrize(
    ("edit", "password", "expected"),
    [case[1:] for case in FORGED_TABLE],
    ids=[case[0] for case in FORGED_TABLE],
)
def test_nonces_we_cannot_vouch_for(edit: object, password: str, expected: Result) -> None:
    """Only a client that proves the password hears ``stale``: to it a forged nonce gains
    nothing a fresh challenge would not give, and a wrong password is a plain 401."""
    v = run()
    nonce = edit(nonce_of(v))  # type: ignore[operator]
    header = authorization(v, T0, nonce=nonce, password=password)
    assert v.verify("GET", URI, header, T0 + 1) == expected


@pytest.mark.parametrize(
    ("opaque", "expected"),
    [
        ("ours", Ok("admin", "SHA-256")),
        ("none", Ok("admin", "SHA-256")),
        ("another run's", Denied("opaque does not match")),
        ("garbage", Denied("opaque does not match")),
    ],
)
def test_opaque_is_judged_with_a_nonce_we_vouch_for(opaque: str, expected: Result) -> None:
    v = run()
    header = authorization(v, T0)
    replacement = {
        "ours": f'opaque="{v.opaque}"',
        "none": "",
        "another run's": f'opaque="{run(None).opaque}"',
        "garbage": 'opaque="x"',
    }[opaque]
    header = re.sub(r'opaque="[^"]*"', replacement, header).rstrip(", ")
    assert v.verify("GET", URI, header, T0 + 1) == expected


def test_expired_nonce_of_an_earlier_run_with_the_secret_is_stale() -> None:
    before, after = run(nonce_lifetime=300), run(nonce_lifetime=300)
    header = authorization(before, T0)
    assert after.verify("GET", URI, header, T0 + 301) == Stale("nonce expired")


OUT_OF_ORDER = Stale("nonce count out of order for a nonce issued elsewhere")


def test_nonce_counts_after_a_restart_with_the_secret() -> None:
    """A nonce from before the restart: the browser's next counts go on, anything it sent
    before the restart is never accepted once the browser has been back, and each count is
    accepted once."""
    before, after = run(), run()
    nonce = nonce_of(before)
    for nc in (1, 2, 3):
        assert isinstance(use(before, before, nonce, nc), Ok)
    # the server restarts; the browser goes on with nc=4
    assert use(before, after, nonce, 4) == Ok("admin", "SHA-256")
    assert use(before, after, nonce, 4) == Denied("nonce count replayed")
    for captured in (1, 2, 3):  # sent before the restart: refused, and never a prompt
        assert use(before, after, nonce, captured) == OUT_OF_ORDER
    assert isinstance(use(before, after, nonce, 5), Ok)
    # a request overtaken by a later one is not accepted (it may have gone to the issuer);
    # stale makes its client retry silently with a nonce of this instance
    assert isinstance(use(before, after, nonce, 7), Ok)
    assert use(before, after, nonce, 6) == OUT_OF_ORDER
    assert use(before, after, nonce, 7) == Denied("nonce count replayed")
    # far below the window: a replay, as for our own nonces
    assert use(before, after, nonce, 500) == Ok("admin", "SHA-256")
    assert use(before, after, nonce, 8) == Denied("nonce count replayed")


def test_own_nonces_keep_the_out_of_order_window() -> None:
    """Only nonces another instance issued are held to rising counts: our own first count
    may be overtaken by lower ones sent in parallel (unchanged behaviour)."""
    v = run()
    nonce = nonce_of(v)
    assert isinstance(use(v, v, nonce, 3), Ok)
    assert isinstance(use(v, v, nonce, 1), Ok)
    assert isinstance(use(v, v, nonce, 2), Ok)


def test_two_processes_behind_a_balancer() -> None:
    """Round robin: the client's counts alternate between two processes sharing the secret.
    Every request is accepted at once; a count sent to one process is refused by the other
    once a later count got there."""
    a, b = run(), run()
    assert a.instance != b.instance
    nonce = nonce_of(a)
    for nc in range(1, 9):
        judge = a if nc % 2 else b
        assert use(a, judge, nonce, nc) == Ok("admin", "SHA-256"), nc
    assert use(a, b, nonce, 8) == Denied("nonce count replayed")
    assert use(a, b, nonce, 7) == OUT_OF_ORDER  # sent to a; b saw 8 since
    assert use(a, b, nonce, 1) == OUT_OF_ORDER
    assert use(a, a, nonce, 1) == Denied("nonce count replayed")
    # b's own nonce is held to rising counts by a just the same
    other = nonce_of(b)
    assert isinstance(use(b, a, other, 2), Ok)
    assert use(b, a, other, 1) == OUT_OF_ORDER
    assert isinstance(use(b, b, other, 1), Ok)


def test_without_the_secret_every_other_process_says_stale() -> None:
    a, b = run(None), run(None)
    nonce = nonce_of(a)
    assert isinstance(use(a, a, nonce, 1), Ok)
    assert use(a, b, nonce, 2) == STALE_FOREIGN
    # and the retry with b's fresh nonce works there
    assert isinstance(use(b, b, nonce_of(b), 1), Ok)


def test_missing_opaque_with_an_earlier_runs_nonce_is_stale_too() -> None:
    before, after = run(None), run(None)
    header = without_opaque(authorization(before, T0))
    assert after.verify("GET", URI, header, T0 + 1) == STALE_FOREIGN
