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

Parsing and hashing live in :mod:`trioserve.auth.credentials` (pure); :class:`PasswordFile`
is the only code that touches the disk, through two injectable
callables, and re-reads the file whenever its size, mtime or inode changes.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Sequence

from trioserve.auth.credentials import (
    ALGORITHMS,
    Credentials,
    CredentialStore,
    format_entries,
    ha1,
    hash_hex,
    parse_htdigest,
    userhash,
)
from trioserve.policy import ANONYMOUS

__all__ = [
    "ALGORITHMS",
    "CredentialStore",
    "Credentials",
    "PasswordFile",
    "format_entries",
    "ha1",
    "hash_hex",
    "main",
    "parse_htdigest",
    "userhash",
]

log = logging.getLogger("trioserve.auth")


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
