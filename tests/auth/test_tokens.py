"""Access tokens as plain calls: mint, verify, expiry on an injected clock, tampering,
revocation (and its file), path scopes in the policy, and the call seam."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trioserve.accesslog import clf_line, hide_tokens
from trioserve.auth import TokenAuthenticator, make_authenticator
from trioserve.auth.tokens import (
    Claims,
    Expired,
    Invalid,
    TokenAuthority,
    find_token,
    normalize_prefixes,
)
from trioserve.call import Call
from trioserve.debugpage import render_debug_page
from trioserve.policy import Level, Policy, ScopedUser
from trioserve.spec import parse_engine_spec

T0 = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def authority(clock: Clock | None = None, secret: bytes = b"s" * 32) -> TokenAuthority:
    return TokenAuthority(secret, clock=clock or Clock())


def test_mint_and_verify_round_trip() -> None:
    auth = authority()
    token = auth.mint("alice", lifetime=60, paths=["/Objects/hists"])
    assert token.startswith("ts1.") and token.isascii()
    assert all(c.isalnum() or c in "-_." for c in token)  # URL-safe as is
    claims = auth.verify(token, T0 + 59)
    assert isinstance(claims, Claims)
    assert (claims.user, claims.expires, claims.paths) == (
        "alice",
        int(T0) + 60,
        ("/Objects/hists",),
    )
    principal = claims.principal()
    assert isinstance(principal, ScopedUser) and principal == "alice"
    whole = auth.verify(auth.mint("bob", lifetime=5), T0)
    assert isinstance(whole, Claims) and whole.paths is None
    assert type(whole.principal()) is str


def test_expiry_is_judged_on_the_clock_given() -> None:
    auth = authority()
    token = auth.mint("alice", lifetime=1)
    assert isinstance(auth.verify(token, T0 + 0.5), Claims)
    assert isinstance(auth.verify(token, T0 + 1), Expired)
    assert isinstance(auth.verify(token, T0 + 10_000), Expired)


def test_another_secret_and_every_tampering_are_invalid() -> None:
    auth = authority()
    token = auth.mint("alice", lifetime=60, paths=["/Objects/hists"])
    assert auth.verify(authority(secret=b"t" * 32).mint("alice", lifetime=60), T0) == Invalid(
        "bad signature"
    )
    body, mac = token.rsplit(".", 1)
    # a payload rewritten to cover the whole tree, signed with nothing we know
    payload = json.loads(base64.urlsafe_b64decode(body[4:] + "=="))
    del payload["p"]
    forged = "ts1." + base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    assert auth.verify(forged + "." + mac, T0) == Invalid("bad signature")
    for i in range(len(token)):  # every single-character change
        changed = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        assert isinstance(auth.verify(changed, T0), Invalid), i
    for junk in ("", "ts1.", "ts1..", "x.y", "ts1.e30." + mac, "é" * 10, "a" * 5000):
        assert isinstance(auth.verify(junk, T0), Invalid)
    # an expired *tampered* token says invalid, never expired: only genuine ones expire
    assert isinstance(auth.verify(token[:-2] + "AA", T0 + 10**6), Invalid)


def test_the_digest_secret_file_is_shared_without_sharing_keys(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    one, two = TokenAuthority(), TokenAuthority()
    one.use_secret_file(secret)  # creates it, as auth_secret_file= would
    two.use_secret_file(secret)
    assert (os.stat(secret).st_mode & 0o777) == 0o600
    token = one.mint("alice", lifetime=60, now=T0)
    assert isinstance(two.verify(token, T0), Claims)
    # the MAC key is derived: a raw HMAC with the file's bytes does not verify
    assert one._key != secret.read_bytes().strip()


def test_revocation_until_expiry_and_persisted(tmp_path: Path) -> None:
    clock = Clock()
    auth = TokenAuthority(clock=clock)
    auth.use_secret_file(tmp_path / "secret")
    keep = auth.mint("alice", lifetime=60)
    gone = auth.mint("alice", lifetime=60)
    auth.revoke(gone)
    assert auth.verify(gone, T0) == Invalid("revoked")
    assert isinstance(auth.verify(keep, T0), Claims)
    lines = (tmp_path / "secret.revoked").read_text().splitlines()
    assert len(lines) == 1 and lines[0].endswith(f" {int(T0) + 60}")
    assert gone not in lines[0]  # the id only, never the token
    assert (os.stat(tmp_path / "secret.revoked").st_mode & 0o777) == 0o600
    # a restart (a new authority on the same file) still refuses it
    again = TokenAuthority(clock=clock)
    again.use_secret_file(tmp_path / "secret")
    assert again.verify(gone, T0) == Invalid("revoked")
    # after its expiry the id is dropped: the token is refused as expired anyway
    clock.now = T0 + 61
    late = TokenAuthority(clock=clock)
    late.use_secret_file(tmp_path / "secret")
    assert late.revoked == {}
    assert isinstance(late.verify(gone, clock.now), Expired)


def test_a_revocation_reaches_another_process_sharing_the_file(tmp_path: Path) -> None:
    clock = Clock()
    here, there = TokenAuthority(clock=clock), TokenAuthority(clock=clock)
    here.use_secret_file(tmp_path / "secret")
    there.use_secret_file(tmp_path / "secret")
    token = here.mint("alice", lifetime=600)
    call = Call("GET", "/h.json", query=f"token={token}")
    assert there.authenticate(call) is None
    here.revoke(token)
    clock.now += 6  # the other process looks at the file again after REFRESH_SECONDS
    refused = there.authenticate(Call("GET", "/h.json", query=f"token={token}"))
    assert refused is not None and json.loads(refused.body)["error"] == "token_invalid"  # type: ignore[arg-type]


def test_revoke_refuses_what_is_not_ours_and_an_unreadable_file_stops(tmp_path: Path) -> None:
    auth = authority()
    with pytest.raises(ValueError, match="not a token"):
        auth.revoke("ts1.abc.def")
    (tmp_path / "secret.revoked").write_text("garbage\n")
    with pytest.raises(ValueError, match="line 1"):
        TokenAuthority().use_secret_file(tmp_path / "secret")


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (None, None),
        ("/Objects/hists", ("/Objects/hists",)),
        (["/Objects/hists/", "//Objects//hists"], ("/Objects/hists",)),
        (["/Objects/hists/hpx", "/Objects/hists", "/Files"], ("/Files", "/Objects/hists")),
        (["/Objects", "/"], None),
    ],
)
def test_prefixes_are_normalized(paths: object, expected: object) -> None:
    assert normalize_prefixes(paths) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("paths", [[], ["Objects/hists"], ["/Objects/../Files"], ["/a/./b"]])
def test_bad_prefixes_are_refused(paths: list[str]) -> None:
    with pytest.raises(ValueError):
        authority().mint("alice", lifetime=60, paths=paths)


@pytest.mark.parametrize("lifetime", [0, -1, float("nan"), float("inf"), 10**9])
def test_bad_lifetimes_are_refused(lifetime: float) -> None:
    with pytest.raises(ValueError, match="lifetime"):
        authority().mint("alice", lifetime=lifetime)


def test_bad_users_are_refused() -> None:
    for user in ("", "a\nb"):
        with pytest.raises(ValueError):
            authority().mint(user, lifetime=60)


# -- the scope in the policy ----------------------------------------------------------------
def test_a_scoped_user_sees_its_subtrees_and_the_way_there_only() -> None:
    policy = Policy()
    alice = ScopedUser("alice", ["/Objects/hists"])
    assert policy.has_rules is False and policy.can_see("/Objects/other", alice) is False
    assert policy.can_see("/Objects/hists/hpx", alice)
    assert policy.can_see("/Objects/hists/hpx/fXaxis", alice)
    assert policy.can_see("/Objects/histsX", alice) is False  # a prefix is a path, not text
    assert policy.can_see("/jsrootsys/x.js", alice) is False
    for passage in ("/", "/Objects"):
        access = policy.access(passage, alice)
        assert not access.hidden and access.level is Level.READONLY
        assert not access.may_call("Reset") and not access.may_run_command()
        assert policy.is_passage(passage, alice)
    assert not policy.is_passage("/Objects/hists", alice)
    # inside, the server's own setting applies, not the passage's read-only
    policy.readonly = False
    assert policy.access("/Objects/hists/hpx", alice).full
    top = policy.access("/", alice)
    objects = policy.access_child(top, "/Objects", alice)
    hists = policy.access_child(objects, "/Objects/hists", alice)
    assert objects.level is Level.READONLY and hists.full
    assert [
        n for n, _ in policy.visible_children(objects, ("Objects",), ["hists", "x"], alice)
    ] == ["hists"]


def test_the_users_own_rules_still_apply_under_the_scope() -> None:
    policy = Policy()
    policy.restrict("/Objects/hists/secret", "hidden=alice")
    policy.restrict("/Objects", "visible=bob")
    alice = ScopedUser("alice", ["/Objects/hists"])
    assert policy.can_see("/Objects/hists/secret", alice) is False
    assert policy.can_see("/Objects/hists/hpx", alice) is False  # /Objects hides it from alice
    assert policy.can_see("/Objects/hists/hpx", ScopedUser("bob", ["/Objects/hists"]))


# -- the seam: finding, judging and removing a token ------------------------------------------
def test_authenticate_sets_the_user_and_removes_the_token() -> None:
    auth = authority()
    token = auth.mint("alice", lifetime=60, paths=["/Objects/hists"])
    call = Call(
        "GET",
        "/Objects/hists/root.websocket",
        query=f"a=1&token={token}&b=2",
        target=f"/Objects/hists/root.websocket?a=1&token={token}&b=2",
    )
    assert auth.authenticate(call) is None
    assert call.user == "alice" and isinstance(call.user, ScopedUser)
    assert call.query == "a=1&b=2" and call.target == "/Objects/hists/root.websocket?a=1&b=2"
    assert find_token(call) is None  # a second judge (the dispatcher) has nothing to do
    bearer = Call("GET", "/h.json", headers=[("authorization", f"Bearer {token}")])
    assert auth.authenticate(bearer) is None and bearer.user == "alice" and bearer.headers == []
    plain = Call("GET", "/h.json", query="x=tokenish")
    assert auth.authenticate(plain) is None and plain.user is None


@pytest.mark.parametrize(
    ("query", "advance", "code"),
    [
        ("token=", 0, "token_invalid"),
        ("token=ts1.x.y", 0, "token_invalid"),
        (None, 61, "token_expired"),
    ],
)
def test_refusals_are_401_json_without_the_token(
    query: str | None, advance: float, code: str
) -> None:
    clock = Clock()
    auth = authority(clock)
    token = auth.mint("alice", lifetime=60)
    clock.now += advance
    call = Call("GET", "/h.json", query=query if query is not None else f"token={token}")
    response = auth.authenticate(call)
    assert response is not None and response.status == 401
    body = json.loads(response.body)  # type: ignore[arg-type]
    assert body["error"] == code and token not in response.body.decode()  # type: ignore[union-attr]
    assert response.get_header(
        "WWW-Authenticate",
    ).startswith('Bearer realm="trioserve"')  # type: ignore[union-attr]
    assert call.user is None


def test_make_authenticator_accepts_tokens_with_and_without_digest(tmp_path: Path) -> None:
    auth = authority()
    token = auth.mint("alice", lifetime=60)
    plain = make_authenticator(parse_engine_spec("http:0"), auth)
    assert isinstance(plain, TokenAuthenticator)
    assert make_authenticator(parse_engine_spec("http:0")) is None
    passwords = tmp_path / "htdigest"
    passwords.write_text("bob:realm:0123456789abcdef0123456789abcdef\n")
    digest = make_authenticator(
        parse_engine_spec(f"http:0?auth_file={passwords}&auth_domain=realm"), auth
    )
    assert digest is not None
    call = Call("GET", "/h.json", headers=[("authorization", f"Bearer {token}")])
    assert digest.check(call, T0) is None and call.user == "alice"
    without = Call("GET", "/h.json")
    refusal = digest.check(without, T0)
    assert refusal is not None and refusal.status == 401 and without.user is None
    bad = digest.check(Call("GET", "/h.json", query="token=nope"), T0)
    assert bad is not None and json.loads(bad.body)["error"] == "token_invalid"  # type: ignore[arg-type]


def test_logs_and_debug_page_hide_the_token() -> None:
    line = clf_line(
        "1.2.3.4", "alice", T0, "GET /a/root.json?x=1&token=SECRET&y=2 HTTP/1.1", 200, 5
    )
    assert "SECRET" not in line and "x=1&token=(hidden)&y=2 HTTP/1.1" in line
    assert "SECRET" not in hide_tokens("GET /a?%74oken=SECRET HTTP/1.1")
    assert hide_tokens("GET /a?tokens=1 HTTP/1.1") == "GET /a?tokens=1 HTTP/1.1"
    page = render_debug_page(
        "echo",
        Call("GET", "/x", query="token=SECRET", headers=[("authorization", "Bearer SECRET")]),
    )
    assert b"SECRET" not in page.body  # type: ignore[operator]


# -- the command line --------------------------------------------------------------------------
def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trioserve.auth._token_cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_mints_a_token_a_server_with_the_file_accepts(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    done = run_cli(
        "--secret-file",
        str(secret),
        "--user",
        "alice",
        "--lifetime",
        "600",
        "--path",
        "/Objects/hists",
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert done.stdout == token + "\n"
    auth = TokenAuthority()
    auth.use_secret_file(secret)
    import time

    claims = auth.verify(token, time.time())
    assert isinstance(claims, Claims) and claims.paths == ("/Objects/hists",)
    assert run_cli("--secret-file", str(secret), "--revoke", token).returncode == 0
    again = TokenAuthority()
    again.use_secret_file(secret)
    assert again.verify(token, time.time()) == Invalid("revoked")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "a", "--lifetime", "0"], "lifetime"),
        (["--user", "a", "--path", "Objects"], "absolute"),
        ([], "--user is required"),
        (["--revoke", "nonsense"], "not a token"),
    ],
)
def test_cli_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    done = run_cli("--secret-file", str(tmp_path / "secret"), *args)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert done.stderr.startswith("trioserve token: ")
