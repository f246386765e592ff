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


def _write_atomically(path: str, text: str, mode: int | None = None) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    if mode is None:
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


def _has_terminal() -> bool:
    """Whether getpass can ask: it reads from the controlling terminal, not from stdin."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def _file_mode(text: str) -> int | None:
    """``--mode``: an octal file mode such as 0640, or ``None`` when it is not one."""
    try:
        mode = int(text, 8)
    except ValueError:
        return None
    return mode if 0 <= mode <= 0o777 else None


def _where_problem(path: str) -> str | None:
    """Why ``path`` cannot be the password file, before asking for a password."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        example = os.path.join(path, "auth.htdigest")
        return f"{path} is a directory: give the path of a file in it, e.g. {example}"
    if not os.path.isdir(directory):
        return f"the directory {directory} does not exist: create it first (mkdir -p {directory})"
    return None


def _fail(message: str) -> int:
    print(f"trioserve htdigest: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """``trioserve htdigest [-c] [--password-stdin] [--delete] [--md5-only] [--mode MODE]
    FILE REALM USER``.

    Creates or updates the account's lines (MD5 first, then SHA-256), keeping every other
    line, comment and account as it was; the file is replaced atomically, keeps its mode, and
    is created with mode 0600 unless ``--mode`` says otherwise (``--mode 0640`` and a
    ``chgrp`` let a front-end's group read it). Returns the process exit status: 0, 1 for an
    unknown account to delete, mismatched passwords or Ctrl-C, 2 for a usage error (one line
    on stderr).
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
        "--password-stdin",
        action="store_true",
        help="read the password from stdin's first line (needed without a terminal)",
    )
    parser.add_argument("--delete", action="store_true", help="remove the account")
    parser.add_argument(
        "--md5-only", action="store_true", help="write only the Apache-compatible MD5 line"
    )
    parser.add_argument(
        "--mode",
        metavar="MODE",
        help="the file's mode in octal, e.g. 0640 for a front-end's group "
        "(default: keep the file's mode; 0600 for a new file)",
    )
    args = parser.parse_args(argv)
    for kind, value in (("realm", args.realm), ("user", args.user)):
        problem = _check_name(kind, value)
        if problem:
            return _fail(problem)
    mode = None
    if args.mode is not None:
        mode = _file_mode(args.mode)
        if mode is None:
            return _fail(f"--mode {args.mode} is not an octal file mode such as 0640")
    problem = _where_problem(args.file)
    if problem:
        return _fail(problem)

    lines: list[str] = []
    if not args.create:
        try:
            with open(args.file, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            lines = []
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
            return _fail(f"cannot read {args.file}: {reason}")
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
        return _write(args.file, kept, mode)

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not _has_terminal():
            return _fail("no terminal to ask for the password: pipe it in with --password-stdin")
        try:
            password = getpass.getpass("New password: ")
            again = getpass.getpass("Re-type new password: ")
        except EOFError:
            print(file=sys.stderr)
            return _fail("no password given (end of input)")
        except KeyboardInterrupt:
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
    return _write(args.file, kept, mode)


def _write(path: str, lines: list[str], mode: int | None) -> int:
    try:
        _write_atomically(path, "".join(line + "\n" for line in lines), mode)
    except OSError as exc:
        return _fail(f"cannot write {path}: {exc.strerror or exc}")
    return 0
