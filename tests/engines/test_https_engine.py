"""The https engine over real TLS: a throw-away CA (trustme), real sockets, real clients
(curl --cacert, httpx, requests, trio-websocket over wss://) and testssl.sh's audit."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import ssl
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio_websocket

from tests.conftest import Sample, require_tool
from tests.engines.test_http_support import BIG_SIZE, RawClient, connect, echo, request
from tests.engines.tls_support import (
    Pki,
    audit_grade_certificate,
    make_pki,
    open_tls,
    running_https,
    tls_client,
)
from tests.ws.conftest import Recorder
from trioserve import Server, Text
from trioserve.auth import make_authenticator
from trioserve.engines._tls import Certificates, TlsFiles, build_context, certificate_user
from trioserve.engines.base import EngineContext
from trioserve.engines.https import HSTS_DEFAULT, reload_certificates, serve_https
from trioserve.errors import ConfigError, SpecError, StartupError
from trioserve.spec import EngineSpec, parse_engine_spec

#: guard against a hang only: every wait below is on an event, not on a duration
HANG = 20
REALM = "tls-realm"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def own_pki(tmp_path: Path) -> Pki:
    """A CA whose server files a test may replace."""
    return make_pki(tmp_path)


async def peer_certificate(address: tuple[str, int], pki: Pki) -> bytes:
    stream = await open_tls(address, pki.client_context())
    der = stream.getpeercert(binary_form=True)
    await stream.aclose()
    assert der is not None
    return bytes(der)


# -- the protocol ------------------------------------------------------------------------------


async def test_alpn_offers_h2_first_and_http1_without_http2(pki: Pki) -> None:
    async with running_https(pki) as address:
        both = pki.client_context()
        both.set_alpn_protocols(["h2", "http/1.1"])
        stream = await open_tls(address, both)
        assert stream.selected_alpn_protocol() == "h2"
        old = pki.client_context()
        old.set_alpn_protocols(["http/1.1"])
        stream = await open_tls(address, old)
        assert stream.selected_alpn_protocol() == "http/1.1"
    async with running_https(pki, {"http2": "0"}) as address:
        stream = await open_tls(address, both)
        assert stream.selected_alpn_protocol() == "http/1.1"


async def test_http2_by_alpn_serves_like_http1(pki: Pki, nursery: trio.Nursery) -> None:
    server = Server()
    server.register("/", Text("over h2"), name="status")
    await nursery.start(server.serve, f"https:127.0.0.1:0?ssl_cert={pki.combined}&hsts=600")
    base = f"https://localhost:{server.engines[0][1][1]}"
    async with httpx.AsyncClient(verify=pki.client_context(), http2=True, timeout=HANG) as http:
        replies = [await http.get(f"{base}/status/root.json") for _ in range(3)]
        listing = await http.get(f"{base}/h.json")
    assert [r.http_version for r in replies] == ["HTTP/2"] * 3
    assert all(r.status_code == 200 and r.json()["value"] == "over h2" for r in replies)
    assert replies[0].headers["strict-transport-security"] == "max-age=600"
    assert listing.status_code == 200 and "status" in listing.text


async def test_requests_over_tls_keepalive_pipelining_and_alpn(pki: Pki) -> None:
    async with running_https(pki) as address:
        context = pki.client_context()
        context.set_alpn_protocols(["http/1.1"])
        stream = await open_tls(address, context)
        assert stream.selected_alpn_protocol() == "http/1.1"
        assert stream.version() in ("TLSv1.2", "TLSv1.3")
        client = RawClient(stream)  # type: ignore[arg-type]
        with trio.fail_after(HANG):
            await client.send(request("/a") + request("/b?x=1"))  # pipelined
            first, second = await client.response(), await client.response()
            await client.send(request("/up", "POST", body=b"payload " * 1000))
            upload = await client.response()
            chunked = "Transfer-Encoding: chunked\r\n"
            await client.send(request("/c", "POST", chunked) + b"5\r\nhello\r\n0\r\n\r\n")
            chunks = await client.response()
            await client.send(request("/e", "POST", "Expect: 100-continue\r\n", b"body"))
            continued = await client.response()
            final = await client.response()
    assert (first.status, first.json()["path"], first.json()["engine"]) == (200, "/a", "https")
    assert (second.json()["path"], second.json()["query"]) == ("/b", "x=1")
    assert first.headers.get("connection") is None  # kept alive
    assert upload.json()["body"] == "payload " * 1000
    assert chunks.json()["body"] == "hello"
    assert (continued.status, final.json()["body"]) == (100, "body")


async def test_big_and_streamed_bodies_arrive_whole(pki: Pki) -> None:
    async with running_https(pki) as address:
        client = await tls_client(address, pki)
        with trio.fail_after(HANG):
            await client.send(request("/big") + request("/stream"))
            big, streamed = await client.response(), await client.response()
    assert (len(big.body), set(big.body)) == (BIG_SIZE, {ord("x")})
    assert big.headers["content-length"] == str(BIG_SIZE)
    assert streamed.headers["transfer-encoding"] == "chunked" and streamed.body == b"x" * 3000


async def test_old_protocols_and_weak_ciphers_are_refused(pki: Pki) -> None:
    old = pki.client_context()
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():  # asking for TLS 1.0/1.1 is deprecated: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    no_forward_secrecy = pki.client_context(maximum_version=ssl.TLSVersion.TLSv1_2)
    no_forward_secrecy.set_ciphers("AES128-SHA:AES256-SHA:AES128-GCM-SHA256")
    cbc = pki.client_context(maximum_version=ssl.TLSVersion.TLSv1_2)
    cbc.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384")
    modern12 = pki.client_context(maximum_version=ssl.TLSVersion.TLSv1_2)
    async with running_https(pki) as address:
        with trio.fail_after(HANG):
            for context in (old, no_forward_secrecy, cbc):
                with pytest.raises(trio.BrokenResourceError):
                    await open_tls(address, context)
            stream = await open_tls(address, modern12)
    assert stream.version() == "TLSv1.2"
    cipher = stream.cipher()
    assert cipher is not None and cipher[0].startswith("ECDHE-") and "GCM" in cipher[0]


async def test_plain_http_clients_are_answered_400_while_tls_clients_are_served(
    pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "trioserve")
    plain_replies: list[Any] = []
    tls_replies: list[Any] = []
    # header_timeout is long: a plain client is dropped at its first bytes, not at a timeout
    async with running_https(pki, {"header_timeout": "120"}) as address:
        silent = await connect(address)  # a plain client that never speaks holds its slot

        async def plain(i: int) -> None:
            client = await RawClient.open(address)
            await client.send(request(f"/plain{i}"))
            plain_replies.append(await client.response())
            assert await client.is_closed()

        async def tls(i: int) -> None:
            client = await tls_client(address, pki)
            await client.send(request(f"/tls{i}"))
            tls_replies.append(await client.response())

        with trio.fail_after(HANG):
            async with trio.open_nursery() as nursery:
                for i in range(5):
                    nursery.start_soon(plain, i)
                    nursery.start_soon(tls, i)
        await silent.aclose()
    assert [r.status for r in plain_replies] == [400] * 5
    assert {r.json()["error"] for r in plain_replies} == {"https_required"}
    assert all(r.headers["connection"] == "close" for r in plain_replies)
    assert sorted(r.json()["path"] for r in tls_replies) == [f"/tls{i}" for i in range(5)]
    assert caplog.text.count("plain HTTP on the https port") == 5


async def test_a_stalled_handshake_ends_at_header_timeout(
    pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "trioserve")
    async with running_https(pki, {"header_timeout": "1"}) as address:
        staller = await RawClient.open(address)
        await staller.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # half a ClientHello
        client = await tls_client(address, pki)  # others go on meanwhile
        with trio.fail_after(HANG):
            await client.send(request("/ok"))
            assert (await client.response()).status == 200
            assert await staller.is_closed(timeout=HANG)
            while "no TLS handshake within header_timeout" not in caplog.text:
                await trio.sleep(0.01)  # the line follows the close


async def test_a_client_that_stops_reading_is_dropped_at_write_timeout(
    pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "trioserve")
    async with running_https(pki, {"write_timeout": "1"}) as address:
        client = await tls_client(address, pki)
        await client.send(request("/big"))  # 5 MB, never read
        with trio.fail_after(HANG):
            while "write timeout" not in caplog.text:
                await trio.sleep(0.05)
        other = await tls_client(address, pki)
        with trio.fail_after(HANG):
            await other.send(request("/after"))
            assert (await other.response()).status == 200


async def test_shutdown_closes_idle_tls_connections(pki: Pki) -> None:
    spec = EngineSpec(kind="https", port=0, options={"ssl_cert": str(pki.combined)}, text="t")
    with trio.fail_after(HANG):
        async with trio.open_nursery() as nursery:
            address = await nursery.start(serve_https, EngineContext(handle=echo), spec)
            client = await tls_client(address, pki)
            await client.send(request("/one"))
            assert (await client.response()).status == 200
            nursery.cancel_scope.cancel()
        assert await client.is_closed()
        await client.aclose()


# -- certificates -------------------------------------------------------------------------------


async def test_certificate_and_key_in_separate_files(pki: Pki) -> None:
    options = {"ssl_cert": str(pki.chain), "ssl_key": str(pki.key)}
    async with running_https(pki, options) as address:
        client = await tls_client(address, pki)
        with trio.fail_after(HANG):
            await client.send(request("/split"))
            assert (await client.response()).json()["path"] == "/split"


def _encrypted_key(pki: Pki) -> Path:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(pki.key.read_bytes(), None)
    path = pki.directory / "encrypted.key"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    return path


def _bad_files(pki: Pki) -> list[tuple[dict[str, str], str]]:
    """(options, a text the error must contain) for every unusable set of files."""
    other_key = pki.directory / "other.key"
    pki.ca.issue_cert("other.test").private_key_pem.write_to_path(str(other_key))
    junk = pki.directory / "junk.pem"
    junk.write_text("not a certificate\n")
    missing = str(pki.directory / "missing.pem")
    chain, key = str(pki.chain), str(pki.key)
    return [
        ({"ssl_cert": ""}, "needs ssl_cert=FILE"),
        ({"ssl_cert": missing}, f"cannot read the certificate file (ssl_cert) {missing}"),
        ({"ssl_cert": str(pki.directory)}, f"(ssl_cert) {pki.directory}"),
        ({"ssl_cert": str(junk)}, f"{junk} (ssl_cert) holds no PEM certificate"),
        ({"ssl_cert": chain}, f"{chain} (ssl_cert file) holds no PEM private key"),
        ({"ssl_cert": chain, "ssl_key": missing}, f"key file (ssl_key) {missing}"),
        ({"ssl_cert": chain, "ssl_key": str(other_key)}, f"the private key in {other_key} does "),
        ({"ssl_cert": chain, "ssl_key": str(_encrypted_key(pki))}, "is encrypted"),
        ({"ssl_cert": chain, "ssl_key": key, "ssl_ca": missing}, f"(ssl_ca) {missing}"),
        ({"ssl_cert": chain, "ssl_key": key, "ssl_ca": str(junk)}, f"{junk} (ssl_ca) holds no"),
        ({"ssl_cert": chain, "ssl_key": key, "ssl_ca": ""}, "ssl_ca= names no file"),
        ({"ssl_cert": chain, "ssl_key": key, "hsts": "-1"}, "hsts=SECONDS must be 0 or more"),
        ({"ssl_cert": chain, "ssl_key": key, "hsts": "soon"}, "is not an integer"),
    ]


async def test_unusable_certificate_files_are_one_clear_error_before_listening(
    own_pki: Pki,
) -> None:
    for options, expected in _bad_files(own_pki):
        spec = EngineSpec(kind="https", port=0, options=options, text="https:0")

        async def handle(call: Any) -> Any:
            raise AssertionError("nothing may be served")

        async with trio.open_nursery() as nursery:
            with pytest.raises(SpecError) as caught:
                await nursery.start(serve_https, EngineContext(handle=handle), spec)
        message = str(caught.value)
        assert expected in message, (options, message)
        assert "'https:0'" in message and "\n" not in message


async def test_server_start_fails_with_one_startup_error_naming_the_file(
    own_pki: Pki, nursery: trio.Nursery
) -> None:
    missing = own_pki.directory / "nope.pem"
    server = Server()
    with pytest.raises(StartupError) as caught:
        await nursery.start(server.serve, f"https:127.0.0.1:0?ssl_cert={missing}")
    assert str(missing) in str(caught.value) and "cannot read" in str(caught.value)
    assert server.engines == []


def test_spec_strings_of_the_https_kind() -> None:
    spec = parse_engine_spec("https:8443?ssl_cert=/x/server.pem&hsts=600")
    assert (spec.kind, spec.host, spec.port) == ("https", "127.0.0.1", 8443)
    assert spec.options == {"ssl_cert": "/x/server.pem", "hsts": "600"}
    assert parse_engine_spec("https:0.0.0.0:8443?ssl_cert=a&ssl_key=b&ssl_ca=c").host == "0.0.0.0"
    assert parse_engine_spec("https:?ssl_cert=a").port == 8480  # ROOT's default https port
    with pytest.raises(SpecError, match="ssl_cert"):
        parse_engine_spec("http:8080?ssl_cert=a")  # TLS options belong to https only


def test_context_is_modern_and_trusts_only_the_given_client_ca(pki: Pki) -> None:
    plain = build_context(TlsFiles(str(pki.combined)))
    assert plain.minimum_version is ssl.TLSVersion.TLSv1_2
    assert plain.verify_mode is ssl.CERT_NONE
    assert plain.options & ssl.OP_NO_COMPRESSION and plain.options & ssl.OP_NO_RENEGOTIATION
    tls12 = {c["name"] for c in plain.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert tls12 and all(n.startswith("ECDHE-") and ("GCM" in n or "CHACHA" in n) for n in tls12)
    mutual = build_context(TlsFiles(str(pki.combined), ca=str(pki.ca_file)))
    assert mutual.verify_mode is ssl.CERT_REQUIRED
    # one CA: the test CA, and none of the system's
    assert mutual.cert_store_stats()["x509_ca"] == 1


def test_certificates_look_at_the_files_at_most_once_per_interval(own_pki: Pki) -> None:
    now = [100.0]
    certificates = Certificates(TlsFiles(str(own_pki.combined)), clock=lambda: now[0])
    first = certificates.current()
    new, _, _ = own_pki.server_files("next")
    os.replace(new, own_pki.combined)
    assert certificates.current() is first  # looked at before: not again within a second
    now[0] += 0.5
    assert certificates.current() is first
    now[0] += 0.5
    second = certificates.current()
    assert second is not first and certificates.reloads == 1
    now[0] += 5
    assert certificates.current() is second  # unchanged files: the same context


async def test_a_replaced_certificate_is_served_to_new_connections(own_pki: Pki) -> None:
    async with running_https(own_pki) as address:
        with trio.fail_after(HANG):
            first = await peer_certificate(address, own_pki)
            kept = await tls_client(address, own_pki)  # open across the swap
            new, chain, _ = own_pki.server_files("renewed")
            expected = ssl.PEM_cert_to_DER_cert(chain.read_text())
            os.replace(new, own_pki.combined)  # how certbot-style renewals land
            served = first
            while served != expected:  # picked up within a second, on a new connection
                await trio.sleep(0.05)
                served = await peer_certificate(address, own_pki)
            await kept.send(request("/still"))
            assert (await kept.response()).status == 200
    assert served != first


async def test_reload_certificates_now_and_a_broken_replacement_keeps_the_old(
    own_pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "trioserve")
    async with running_https(own_pki) as address:
        with trio.fail_after(HANG):
            first = await peer_certificate(address, own_pki)
            # a certificate with somebody else's key: refused, the one in use stays
            leaf = own_pki.ca.issue_cert("localhost", "127.0.0.1")
            stranger = own_pki.ca.issue_cert("stranger.test")
            own_pki.combined.write_bytes(
                stranger.private_key_pem.bytes() + leaf.cert_chain_pems[0].bytes()
            )
            with pytest.raises(ConfigError, match="does not match the certificate"):
                reload_certificates()
            assert await peer_certificate(address, own_pki) == first
            # fixed: reload at once, no waiting for the file check
            leaf.private_key_and_cert_chain_pem.write_to_path(str(own_pki.combined))
            assert reload_certificates() == 1
            served = await peer_certificate(address, own_pki)
    assert served == ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    assert "certificate reloaded" in caplog.text


# -- HSTS, the access log -----------------------------------------------------------------------


async def test_hsts_only_when_asked(pki: Pki) -> None:
    async with running_https(pki, {"hsts": "600"}) as address:
        client = await tls_client(address, pki)
        with trio.fail_after(HANG):
            await client.send(request("/x") + request("*", "OPTIONS"))
            reply, options = await client.response(), await client.response()
    assert reply.headers["strict-transport-security"] == "max-age=600"
    assert options.headers["strict-transport-security"] == "max-age=600"
    async with running_https(pki, {"hsts": ""}) as address:
        client = await tls_client(address, pki)
        with trio.fail_after(HANG):
            await client.send(request("/x"))
            reply = await client.response()
    assert reply.headers["strict-transport-security"] == f"max-age={HSTS_DEFAULT}"
    async with running_https(pki) as address:
        client = await tls_client(address, pki)
        with trio.fail_after(HANG):
            await client.send(request("/x"))
            reply = await client.response()
    assert "strict-transport-security" not in reply.headers


async def test_access_log_over_tls(pki: Pki, tmp_path: Path) -> None:
    log_file = tmp_path / "access.log"
    async with running_https(pki, {"log": str(log_file)}) as address:
        client = await tls_client(address, pki)
        plain = await RawClient.open(address)
        with trio.fail_after(HANG):
            await client.send(request("/logged?q=1"))
            assert (await client.response()).status == 200
            await plain.send(request("/plain"))
            assert (await plain.response()).status == 400
    lines = log_file.read_text().splitlines()
    assert any('"GET /logged?q=1 HTTP/1.1" 200' in line for line in lines), lines
    assert any('"-" 400' in line for line in lines), lines


# -- client certificates --------------------------------------------------------------------------


def test_the_user_a_client_certificate_names() -> None:
    def subject(*names: str) -> dict[str, Any]:
        return {"subject": ((("organizationName", "Lab"),), *((("commonName", n),) for n in names))}

    assert certificate_user(subject("alice")) == "alice"
    assert certificate_user(None) is None
    assert certificate_user({}) is None
    assert certificate_user(subject()) is None
    assert certificate_user(subject("a", "b")) is None  # two CNs: which one?
    for unusable in ("", "anonymous", "eve:admin", "bad\nname", "del\x7f"):
        assert certificate_user(subject(unusable)) is None, unusable


async def test_client_certificates_required_and_naming_the_user(pki: Pki, tmp_path: Path) -> None:
    alice = pki.client_context()
    alice.load_cert_chain(pki.client_cert_file("alice"))
    stranger_ca = make_pki(tmp_path)
    stranger = pki.client_context()
    stranger.load_cert_chain(stranger_ca.client_cert_file("mallory"))
    log_file = tmp_path / "access.log"
    async with running_https(pki, {"ssl_ca": str(pki.ca_file), "log": str(log_file)}) as address:
        with trio.fail_after(HANG):
            for context in (pki.client_context(), stranger):  # no certificate, a foreign one
                with pytest.raises((trio.BrokenResourceError, EOFError)):
                    client = RawClient(await open_tls(address, context))  # type: ignore[arg-type]
                    await client.send(request("/refused"))  # TLS 1.3: refused after the hello
                    await client.response()
            client = RawClient(await open_tls(address, alice))  # type: ignore[arg-type]
            await client.send(request("/mine"))
            reply = await client.response()
    assert reply.json()["user"] == "alice"
    assert " alice " in log_file.read_text()


def _htdigest(path: Path, user: str, password: str) -> Path:
    digest = hashlib.md5(f"{user}:{REALM}:{password}".encode()).hexdigest()
    path.write_text(f"{user}:{REALM}:{digest}\n")
    return path


async def test_client_certificate_with_digest_the_digest_user_names_the_request(
    pki: Pki, tmp_path: Path
) -> None:
    passwords = _htdigest(tmp_path / "htdigest", "bob", "secret")
    options = {"ssl_ca": str(pki.ca_file), "auth_file": str(passwords), "auth_domain": REALM}
    alice = pki.client_context()
    alice.load_cert_chain(pki.client_cert_file("alice"))
    async with running_https(pki, options, make_authenticator=make_authenticator) as address:
        base = f"https://localhost:{address[1]}"
        async with httpx.AsyncClient(verify=alice, base_url=base, timeout=HANG) as http:
            anonymous = await http.get("/who")
            signed = await http.get("/who", auth=httpx.DigestAuth("bob", "secret"))
    assert anonymous.status_code == 401  # the certificate alone is not enough here
    assert signed.status_code == 200 and signed.json()["user"] == "bob"


async def test_client_certificate_with_a_token_the_token_user_names_the_request(
    pki: Pki, nursery: trio.Nursery
) -> None:
    server = Server()
    server.register("/", Text("for bob"), name="status")
    server.restrict("/status", "visible=bob")
    token = server.create_token("bob", lifetime=600)
    spec = f"https:127.0.0.1:0?ssl_cert={pki.combined}&ssl_ca={pki.ca_file}"
    await nursery.start(server.serve, spec)
    alice = pki.client_context()
    alice.load_cert_chain(pki.client_cert_file("alice"))
    url = f"https://localhost:{server.engines[0][1][1]}/status/root.json"
    async with httpx.AsyncClient(verify=alice, timeout=HANG) as http:
        as_alice = await http.get(url)
        as_bob = await http.get(url, headers={"Authorization": f"Bearer {token}"})
    assert as_alice.status_code == 404  # the certificate's user: bob's item is not hers
    assert as_bob.status_code == 200 and as_bob.json()["value"] == "for bob"


# -- real clients against a whole server ----------------------------------------------------------


@pytest.fixture
async def both(nursery: trio.Nursery, pki: Pki, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """One server with an http and an https engine; a file location, a websocket handler."""
    server = Server(top_name="tls", readonly=False)
    server.register("sub", Sample())
    server.register("/", Text("hello <tls>"), name="status")
    server.register("/", Recorder("rec"))
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "page.html").write_text("<p>a file</p>")
    server.add_location("files/", tmp_path / "files")
    await nursery.start(server.serve, f"http:127.0.0.1:0;https:127.0.0.1:0?ssl_cert={pki.combined}")
    (_, http_address), (_, https_address) = server.engines
    yield {
        "server": server,
        "http": f"http://127.0.0.1:{http_address[1]}",
        "https": f"https://localhost:{https_address[1]}",
        "port": https_address[1],
    }


SAMPLE = "/Objects/sub/sample"
#: (path, body: POST when given, the status both engines answer)
SAME: list[tuple[str, bytes | None, int]] = [
    ("/h.json", None, 200),
    ("/h.xml", None, 200),
    (f"{SAMPLE}/root.json", None, 200),
    (f"{SAMPLE}/root.json.gz?compact=3", None, 200),
    (f"{SAMPLE}/root.xml", None, 200),
    (f"{SAMPLE}/item.json", None, 200),
    (f"{SAMPLE}/exe.json?method=describe", None, 200),
    ("/status/root.json", None, 200),
    ("/multi.json?number=2", b"Objects/sub/sample/root.json\nstatus/root.json\n", 200),
    ("/files/page.html", None, 200),
    (f"{SAMPLE}/_private/root.json", None, 404),
    ("/missing/root.json", None, 404),
]


async def test_every_request_kind_answers_the_same_over_https_and_http(
    both: dict[str, Any], pki: Pki
) -> None:
    async with (
        httpx.AsyncClient(base_url=both["http"], timeout=HANG) as http,
        httpx.AsyncClient(base_url=both["https"], verify=pki.client_context(), timeout=HANG) as tls,
    ):
        for path, body, status in SAME:
            plain, secure = [
                await (c.get(path) if body is None else c.post(path, content=body))
                for c in (http, tls)
            ]
            assert secure.status_code == plain.status_code == status, path
            assert secure.content == plain.content, path
            assert secure.headers.get("content-type") == plain.headers.get("content-type"), path


async def test_long_poll_over_https(both: dict[str, Any], pki: Pki) -> None:
    lp = "/rec/root.longpoll"
    async with httpx.AsyncClient(
        base_url=both["https"], verify=pki.client_context(), timeout=HANG
    ) as http:
        conn_id = int((await http.get(f"{lp}?txt_connect")).text)
        sent = await http.post(f"{lp}?connection={conn_id}", content=b"over tls")
        assert (sent.status_code, sent.text) == (200, "<<nope>>")
        echoed = await http.get(f"{lp}?connection={conn_id}&dummy")
        assert echoed.text == "over tls"
        assert (await http.get(f"{lp}?connection={conn_id}&close")).text == "OK"


async def test_wss_with_trio_websocket(both: dict[str, Any], pki: Pki) -> None:
    url = f"wss://localhost:{both['port']}/rec/root.websocket"
    with trio.fail_after(HANG):
        async with trio_websocket.open_websocket_url(url, ssl_context=pki.client_context()) as ws:
            await ws.send_message("text over wss ü")
            await ws.send_message(b"\x00\xffbinary")
            assert await ws.get_message() == "text over wss ü"
            assert await ws.get_message() == b"\x00\xffbinary"


async def test_curl_with_cacert(both: dict[str, Any], pki: Pki) -> None:
    curl = require_tool("curl")
    url = f"{both['https']}{SAMPLE}/root.json"
    done = await trio.run_process(
        [curl, "-sS", "--fail", "--compressed", "--cacert", str(pki.ca_file), url],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["name"] == "sample"
    untrusted = await trio.run_process(
        [curl, "-sS", url], capture_stdout=True, capture_stderr=True, check=False
    )
    assert untrusted.returncode == 60  # curl: the peer's certificate cannot be verified


async def test_requests_library_verifies_with_the_ca(both: dict[str, Any], pki: Pki) -> None:
    import requests

    def fetch() -> Any:
        reply = requests.get(
            f"{both['https']}{SAMPLE}/root.json.gz", verify=str(pki.ca_file), timeout=HANG
        )
        return reply.status_code, reply.headers.get("content-encoding"), reply.content

    status, encoding, body = await trio.to_thread.run_sync(fetch)
    # requests undoes the gzip it was given as Content-Encoding; otherwise it is the file
    data = body if encoding == "gzip" else gzip.decompress(body)
    assert status == 200 and json.loads(data)["name"] == "sample"


# -- an audit ------------------------------------------------------------------------------------


async def test_testssl_reports_no_high_or_critical_finding(
    pki: Pki, tmp_path: Path, nursery: trio.Nursery
) -> None:
    """testssl.sh audits protocols, ciphers, known attacks, HSTS and the certificate (one
    issued the way a public CA would: a CA scanners are told to trust, 90 days, a CRL URL).
    Slow (a minute or more): one scan, every finding checked."""
    testssl = require_tool("testssl", "testssl.sh")
    certificate = audit_grade_certificate(pki, "audited")
    server = Server()
    server.register("/", Text("audited"), name="status")
    await nursery.start(
        server.serve, f"https:127.0.0.1:0?ssl_cert={certificate}&hsts={HSTS_DEFAULT}"
    )
    port = server.engines[0][1][1]
    report = tmp_path / "testssl.json"
    env = {**os.environ, "TERM": "dumb"}
    with trio.fail_after(600):
        done = await trio.run_process(
            [
                testssl,
                "--quiet",
                "--color",
                "0",
                "--warnings",
                "off",
                "--add-ca",
                str(pki.ca_file),
                "--jsonfile",
                str(report),
                f"127.0.0.1:{port}",
            ],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env=env,
        )
    assert report.exists(), done.stdout.decode(errors="replace")[-2000:]
    findings = json.loads(report.read_text())
    by_id = {f["id"]: f for f in findings}
    bad = [f"{f['id']}: {f['finding']}" for f in findings if f["severity"] in ("HIGH", "CRITICAL")]
    assert bad == [], bad
    assert "scanProblem" not in by_id, by_id.get("scanProblem")
    assert by_id["TLS1_3"]["severity"] == "OK" and by_id["TLS1_1"]["finding"] == "not offered"
    # testssl reports HTTP/2 apart (ALPN_HTTP2) from the other protocols ALPN offers (ALPN)
    alpn = {k: v["finding"] for k, v in by_id.items() if k.startswith("ALPN")}
    assert alpn.get("ALPN_HTTP2") == "h2" and "http/1.1" in alpn.get("ALPN", ""), alpn
    assert by_id["HSTS_time"]["severity"] == "OK"
