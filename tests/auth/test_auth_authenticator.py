"""The engines' Authenticator, make_authenticator(), and real clients' Authorization headers.

httpx and requests compute the headers here with their own digest code from our challenge;
the Request/Response objects they get are plain data (no sockets). Real-socket interop with
curl, wget and browsers is tested with the engines.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import requests.auth
import requests.utils

from trioserve.auth import (
    Credentials,
    DigestAuthenticator,
    DigestVerifier,
    PasswordFile,
    frontend_user,
    make_authenticator,
    request_target,
)
from trioserve.auth.htdigest import format_entries
from trioserve.call import Call
from trioserve.errors import SpecError
from trioserve.spec import parse_engine_spec

T0 = 1_800_000_000.0
URL = "http://127.0.0.1:8080/Objects/h%20x/root.json?compact=3"


def authenticator(**kw: object) -> DigestAuthenticator:
    store = Credentials.from_passwords("root", {"admin": "admin", "guest": ""})
    return DigestAuthenticator(DigestVerifier("root", store, secret=b"k", **kw))  # type: ignore[arg-type]


def call_for(request: httpx.Request | None = None, authorization: str | None = None) -> Call:
    headers = [] if authorization is None else [("authorization", authorization)]
    if request is not None:
        return Call(
            method=request.method,
            path="/Objects/h x/root.json",
            query="compact=3",
            headers=headers,
            peer="127.0.0.1:5555",
        )
    return Call(method="GET", path="/Objects/h x/root.json", query="compact=3", headers=headers)


def challenges(response: object) -> list[str]:
    return [v for k, v in response.headers if k.lower() == "www-authenticate"]  # type: ignore[attr-defined]


def test_no_authorization_gets_a_401_challenge() -> None:
    auth = authenticator()
    call = call_for()
    response = auth.check(call, T0)
    assert response is not None and response.status == 401
    assert call.user is None
    values = challenges(response)
    assert len(values) == 2
    assert values[0].startswith('Digest realm="root", qop="auth", algorithm=SHA-256, nonce="')
    assert "algorithm=MD5" in values[1]
    assert json.loads(response.body)["error"] == "unauthorized"  # type: ignore[arg-type]
    assert "no-store" in (response.get_header("Cache-Control") or "")
    assert auth.realm == "root"


@pytest.mark.parametrize(("user", "password"), [("admin", "admin"), ("guest", "")])
def test_httpx_digest_auth_logs_in(user: str, password: str) -> None:
    auth = authenticator()
    client_auth = httpx.DigestAuth(user, password)
    flow = client_auth.sync_auth_flow(httpx.Request("GET", URL))
    first = next(flow)
    assert "authorization" not in first.headers
    challenge = auth.check(call_for(first), T0)
    assert challenge is not None
    response = httpx.Response(
        401, headers=[("WWW-Authenticate", v) for v in challenges(challenge)], request=first
    )
    second = flow.send(response)
    header = second.headers["authorization"]
    assert "algorithm=SHA-256" in header  # httpx takes the first challenge: ours is SHA-256
    call = call_for(second, header)
    assert auth.check(call, T0 + 1) is None
    assert call.user == user
    # httpx reuses the challenge with nc=2 for the next request: accepted once
    flow2 = client_auth.sync_auth_flow(httpx.Request("GET", URL))
    third = next(flow2)
    assert "nc=00000002" in third.headers["authorization"]
    call3 = call_for(third, third.headers["authorization"])
    assert auth.check(call3, T0 + 2) is None and call3.user == user
    # ...and replaying it is refused with a fresh challenge
    replay = auth.check(call_for(third, third.headers["authorization"]), T0 + 3)
    assert replay is not None and replay.status == 401


def test_httpx_wrong_password_is_refused() -> None:
    auth = authenticator()
    flow = httpx.DigestAuth("admin", "nope").sync_auth_flow(httpx.Request("GET", URL))
    first = next(flow)
    challenge = auth.check(call_for(first), T0)
    assert challenge is not None
    response = httpx.Response(
        401, headers=[("WWW-Authenticate", v) for v in challenges(challenge)], request=first
    )
    second = flow.send(response)
    call = call_for(second, second.headers["authorization"])
    result = auth.check(call, T0)
    assert result is not None and result.status == 401 and call.user is None


def _requests_header(user: str, password: str, values: list[str], method: str = "GET") -> str:
    """What python-requests' HTTPDigestAuth.handle_401 does with our 401, minus the socket:
    it folds the WWW-Authenticate headers into one (as urllib3 does) and parses that."""
    client = requests.auth.HTTPDigestAuth(user, password)
    client.init_per_thread_state()
    folded = ", ".join(values)
    client._thread_local.chal = requests.utils.parse_dict_header(
        re.sub(r"digest ", "", folded, count=1, flags=re.IGNORECASE)
    )
    client._thread_local.num_401_calls = 2
    return client.build_digest_header(method, URL)  # type: ignore[return-value]


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_requests_digest_auth_logs_in(method: str) -> None:
    auth = authenticator()
    challenge = auth.check(call_for(), T0)
    assert challenge is not None
    header = _requests_header("admin", "admin", challenges(challenge), method)
    call = call_for(authorization=header)
    call.method = method
    assert auth.check(call, T0 + 1) is None
    assert call.user == "admin"
    wrong = _requests_header("admin", "x", challenges(challenge), method)
    call = call_for(authorization=wrong)
    call.method = method
    response = auth.check(call, T0 + 1)
    assert response is not None and response.status == 401


def test_stale_nonce_gets_stale_challenge() -> None:
    auth = authenticator(nonce_lifetime=10)
    challenge = auth.check(call_for(), T0)
    assert challenge is not None
    header = _requests_header("admin", "admin", challenges(challenge))
    response = auth.check(call_for(authorization=header), T0 + 60)
    assert response is not None and response.status == 401
    assert all("stale=true" in v for v in challenges(response))


def test_malformed_gets_400_and_nothing_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    auth = authenticator()
    secret = 'Digest username="admin", response="SECRET-BITS'
    with caplog.at_level(logging.DEBUG):
        response = auth.check(call_for(authorization=secret), T0)
        challenge = auth.check(call_for(), T0)
        assert challenge is not None
        good = _requests_header("admin", "admin", challenges(challenge))
        bad = _requests_header("admin", "wrong", challenges(challenge))
        assert auth.check(call_for(authorization=good), T0) is None
        assert auth.check(call_for(authorization=bad), T0) is not None
    assert response is not None and response.status == 400
    body = response.body
    assert isinstance(body, bytes) and b"SECRET" not in body
    assert json.loads(body)["error"] == "bad_authorization"
    for header in (secret, good, bad):
        assert header not in caplog.text
    assert "SECRET" not in caplog.text
    assert re.search(r'response="([0-9a-f]+)"', good).group(1) not in caplog.text  # type: ignore[union-attr]


def test_request_target() -> None:
    call = Call(method="GET", path="/a b/100%/root.json", query="x=%20")
    assert request_target(call) == "/a%20b/100%25/root.json?x=%20"
    assert request_target(Call(method="GET", path="/h.json")) == "/h.json"
    raw = SimpleNamespace(path="/a b", query="", target="/a%20b")
    assert request_target(raw) == "/a%20b"  # type: ignore[arg-type]


# ---- make_authenticator -------------------------------------------------------------------


def _spec(options: str):  # type: ignore[no-untyped-def]
    return parse_engine_spec("http:8080" + (f"?{options}" if options else ""))


def test_make_authenticator(tmp_path: Path) -> None:
    path = tmp_path / "auth.txt"
    path.write_text("\n".join(format_entries("admin", "root", "admin")) + "\n")
    assert make_authenticator(_spec("")) is None
    auth = make_authenticator(_spec(f"auth_file={path}&auth_domain=root"))
    assert isinstance(auth, DigestAuthenticator)
    assert isinstance(auth.verifier.store, PasswordFile)
    response = auth.check(call_for(), T0)
    assert response is not None
    assert len(challenges(response)) == 2  # the file holds SHA-256 hashes
    sock = parse_engine_spec(f"socket:/tmp/x.sock?auth_file={path}&auth_domain=root")
    assert isinstance(make_authenticator(sock), DigestAuthenticator)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("auth_file={path}", "auth_domain is missing"),
        ("auth_domain=root", "auth_file is missing"),
        ("auth_file={missing}&auth_domain=root", "does not exist"),
        ("auth_file={dir}&auth_domain=root", "does not exist"),
        ('auth_file={path}&auth_domain=a"b', "auth_domain"),
    ],
)
def test_make_authenticator_errors(tmp_path: Path, options: str, message: str) -> None:
    path = tmp_path / "auth.txt"
    path.write_text("")
    text = options.format(path=path, missing=tmp_path / "nope", dir=tmp_path)
    with pytest.raises(SpecError, match=message):
        make_authenticator(_spec(text))


def test_make_authenticator_unreadable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "auth.txt"
    path.write_text("")

    def deny(*args: object, **kw: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(SpecError, match="Permission denied"):
        make_authenticator(_spec(f"auth_file={path}&auth_domain=root"))


def test_make_authenticator_warns_about_empty_realm(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "auth.txt"
    path.write_text("\n".join(format_entries("admin", "other", "admin")) + "\n")
    with caplog.at_level(logging.WARNING, logger="trioserve.auth"):
        auth = make_authenticator(_spec(f"auth_file={path}&auth_domain=root"))
    assert auth is not None
    assert "no account for realm 'root'" in caplog.text


def test_example_htdigest_file() -> None:
    """config/example.htdigest: guest has the empty password, admin has "admin"."""
    path = Path(__file__).resolve().parents[2] / "config" / "example.htdigest"
    store = PasswordFile(path)
    auth = DigestAuthenticator(DigestVerifier("root", store, secret=b"k"))
    for user, password in (("guest", ""), ("admin", "admin")):
        for index in (0, 1):  # both the SHA-256 and the MD5 entries work
            challenge = auth.check(call_for(), T0)  # a fresh nonce for each login
            assert challenge is not None
            value = challenges(challenge)[index]
            flow = httpx.DigestAuth(user, password).sync_auth_flow(httpx.Request("GET", URL))
            first = next(flow)
            second = flow.send(
                httpx.Response(401, headers=[("WWW-Authenticate", value)], request=first)
            )
            call = call_for(second, second.headers["authorization"])
            assert auth.check(call, T0) is None, (user, value[:40])
            assert call.user == user


@pytest.mark.parametrize(
    ("remote_user", "auth_type", "expected"),
    [
        ("admin", "Digest", "admin"),
        ("admin", "", None),
        ("admin", None, None),
        ("", "Digest", None),
        (None, "Basic", None),
        ("anonymous", "Digest", None),
    ],
)
def test_frontend_user(
    remote_user: str | None, auth_type: str | None, expected: str | None
) -> None:
    assert frontend_user(remote_user, auth_type) == expected
