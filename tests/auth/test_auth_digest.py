"""The digest verifier as plain function calls: RFC vectors, nonces, replays, bad input."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trioserve.auth.digest import (
    Denied,
    DigestVerifier,
    Malformed,
    Ok,
    Stale,
    digest_response,
    parse_auth_params,
)
from trioserve.auth.htdigest import Credentials, ha1, userhash

REALM = "root"
T0 = 1_800_000_000.0


def creds(algorithms: tuple[str, ...] = ("SHA-256", "MD5")) -> Credentials:
    return Credentials.from_passwords(
        REALM, {"admin": "admin", "guest": "", "Jürgen": "pässwort"}, algorithms
    )


def verifier(**kw: object) -> DigestVerifier:
    kw.setdefault("secret", b"test-secret")
    return DigestVerifier(REALM, kw.pop("store", creds()), **kw)  # type: ignore[arg-type]


def challenge_params(value: str) -> dict[str, str]:
    assert value.startswith("Digest ")
    return parse_auth_params(value[len("Digest ") :])


def authorization(
    v: DigestVerifier,
    now: float,
    *,
    user: str = "admin",
    password: str = "admin",
    algorithm: str = "SHA-256",
    method: str = "GET",
    uri: str = "/Objects/h/root.json",
    nc: str = "00000001",
    cnonce: str = "c0ffee",
    nonce: str | None = None,
    hashed: bool = False,
    realm: str = REALM,
    extra: str = "",
) -> str:
    if nonce is None:
        nonce = challenge_params(v.challenge(now)[0])["nonce"]
    resp = digest_response(
        algorithm, ha1(algorithm, user, realm, password), nonce, nc, cnonce, "auth", method, uri
    )
    name = userhash(algorithm, user, realm) if hashed else user
    value = (
        f'Digest username="{name}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'algorithm={algorithm}, qop=auth, nc={nc}, cnonce="{cnonce}", response="{resp}", '
        f'opaque="{v.opaque}"'
    )
    if hashed:
        value += ", userhash=true"
    return value + extra


# ---- RFC example vectors -----------------------------------------------------------------

RFC7616 = dict(
    user="Mufasa",
    password="Circle of Life",
    realm="http-auth@example.org",
    nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    uri="/dir/index.html",
)


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_section_3_9_1_vectors(algorithm: str, expected: str) -> None:
    r = RFC7616
    h = ha1(algorithm, r["user"], r["realm"], r["password"])
    got = digest_response(
        algorithm, h, r["nonce"], "00000001", r["cnonce"], "auth", "GET", r["uri"]
    )
    assert got == expected


def test_rfc2617_section_3_5_vector() -> None:
    h = ha1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life")
    got = digest_response(
        "MD5", h, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "auth", "GET",
        "/dir/index.html",
    )  # fmt: skip
    assert got == "6629fae49393a05397450978507c4ef1"


def test_root_tutorial_auth_txt_hashes() -> None:
    # tutorials/http/auth.txt: guest has the empty password, admin has "admin"
    assert ha1("MD5", "guest", "root", "") == "a437ab679eeaf8b9be222f88b00bf4e8"
    assert ha1("MD5", "admin", "root", "admin") == "8486674942d143032d947e29d2fa1f1f"


@pytest.mark.parametrize(
    ("password", "expected"),
    [("Circle of Life", Stale), ("wrong", Denied)],
)
def test_rfc7616_header_against_verifier(password: str, expected: type) -> None:
    """The RFC's own header, with its foreign nonce: correct password -> stale (retry with
    our nonce, no new password prompt); wrong password -> denied."""
    r = RFC7616
    store = Credentials.from_passwords(r["realm"], {r["user"]: password})
    v = DigestVerifier(r["realm"], store, secret=b"x")
    header = (
        f'Digest username="Mufasa", realm="{r["realm"]}", uri="{r["uri"]}", '
        'algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, '
        'cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, '
        'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    # the RFC's opaque is not ours: drop it so the nonce/password logic is what is judged
    header = header.replace(', opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"', "")
    assert isinstance(v.verify("GET", r["uri"], header, T0), expected)


# ---- challenges ----------------------------------------------------------------------------


def test_challenge_offers_sha256_first_then_md5() -> None:
    v = verifier()
    values = v.challenge(T0)
    assert [challenge_params(x)["algorithm"] for x in values] == ["SHA-256", "MD5"]
    for value in values:
        p = challenge_params(value)
        assert p["realm"] == REALM and p["qop"] == "auth" and p["userhash"] == "true"
        assert p["opaque"] == v.opaque
        assert "stale" not in p
        assert "SHA-512" not in value
    # one nonce for both, so clients folding the headers stay consistent
    assert challenge_params(values[0])["nonce"] == challenge_params(values[1])["nonce"]
    assert all(challenge_params(x)["stale"] == "true" for x in v.challenge(T0, stale=True))
    # a fresh nonce every time
    assert challenge_params(v.challenge(T0)[0])["nonce"] != challenge_params(values[0])["nonce"]


def test_md5_only_store_offers_md5_only() -> None:
    v = verifier(store=creds(("MD5",)))
    assert [challenge_params(x)["algorithm"] for x in v.challenge(T0)] == ["MD5"]
    v2 = verifier(algorithms=("MD5",))
    assert [challenge_params(x)["algorithm"] for x in v2.challenge(T0)] == ["MD5"]


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="algorithms"):
        DigestVerifier(REALM, creds(), algorithms=("SHA-512-256",))
    with pytest.raises(ValueError, match="algorithms"):
        DigestVerifier(REALM, creds(), algorithms=())
    with pytest.raises(ValueError, match="realm"):
        DigestVerifier('a"b', creds())
    with pytest.raises(ValueError, match="realm"):
        DigestVerifier("", creds())
    # a str secret works and two verifiers sharing it accept each other's nonces
    a = DigestVerifier(REALM, creds(), secret="shared")
    b = DigestVerifier(REALM, creds(), secret="shared")
    assert isinstance(b.verify("GET", "/x", authorization(a, T0, uri="/x"), T0), Ok)


# ---- verification --------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5"])
@pytest.mark.parametrize(("user", "password"), [("admin", "admin"), ("guest", "")])
def test_good_credentials(algorithm: str, user: str, password: str) -> None:
    v = verifier()
    header = authorization(v, T0, user=user, password=password, algorithm=algorithm)
    assert v.verify("GET", "/Objects/h/root.json", header, T0 + 1) == Ok(user, algorithm)


def test_unknown_user_and_wrong_password_look_the_same() -> None:
    v = verifier()
    wrong = v.verify("GET", "/Objects/h/root.json", authorization(v, T0, password="x"), T0)
    unknown = v.verify(
        "GET", "/Objects/h/root.json", authorization(v, T0, user="nobody", password="x"), T0
    )
    assert wrong == unknown == Denied("unknown user or wrong password")


def test_method_is_part_of_the_digest() -> None:
    v = verifier()
    header = authorization(v, T0, method="GET")
    assert isinstance(v.verify("POST", "/Objects/h/root.json", header, T0), Denied)


@pytest.mark.parametrize(
    ("signed", "actual", "ok"),
    [
        ("/Objects/h/root.json", "/Objects/h/root.json", True),
        ("/Objects/h/root.json?compact=3", "/Objects/h/root.json?compact=3", True),
        ("/a%20b/root.json", "/a b/root.json", True),  # escaping differs, same target
        ("http://host:8080/a/root.json", "/a/root.json", True),
        ("/Objects/h/root.json", "/Objects/secret/root.json", False),
        ("/Objects/h/root.json?compact=3", "/Objects/h/root.json?compact=0", False),
        ("/Objects/h/root.json", "/Objects/h/root.json?x", False),
    ],
)
def test_uri_must_name_the_request_target(signed: str, actual: str, ok: bool) -> None:
    v = verifier()
    result = v.verify("GET", actual, authorization(v, T0, uri=signed), T0)
    assert isinstance(result, Ok) is ok
    if not ok:
        assert result == Denied("uri does not match the request target")


def test_stale_nonce_after_lifetime() -> None:
    v = verifier(nonce_lifetime=60)
    header = authorization(v, T0)
    assert isinstance(v.verify("GET", "/Objects/h/root.json", header, T0 + 59), Ok)
    h2 = authorization(v, T0, nc="00000002")
    assert v.verify("GET", "/Objects/h/root.json", h2, T0 + 61) == Stale("nonce expired")
    # a stale nonce with a wrong password is denied, not stale
    h3 = authorization(v, T0, password="bad")
    assert isinstance(v.verify("GET", "/Objects/h/root.json", h3, T0 + 61), Denied)
    # a nonce from the future (clock moved back) is stale too
    h4 = authorization(v, T0 + 100)
    assert isinstance(v.verify("GET", "/Objects/h/root.json", h4, T0), Stale)


def test_nonce_from_another_secret_is_stale() -> None:
    other = verifier(secret=b"another")
    v = verifier()
    header = authorization(other, T0, extra="")
    header = header.replace(other.opaque, v.opaque)
    assert v.verify("GET", "/Objects/h/root.json", header, T0) == Stale(
        "nonce not issued by this server"
    )
    tampered = authorization(v, T0)
    nonce = re.search(r'nonce="([^"]+)"', tampered).group(1)  # type: ignore[union-attr]
    forged = nonce[:11] + ("0" if nonce[11] != "0" else "1") + nonce[12:]
    header = authorization(v, T0, nonce=forged)
    assert isinstance(v.verify("GET", "/Objects/h/root.json", header, T0), Stale)


def test_replayed_nonce_count_is_denied() -> None:
    v = verifier()
    nonce = challenge_params(v.challenge(T0)[0])["nonce"]
    u = "/Objects/h/root.json"

    def at(nc: int) -> object:
        return v.verify("GET", u, authorization(v, T0, nonce=nonce, nc=f"{nc:08x}"), T0 + 1)

    assert isinstance(at(1), Ok)
    assert at(1) == Denied("nonce count replayed")
    assert isinstance(at(3), Ok)
    assert isinstance(at(2), Ok)  # out of order but new: parallel requests
    assert at(2) == Denied("nonce count replayed")
    assert at(3) == Denied("nonce count replayed")
    assert isinstance(at(200), Ok)
    assert at(100) == Denied("nonce count replayed")  # fell out of the 64-wide window
    assert isinstance(at(199), Ok)
    assert at(0) == Denied("nonce count 0")
    # a replay with a different cnonce is still a replay
    h = authorization(v, T0, nonce=nonce, nc=f"{199:08x}", cnonce="other")
    assert v.verify("GET", u, h, T0 + 1) == Denied("nonce count replayed")


def test_replay_table_is_bounded_and_never_reaccepts() -> None:
    v = verifier(max_nonces=8, nonce_lifetime=1000)
    u = "/Objects/h/root.json"
    headers = []
    for i in range(20):
        h = authorization(v, T0 + i)
        headers.append(h)
        assert isinstance(v.verify("GET", u, h, T0 + i), Ok)
        assert v.statistics()["tracked_nonces"] <= 8
    # every earlier header replayed: none is accepted again (evicted ones are stale)
    for h in headers:
        assert not isinstance(v.verify("GET", u, h, T0 + 21), Ok)
    # a nonce issued before the floor but first used now is stale
    v2 = verifier(max_nonces=2, nonce_lifetime=1000)
    early = authorization(v2, T0)
    for i in range(1, 4):
        assert isinstance(v2.verify("GET", u, authorization(v2, T0 + i), T0 + i), Ok)
    assert isinstance(v2.verify("GET", u, early, T0 + 5), Stale)


def test_expired_nonces_are_evicted() -> None:
    v = verifier(nonce_lifetime=10)
    u = "/Objects/h/root.json"
    for _ in range(5):
        assert isinstance(v.verify("GET", u, authorization(v, T0), T0), Ok)
    assert v.statistics()["tracked_nonces"] == 5
    assert isinstance(v.verify("GET", u, authorization(v, T0 + 100), T0 + 100), Ok)
    assert v.statistics()["tracked_nonces"] == 1


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5"])
def test_userhash(algorithm: str) -> None:
    v = verifier()
    header = authorization(v, T0, algorithm=algorithm, hashed=True)
    assert v.verify("GET", "/Objects/h/root.json", header, T0) == Ok("admin", algorithm)
    bad = authorization(v, T0, algorithm=algorithm, hashed=True, password="no")
    assert isinstance(v.verify("GET", "/Objects/h/root.json", bad, T0), Denied)
    # a userhash that names nobody
    nobody = authorization(v, T0, algorithm=algorithm, user="nobody", hashed=True)
    assert isinstance(v.verify("GET", "/Objects/h/root.json", nobody, T0), Denied)


def test_username_star_rfc8187() -> None:
    v = verifier()
    header = authorization(v, T0, user="Jürgen", password="pässwort")
    header = header.replace('username="Jürgen"', "username*=UTF-8''J%C3%BCrgen")
    assert v.verify("GET", "/Objects/h/root.json", header, T0) == Ok("Jürgen", "SHA-256")
    for bad in ("username*=UTF-8''J%FCrgen", "username*=J%C3%BCrgen", "username*=koi8-r''x"):
        h = authorization(v, T0).replace('username="admin"', bad)
        assert isinstance(v.verify("GET", "/Objects/h/root.json", h, T0), Malformed)
    both = authorization(v, T0, extra=", username*=UTF-8''admin")
    assert v.verify("GET", "/Objects/h/root.json", both, T0) == Malformed(
        "both username and username*"
    )
    star_hash = authorization(v, T0, hashed=True).replace(
        f'username="{userhash("SHA-256", "admin", REALM)}"', "username*=UTF-8''admin"
    )
    assert isinstance(v.verify("GET", "/Objects/h/root.json", star_hash, T0), Malformed)


DENIED_EDITS = [
    # (regex, replacement, expected reason)
    (r"^Digest", "Basic", "not a Digest Authorization"),
    (r'realm="root"', 'realm="other"', "another realm"),
    (r"algorithm=SHA-256", "algorithm=SHA-512-256", "algorithm not offered"),
    (r"algorithm=SHA-256", "algorithm=MD5-sess", "algorithm not offered"),
    (r"qop=auth, ", "", "qop=auth is required (RFC 2069 digests are refused)"),
    (r"qop=auth", "qop=auth-int", "qop not offered"),
    (r'opaque="[^"]*"', 'opaque="nope"', "opaque does not match"),
]


@pytest.mark.parametrize(("pattern", "replacement", "reason"), DENIED_EDITS)
def test_denied_variants(pattern: str, replacement: str, reason: str) -> None:
    v = verifier()
    header = re.sub(pattern, replacement, authorization(v, T0), count=1)
    assert v.verify("GET", "/Objects/h/root.json", header, T0) == Denied(reason)


def test_missing_opaque_is_tolerated() -> None:
    v = verifier()
    header = re.sub(r', opaque="[^"]*"', "", authorization(v, T0))
    assert isinstance(v.verify("GET", "/Objects/h/root.json", header, T0), Ok)


MALFORMED_EDITS = [
    (r'username="admin", ', "", "missing username"),
    (r'nonce="[^"]*", ', "", "missing nonce"),
    (r'response="[^"]*"', 'response="xyz"', "response is not a hex digest of the algorithm"),
    (r'cnonce="[^"]*", ', "", "missing cnonce"),
    (r"nc=00000001, ", "", "missing nc"),
    (r"nc=00000001", "nc=zz", "nc is not 8 hex digits"),
    (r"nc=00000001", 'nc="123456789"', "nc is not 8 hex digits"),
    (r'realm="root", ', 'realm="root", realm="root", ', "repeated auth-param"),
    (r'realm="root"', "realm=@", "unparsable auth-param"),
    (r", qop=auth", " qop=auth", "auth-params must be separated by commas"),
    (r"$", ", userhash=maybe", "userhash must be true or false"),
    (r"^.*$", "", "empty Authorization header"),
    (r"^.*$", "Digest", "missing realm"),
]


@pytest.mark.parametrize(("pattern", "replacement", "reason"), MALFORMED_EDITS)
def test_malformed_variants(pattern: str, replacement: str, reason: str) -> None:
    v = verifier()
    header = re.sub(pattern, replacement, authorization(v, T0), count=1)
    assert v.verify("GET", "/Objects/h/root.json", header, T0) == Malformed(reason)


def test_too_long_header_is_malformed() -> None:
    v = verifier()
    header = authorization(v, T0, extra=', x="' + "a" * 9000 + '"')
    assert v.verify("GET", "/Objects/h/root.json", header, T0) == Malformed(
        "Authorization header too long"
    )


def test_parse_auth_params_forms() -> None:
    assert parse_auth_params('a=1, b="x, \\"y\\"",,c=tok ,') == {
        "a": "1",
        "b": 'x, "y"',
        "c": "tok",
    }
    assert parse_auth_params("") == {}
    assert parse_auth_params("  ,  ") == {}
    assert parse_auth_params("A=1") == {"a": "1"}


def test_reasons_never_echo_the_header() -> None:
    v = verifier()
    secret_bits = "s3cr3t-cnonce-value"
    for header in (
        authorization(v, T0, cnonce=secret_bits, password="bad"),
        authorization(v, T0, cnonce=secret_bits).replace("nc=00000001", "nc=" + secret_bits),
        "Digest " + secret_bits,
    ):
        result = v.verify("GET", "/Objects/h/root.json", header, T0)
        assert not isinstance(result, Ok)
        assert secret_bits not in repr(result)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_arbitrary_text_gives_a_result(text: str) -> None:
    v = verifier()
    result = v.verify("GET", "/x", text, T0)
    assert isinstance(result, Denied | Malformed)


_PARAM = st.tuples(
    st.sampled_from(
        ["username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce", "algorithm",
         "opaque", "userhash", "username*", "x"]
    ),
    st.one_of(
        st.text(alphabet="abc019xyz=,\"\\ '%*", max_size=20),
        st.sampled_from(["auth", "MD5", "SHA-256", "true", "root", "00000001", "/x"]),
    ),
    st.booleans(),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_PARAM, max_size=12), st.sampled_from(["Digest ", "digest ", "Digest", ""]))
def test_fuzz_structured_headers_give_a_result(
    params: list[tuple[str, str, bool]], scheme: str
) -> None:
    v = verifier()
    parts = []
    for key, value, quoted in params:
        parts.append(f'{key}="{value}"' if quoted else f"{key}={value}")
    result = v.verify("GET", "/x", scheme + ", ".join(parts), T0)
    assert isinstance(result, Ok | Stale | Denied | Malformed)
    assert not isinstance(result, Ok)  # nothing random can authenticate


def test_older_nonce_first_used_when_table_overflows_is_stale() -> None:
    v = verifier(max_nonces=2, nonce_lifetime=1000)
    u = "/Objects/h/root.json"
    old = authorization(v, T0 + 1)
    for i in (5, 6):
        assert isinstance(v.verify("GET", u, authorization(v, T0 + i), T0 + i), Ok)
    # making room drops the nonce of T0+5; one issued even earlier cannot be tracked
    assert v.verify("GET", u, old, T0 + 7) == Stale("nonce evicted")
