"""Helpers for the https tests (no tests here): a throw-away CA (``trustme``), certificate
files as the engine reads them, clients that trust the CA, and a real https engine task.

Without ``trustme`` the tests skip loudly, and fail under ``CI=true`` (as
:func:`tests.conftest.require_tool` does for tools).
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from tests.conftest import require_module
from tests.engines.test_http_support import SERVER, RawClient, close_clients, echo
from trioserve.call import Call, Response
from trioserve.engines.base import EngineContext
from trioserve.engines.https import serve_https
from trioserve.spec import EngineSpec


def require_trustme() -> Any:
    """The ``trustme`` module; skip loudly without it, fail under ``CI=true``."""
    return require_module("trustme")


@dataclass
class Pki:
    """A test CA and the files of one server certificate it issued.

    ``combined`` holds the chain and the key (ROOT's ``ssl_cert``), ``chain`` and ``key``
    the same apart, ``ca_file`` the CA certificate (what clients trust, and ``ssl_ca``)."""

    ca: Any
    directory: Path
    combined: Path
    chain: Path
    key: Path
    ca_file: Path

    def client_context(self, **settings: Any) -> ssl.SSLContext:
        """A client context trusting the test CA; ``settings`` set its attributes."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        for name, value in settings.items():
            setattr(context, name, value)
        return context

    def server_files(self, stem: str) -> tuple[Path, Path, Path]:
        """A new server certificate for localhost and 127.0.0.1, written as ``stem.pem``
        (chain and key), ``stem.crt`` (chain) and ``stem.key``."""
        return write_server_files(self.ca, self.directory, stem)

    def client_cert_file(self, common_name: str) -> Path:
        """A client certificate (and key) naming ``common_name``, in one PEM."""
        leaf = self.ca.issue_cert(f"{common_name}@clients.test", common_name=common_name)
        path = self.directory / f"client-{common_name}.pem"
        leaf.private_key_and_cert_chain_pem.write_to_path(str(path))
        return path


def write_server_files(ca: Any, directory: Path, stem: str) -> tuple[Path, Path, Path]:
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    combined = directory / f"{stem}.pem"
    chain = directory / f"{stem}.crt"
    key = directory / f"{stem}.key"
    leaf.private_key_and_cert_chain_pem.write_to_path(str(combined))
    chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    return combined, chain, key


def make_pki(directory: Path) -> Pki:
    """A fresh CA in ``directory``, and one server certificate (``server.*``)."""
    trustme = require_trustme()
    ca = trustme.CA()
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    combined, chain, key = write_server_files(ca, directory, "server")
    return Pki(ca, directory, combined, chain, key, ca_file)


def audit_grade_certificate(pki: Pki, stem: str) -> Path:
    """A server certificate as a public CA issues one, for scanners that judge the
    certificate too (testssl.sh): RSA 2048, valid 90 days, with a CRL distribution point
    (nobody serves it: scanners only look for it). Written as ``stem.pem`` with its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_key = serialization.load_pem_private_key(pki.ca.private_key_pem.bytes(), None)
    ca_cert = x509.load_pem_x509_certificate(pki.ca.cert_pem.bytes())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=True,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier("http://127.0.0.1:9/ca.crl")],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    path = pki.directory / f"{stem}.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    return path


@asynccontextmanager
async def running_https(
    pki: Pki,
    options: dict[str, str] | None = None,
    *,
    handle: Callable[[Call], Awaitable[Response]] = echo,
    **context: object,
) -> AsyncIterator[tuple[str, int]]:
    """Run the https engine (certificate ``pki.combined`` unless ``options`` name one) on an
    ephemeral loopback port and yield its address."""
    merged = {"ssl_cert": str(pki.combined), **(options or {})}
    spec = EngineSpec(kind="https", port=0, options=merged, text="https:0")
    ctx = EngineContext(handle=handle, server_header=SERVER, **context)  # type: ignore[arg-type]
    try:
        async with trio.open_nursery() as nursery:
            address = await nursery.start(serve_https, ctx, spec)
            yield address
            nursery.cancel_scope.cancel()
    finally:
        while _opened:
            await trio.aclose_forcefully(_opened.pop())
        await close_clients()  # the plain ones (test_http_support.connect)


#: TLS streams opened by tests, closed when the server context ends (no ResourceWarnings)
_opened: list[trio.abc.AsyncResource] = []


async def open_tls(
    address: tuple[str, int],
    context: ssl.SSLContext,
    server_hostname: str = "localhost",
) -> trio.SSLStream[trio.SocketStream]:
    """A TLS connection to ``address``, handshake done."""
    raw = await trio.open_tcp_stream(*address)
    _opened.append(raw)
    stream = trio.SSLStream(raw, context, server_hostname=server_hostname)
    await stream.do_handshake()
    return stream


async def tls_client(address: tuple[str, int], pki: Pki, **settings: Any) -> RawClient:
    """The engine tests' raw client (bytes out, parsed replies in) over TLS."""
    stream = await open_tls(address, pki.client_context(**settings))
    return RawClient(stream)  # type: ignore[arg-type]
