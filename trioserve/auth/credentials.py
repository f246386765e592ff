"""Accounts for digest authentication: hashing, the file format, and an in-memory store.

Pure functions and data, no I/O (the file is read by :mod:`trioserve.auth.htdigest`); the
line format is described there.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from trioserve.policy import ANONYMOUS

__all__ = [
    "ALGORITHMS",
    "CredentialStore",
    "Credentials",
    "format_entries",
    "ha1",
    "hash_hex",
    "parse_htdigest",
    "userhash",
]

log = logging.getLogger("trioserve.auth")

#: the algorithms we know, in the order a challenge offers them
ALGORITHMS = ("SHA-256", "MD5")
_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda data: hashlib.md5(data).hexdigest(),
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
}
_HEX = {"MD5": re.compile(r"[0-9a-fA-F]{32}\Z"), "SHA-256": re.compile(r"[0-9a-fA-F]{64}\Z")}
_BIND_RE = re.compile(r"[0-9a-f]{16}\Z")


def hash_hex(algorithm: str, text: str) -> str:
    """H(text) for a digest algorithm name (``MD5`` or ``SHA-256``), UTF-8 encoded."""
    return _HASHES[algorithm](text.encode("utf-8"))


def ha1(algorithm: str, user: str, realm: str, password: str) -> str:
    """HA1 = H(user:realm:password), what a password file stores."""
    return hash_hex(algorithm, f"{user}:{realm}:{password}")


def userhash(algorithm: str, user: str, realm: str) -> str:
    """RFC 7616 §3.4.4: the hashed user name a client sends with ``userhash=true``."""
    return hash_hex(algorithm, f"{user}:{realm}")


def _binding(md5_ha1: str) -> str:
    return hashlib.sha256(b"trioserve-bind:" + md5_ha1.lower().encode()).hexdigest()[:16]


class CredentialStore(Protocol):
    """What the digest verifier needs from a password source."""

    def ha1(self, realm: str, user: str, algorithm: str) -> str | None: ...

    def user_for_hash(self, realm: str, algorithm: str, hashed: str) -> str | None: ...

    def algorithms(self, realm: str) -> frozenset[str]: ...


@dataclass(slots=True)
class Credentials:
    """An immutable-by-convention snapshot of accounts: {(realm, user, algorithm): HA1}."""

    entries: dict[tuple[str, str, str], str] = field(default_factory=dict)
    _by_hash: dict[tuple[str, str, str], str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for realm, user, _alg in self.entries:
            for alg in ALGORITHMS:
                self._by_hash[(realm, alg, userhash(alg, user, realm))] = user

    @classmethod
    def from_passwords(
        cls, realm: str, passwords: dict[str, str], algorithms: Sequence[str] = ALGORITHMS
    ) -> Credentials:
        """Build accounts in memory (tests, programs that keep passwords elsewhere)."""
        return cls(
            {
                (realm, user, alg): ha1(alg, user, realm, pw)
                for user, pw in passwords.items()
                for alg in algorithms
            }
        )

    def ha1(self, realm: str, user: str, algorithm: str) -> str | None:
        return self.entries.get((realm, user, algorithm))

    def user_for_hash(self, realm: str, algorithm: str, hashed: str) -> str | None:
        user = self._by_hash.get((realm, algorithm, hashed.lower()))
        if user is None or (realm, user, algorithm) not in self.entries:
            return None
        return user

    def algorithms(self, realm: str) -> frozenset[str]:
        return frozenset(alg for (r, _u, alg) in self.entries if r == realm)

    def users(self, realm: str) -> set[str]:
        return {u for (r, u, _a) in self.entries if r == realm}


def _parse_line(line: str) -> tuple[str, str, str, str, str | None] | str:
    """(user, realm, algorithm, HA1, binding) or the reason the line is bad."""
    fields = line.split(":")
    if len(fields) == 3:
        user, realm, digest = fields
        algorithm = "MD5" if len(digest) == 32 else "SHA-256"
        binding = None
    elif len(fields) in (4, 5):
        user, realm, algorithm, digest = fields[:4]
        binding = fields[4] if len(fields) == 5 else None
        if algorithm not in ("SHA-256", "MD5"):
            return "unknown algorithm"
        if binding is not None and not _BIND_RE.match(binding):
            return "bad binding field"
    else:
        return "expected user:realm:HA1 or user:realm:SHA-256:HA1[:binding]"
    if not user or not realm:
        return "empty user or realm"
    if not _HEX[algorithm].match(digest):
        return f"HA1 is not a hex {algorithm} digest"
    if user == ANONYMOUS:
        return f"the user name {ANONYMOUS!r} is reserved for unauthenticated requests"
    return user, realm, algorithm, digest.lower(), binding


def parse_htdigest(text: str, source: str = "<htdigest>") -> Credentials:
    """Parse a whole file; bad lines are logged by number and skipped, never fatal."""
    entries: dict[tuple[str, str, str], str] = {}
    bindings: dict[tuple[str, str], tuple[str, int]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith(":#"):
            continue
        parsed = _parse_line(line)
        if isinstance(parsed, str):
            log.warning("%s line %d ignored: %s", source, number, parsed)
            continue
        user, realm, algorithm, digest, binding = parsed
        key = (realm, user, algorithm)
        if key in entries:
            log.warning(
                "%s line %d ignored: a second %s entry for user %r in realm %r "
                "(the first one wins)",
                source,
                number,
                algorithm,
                user,
                realm,
            )
            continue
        entries[key] = digest
        if binding is not None:
            bindings[(realm, user)] = (binding, number)
    for (realm, user), (binding, number) in bindings.items():
        md5 = entries.get((realm, user, "MD5"))
        if md5 is None or _binding(md5) != binding:
            del entries[(realm, user, "SHA-256")]
            log.warning(
                "%s line %d ignored: the SHA-256 entry of user %r in realm %r does not belong "
                "to their MD5 entry (password changed with Apache's htdigest, or MD5 line "
                "removed?); run 'trioserve htdigest' for this user again",
                source,
                number,
                user,
                realm,
            )
    return Credentials(entries)


def format_entries(user: str, realm: str, password: str, *, sha256: bool = True) -> list[str]:
    """The lines :func:`main` writes for one account: MD5 first (for Apache), then SHA-256."""
    md5 = ha1("MD5", user, realm, password)
    lines = [f"{user}:{realm}:{md5}"]
    if sha256:
        lines.append(f"{user}:{realm}:SHA-256:{ha1('SHA-256', user, realm, password)}:")
        lines[-1] += _binding(md5)
    return lines
