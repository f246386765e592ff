"""Password files in Apache's ``htdigest`` format, plus SHA-256 lines, and the tool to write them.

Apache's format is one account per line, ``user:realm:HA1`` with HA1 = md5hex(user:realm:pw).
RFC 7616 also wants SHA-256, which needs a different HA1; we add it on a line of its own::

    admin:root:8486674942d143032d947e29d2fa1f1f
    admin:root:SHA-256:<64 hex digits HA1>:<16 hex digits binding>

* A plain 3-field line with 32 hex digits is MD5 (what ``htdigest`` writes); with 64 hex
  digits it is SHA-256 (the convention lighttpd uses), so files from either tool work.
* The 5-field form names the algorithm. Apache's module and tool read the first matching
  ``user:realm`` line, so :func:`main` always writes the MD5 line *first*: Apache keeps working
  from the same file, and ``htdigest`` changing a password replaces that MD5 line.
* The binding is ``sha256("trioserve-bind:" + MD5 HA1)[:16]``. If someone changes the
  password with Apache's ``htdigest``, the MD5 line changes and the binding no longer
  matches, so the stale SHA-256 line is ignored (with a warning) instead of letting the old
  password in. A SHA-256 line without binding stands alone (for SHA-256-only accounts).
* ``#`` comments (and civetweb's ``:#``) and blank lines are ignored; a bad line is logged by
  its number -- never its content, which holds a hash -- and skipped. The first line for a
  (user, realm, algorithm) wins, as in Apache. The user name ``anonymous`` is reserved for
  unauthenticated requests (see :mod:`trioserve.policy`) and refused.

:class:`PasswordFile` is the only code here that touches the disk, through two injectable
callables, and re-reads the file whenever its size, mtime or inode changes.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from trioserve.policy import ANONYMOUS

__all__ = [
    "ALGORITHMS",
    "CredentialStore",
    "Credentials",
    "PasswordFile",
    "format_entries",
    "ha1",
    "main",
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


def _stat_signature(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


class PasswordFile:
    """An htdigest file, re-read whenever it changes on disk.

    ``stat`` returns a change signature (or ``None`` when the file is missing) and ``read``
    the text; both are injectable so tests need no real clock or sleeps. A file that
    disappears fails closed: no account matches until it is back.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        stat: Callable[[str], object | None] = _stat_signature,
        read: Callable[[str], str] = _read_text,
    ) -> None:
        self.path = os.fspath(path)
        self._stat = stat
        self._read = read
        self._signature: object | None = None
        self._creds = Credentials()
        self._missing_logged = False
        self.reloads = 0
        self.refresh()

    def refresh(self) -> Credentials:
        """Return the current accounts, re-reading the file if its signature changed."""
        try:
            signature = self._stat(self.path)
        except OSError as exc:
            signature = None
            log.warning("password file %s cannot be examined: %s", self.path, exc.strerror)
        if signature is None:
            if not self._missing_logged:
                log.warning("password file %s is missing: nobody can log in", self.path)
                self._missing_logged = True
            self._signature = None
            self._creds = Credentials()
            return self._creds
        self._missing_logged = False
        if signature != self._signature:
            try:
                text = self._read(self.path)
            except OSError as exc:
                log.warning("password file %s cannot be read: %s", self.path, exc.strerror)
                self._signature = None
                self._creds = Credentials()
                return self._creds
            self._creds = parse_htdigest(text, self.path)
            self._signature = signature
            self.reloads += 1
        return self._creds

    @property
    def exists(self) -> bool:
        return self._signature is not None

    def ha1(self, realm: str, user: str, algorithm: str) -> str | None:
        return self.refresh().ha1(realm, user, algorithm)

    def user_for_hash(self, realm: str, algorithm: str, hashed: str) -> str | None:
        return self.refresh().user_for_hash(realm, algorithm, hashed)

    def algorithms(self, realm: str) -> frozenset[str]:
        return self.refresh().algorithms(realm)


# ---- the command ----------------------------------------------------------------------------


def format_entries(user: str, realm: str, password: str, *, sha256: bool = True) -> list[str]:
    """The lines :func:`main` writes for one account: MD5 first (for Apache), then SHA-256."""
    md5 = ha1("MD5", user, realm, password)
    lines = [f"{user}:{realm}:{md5}"]
    if sha256:
        lines.append(f"{user}:{realm}:SHA-256:{ha1('SHA-256', user, realm, password)}:")
        lines[-1] += _binding(md5)
    return lines


def _is_entry_of(line: str, user: str, realm: str) -> bool:
    fields = line.strip().split(":")
    return len(fields) >= 3 and fields[0] == user and fields[1] == realm


def _check_name(kind: str, value: str) -> str | None:
    if not value:
        return f"{kind} must not be empty"
    if ":" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return f"{kind} must not contain ':' or control characters"
    if kind == "user" and value == ANONYMOUS:
        return f"the user name {ANONYMOUS!r} is reserved for unauthenticated requests"
    return None


def _write_atomically(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        mode = 0o600
    fd, tmp = tempfile.mkstemp(prefix=".htdigest-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), mode)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """``trioserve htdigest [-c] [--password-stdin] [--delete] [--md5-only] FILE REALM USER``.

    Creates or updates the account's lines (MD5 first, then SHA-256), keeping every other
    line, comment and account as it was; the file is replaced atomically and created with
    mode 0600. Returns the process exit status.
    """
    parser = argparse.ArgumentParser(
        prog="trioserve htdigest",
        description="Create or update an account in an htdigest password file "
        "(Apache format, plus a SHA-256 line).",
    )
    parser.add_argument("file")
    parser.add_argument("realm", help="the realm, i.e. the engine's auth_domain")
    parser.add_argument("user")
    parser.add_argument("-c", "--create", action="store_true", help="start a new file")
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )
    parser.add_argument("--delete", action="store_true", help="remove the account")
    parser.add_argument(
        "--md5-only", action="store_true", help="write only the Apache-compatible MD5 line"
    )
    args = parser.parse_args(argv)
    for kind, value in (("realm", args.realm), ("user", args.user)):
        problem = _check_name(kind, value)
        if problem:
            print(f"trioserve htdigest: {problem}", file=sys.stderr)
            return 2

    lines: list[str] = []
    if not args.create:
        try:
            with open(args.file, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            lines = []
    position = next(
        (i for i, line in enumerate(lines) if _is_entry_of(line, args.user, args.realm)), None
    )
    kept = [line for line in lines if not _is_entry_of(line, args.user, args.realm)]
    if args.delete:
        if position is None:
            print(
                f"trioserve htdigest: no user {args.user!r} in realm {args.realm!r}",
                file=sys.stderr,
            )
            return 1
        _write_atomically(args.file, "".join(line + "\n" for line in kept))
        return 0

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        try:
            password = getpass.getpass("New password: ")
            again = getpass.getpass("Re-type new password: ")
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
            return 1
        if password != again:
            print("trioserve htdigest: passwords do not match", file=sys.stderr)
            return 1
    new = format_entries(args.user, args.realm, password, sha256=not args.md5_only)
    if position is None:
        kept.extend(new)
    else:
        # put the account back where it was (count the kept lines before its first line)
        before = sum(
            1 for line in lines[:position] if not _is_entry_of(line, args.user, args.realm)
        )
        kept[before:before] = new
    _write_atomically(args.file, "".join(line + "\n" for line in kept))
    return 0
