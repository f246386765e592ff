"""The https engine's TLS settings: its ``SSLContext``, built from files and rebuilt when
they change, and the user a client certificate names.

No sockets and no Trio here (the engine, :mod:`.https`, wraps each connection in a
``trio.SSLStream`` with the context this module hands out), so every rule below is a plain
function or method a test can call.

* **Files, as ROOT's https engine takes them**: ``ssl_cert=FILE`` is a PEM holding the
  certificate (chain) and its private key; or ``ssl_cert=`` the chain and ``ssl_key=`` the
  key. ``ssl_ca=FILE`` (PEM, one or more CA certificates) makes client certificates
  *required* and verified against those CAs only -- never the system's trust store, which
  would let any publicly issued certificate in.
* **Modern defaults**: TLS 1.2 and 1.3 only; TLS 1.2 suites with forward secrecy (ECDHE) and
  AEAD ciphers only (AES-GCM, ChaCha20-Poly1305); no compression, no renegotiation; ALPN
  offers ``http/1.1`` (``h2`` joins once there is an HTTP/2 engine).
* **Clear startup errors**: a missing or unreadable file, a file without a certificate or
  without a key, an encrypted key (a server cannot ask for a passphrase), a key that does not
  match the certificate: one :class:`~trioserve.errors.SpecError` naming the engine and the
  file, raised before anything listens.
* **Replaced without a restart**: :meth:`Certificates.current` (called for each new
  connection) looks at the files at most once per :data:`CHECK_INTERVAL` and rebuilds the
  context when one changed (inode, size or mtime: an edit in place and an atomic rename
  both count). A file caught half-written is logged and the certificate in use stays; the
  next change is tried again. :meth:`Certificates.reload` re-reads at once and raises if the
  new files cannot be used. Connections already open keep the context they started with.
"""

from __future__ import annotations

import logging
import os
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from trioserve.errors import SpecError
from trioserve.policy import ANONYMOUS
from trioserve.spec import EngineSpec
from trioserve.startup import engine_name

__all__ = [
    "ALPN_HTTP1",
    "ALPN_PROTOCOLS",
    "CHECK_INTERVAL",
    "CIPHERS",
    "Certificates",
    "TlsFiles",
    "build_context",
    "certificate_user",
]

log = logging.getLogger("trioserve.https")

#: seconds between two looks at the certificate files (on new connections only)
CHECK_INTERVAL = 1.0
#: TLS 1.2 suites: ECDHE key exchange, AEAD ciphers (TLS 1.3 suites are all of this kind)
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL"
#: what ALPN offers; ``h2`` is added when an HTTP/2 engine exists
#: what ALPN offers, in order of preference: HTTP/2 where the engine serves it (``http2=0``
#: offers HTTP/1.1 alone, :data:`ALPN_HTTP1`)
ALPN_PROTOCOLS = ("h2", "http/1.1")
ALPN_HTTP1 = ("http/1.1",)

#: (inode, size, mtime in ns) of each file; None for a file that cannot be looked at
_Stamp = tuple[int, int, int] | None


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The files one https engine reads: ``cert`` (chain, and the key unless ``key`` is
    given), ``key``, and ``ca`` (client certificates required)."""

    cert: str
    key: str | None = None
    ca: str | None = None

    @classmethod
    def from_spec(cls, spec: EngineSpec) -> TlsFiles:
        options = spec.options
        cert = options.get("ssl_cert") or ""
        if not cert:
            raise SpecError(
                f"{engine_name(spec)}: https needs ssl_cert=FILE (a PEM holding the "
                "certificate and its key, or the certificate with ssl_key=FILE)"
            )
        for name in ("ssl_key", "ssl_ca"):
            if name in options and not options[name]:
                raise SpecError(f"{engine_name(spec)}: {name}= names no file")
        return cls(cert=cert, key=options.get("ssl_key") or None, ca=options.get("ssl_ca") or None)

    def paths(self) -> tuple[str, ...]:
        return tuple(path for path in (self.cert, self.key, self.ca) if path is not None)


def _read(where: str, what: str, path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError as exc:
        raise SpecError(f"{where}: cannot read the {what} {path}: {exc.strerror or exc}") from exc


def _no_passphrase() -> str:
    # load_cert_chain would otherwise ask for a passphrase on the terminal
    raise SpecError("the key is encrypted")


def build_context(
    files: TlsFiles, where: str = "https engine", alpn: tuple[str, ...] = ALPN_PROTOCOLS
) -> ssl.SSLContext:
    """The server context for ``files``; :class:`SpecError` naming the file if they cannot
    be used (see the module docstring). ``where`` starts each message (the engine's name);
    ``alpn`` is what ALPN offers, in order of preference."""
    cert_text = _read(where, "certificate file (ssl_cert)", files.cert)
    if "-----BEGIN CERTIFICATE-----" not in cert_text:
        raise SpecError(f"{where}: {files.cert} (ssl_cert) holds no PEM certificate")
    key_path, key_what = (
        (files.key, "key file (ssl_key)") if files.key else (files.cert, "ssl_cert file")
    )
    key_text = cert_text if files.key is None else _read(where, key_what, key_path)
    if "PRIVATE KEY-----" not in key_text:
        hint = "" if files.key else ": add the key to it, or give ssl_key=FILE"
        raise SpecError(f"{where}: {key_path} ({key_what}) holds no PEM private key{hint}")
    if "BEGIN ENCRYPTED PRIVATE KEY" in key_text or "Proc-Type: 4,ENCRYPTED" in key_text:
        raise SpecError(
            f"{where}: the private key in {key_path} is encrypted; the server cannot ask for "
            "a passphrase: decrypt it (openssl pkey -in KEY -out KEY.plain) and protect the "
            "file with its mode instead"
        )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.set_alpn_protocols(list(alpn))
    try:
        context.load_cert_chain(files.cert, files.key, password=_no_passphrase)
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise SpecError(
                f"{where}: the private key in {key_path} does not match the certificate in "
                f"{files.cert}"
            ) from exc
        raise SpecError(
            f"{where}: cannot use the certificate {files.cert} with the key {key_path}: "
            f"{exc.reason or exc}"
        ) from exc
    except OSError as exc:  # the file went away between the read above and this one
        raise SpecError(f"{where}: cannot read {files.cert}: {exc.strerror or exc}") from exc
    if files.ca is not None:
        ca_text = _read(where, "client CA file (ssl_ca)", files.ca)
        if "-----BEGIN CERTIFICATE-----" not in ca_text:
            raise SpecError(f"{where}: {files.ca} (ssl_ca) holds no PEM certificate")
        try:
            context.load_verify_locations(cadata=ca_text)
        except ssl.SSLError as exc:
            raise SpecError(
                f"{where}: cannot use the client CA file {files.ca}: {exc.reason or exc}"
            ) from exc
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _stamps(files: TlsFiles) -> tuple[_Stamp, ...]:
    stamps: list[_Stamp] = []
    for path in files.paths():
        try:
            info = os.stat(path)
        except OSError:
            stamps.append(None)
        else:
            stamps.append((info.st_ino, info.st_size, info.st_mtime_ns))
    return tuple(stamps)


class Certificates:
    """One engine's TLS context, rebuilt when its files change (see the module docstring).

    ``check_interval`` and ``clock`` exist for tests; the engine uses the defaults.
    """

    def __init__(
        self,
        files: TlsFiles,
        *,
        where: str = "https engine",
        alpn: tuple[str, ...] = ALPN_PROTOCOLS,
        check_interval: float = CHECK_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.files = files
        self.where = where
        self.alpn = alpn
        self._interval = check_interval
        self._clock = clock
        self._stamps = _stamps(files)
        self._context = build_context(files, where, alpn)
        self._next_check = clock() + check_interval
        #: contexts built after the first one (by a file change or :meth:`reload`)
        self.reloads = 0

    @classmethod
    def from_spec(cls, spec: EngineSpec) -> Certificates:
        return cls(TlsFiles.from_spec(spec), where=engine_name(spec))

    @property
    def context(self) -> ssl.SSLContext:
        """The context in use, without looking at the files."""
        return self._context

    def current(self) -> ssl.SSLContext:
        """The context for a new connection, rebuilt first if a file changed (looked at no
        more than once per ``check_interval``: a stat of each file)."""
        now = self._clock()
        if now >= self._next_check:
            self._next_check = now + self._interval
            stamps = _stamps(self.files)
            if stamps != self._stamps:
                # remembered even if the build fails: a broken state is reported once, and
                # the next change of any file is tried again
                self._stamps = stamps
                try:
                    self._replace(build_context(self.files, self.where, self.alpn))
                except SpecError as exc:
                    log.warning("%s; the certificate in use stays", exc)
        return self._context

    def reload(self) -> None:
        """Re-read the files now. :class:`SpecError` if they cannot be used; the
        certificate in use then stays."""
        stamps = _stamps(self.files)
        context = build_context(self.files, self.where, self.alpn)
        self._stamps = stamps
        self._replace(context)

    def _replace(self, context: ssl.SSLContext) -> None:
        self._context = context
        self.reloads += 1
        log.info("%s: certificate reloaded from %s", self.where, ", ".join(self.files.paths()))


def certificate_user(peer_certificate: Mapping[str, Any] | None) -> str | None:
    """The user a verified client certificate names: its subject's common name (CN).

    None without a certificate, without a CN, or with one that cannot be a user name (the
    rules of htdigest names: not empty, no ``:`` or control characters, not the reserved
    ``anonymous``), so such a certificate opens the connection but names nobody.
    """
    if not peer_certificate:
        return None
    names = [
        value
        for rdn in peer_certificate.get("subject", ())
        for key, value in rdn
        if key == "commonName"
    ]
    if len(names) != 1:
        return None
    name = str(names[0])
    if not name or name == ANONYMOUS or ":" in name:
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return None
    return name
