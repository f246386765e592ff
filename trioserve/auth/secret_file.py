"""The digest nonce secret kept in a file (engine option ``auth_secret_file=``).

Without it every start makes a random secret, so the nonces browsers hold become stale at
each restart (they retry silently, one extra round trip) and processes behind a balancer
reject each other's nonces. With it, nonces outlive a restart and are valid on every process
that reads the same file. This module is the only code that reads or writes that file; the
verifier (:mod:`trioserve.auth.digest`) only ever sees the bytes.

Rules, chosen for someone who treats the file like a key:

* **Missing: created**, with 64 random hex digits and mode 0600 in a directory that must
  exist. The content is written to a temporary file first and then hard-linked into place,
  which fails if the name exists: processes started together all end up reading the one
  secret that won, never a half-written file.
* **Present: read**, symlinks followed (mounted secrets are symlinks). It must be a regular
  file of at most 4096 bytes holding at least 32 once surrounding whitespace is stripped (so
  a copy made with or without the trailing newline is the same secret); anything else stops
  the server at start.
* **Permissions**: a world-writable file is refused (anyone could swap the secret); one that
  the group may read or write, or others may read, is accepted with a warning, since a group
  of service accounts sharing one secret, or a mounted secret, is a legitimate setup.
* Messages name the path, never the content.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import tempfile

__all__ = ["MAX_SECRET_BYTES", "MIN_SECRET_BYTES", "SecretFileError", "load_secret_file"]

log = logging.getLogger("trioserve.auth")

#: 32 bytes: 128 bits as hex digits, or 256 bits of raw bytes
MIN_SECRET_BYTES = 32
#: more than this is not a key file: most likely the wrong path
MAX_SECRET_BYTES = 4096


class SecretFileError(ValueError):
    """The secret file cannot be used; the message names the path and the reason."""


def load_secret_file(path: str | os.PathLike[str]) -> bytes:
    """The secret held in ``path``, creating the file first if it does not exist."""
    path = os.fspath(path)
    if not os.path.lexists(path) and _create(path):
        log.info("created the secret file %s (mode 0600)", path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise SecretFileError(f"secret file {path!r}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)  # of the file opened, not of whatever the name points to later
        if not stat.S_ISREG(st.st_mode):
            raise SecretFileError(f"secret file {path!r} is not a regular file")
        if st.st_mode & stat.S_IWOTH:
            raise SecretFileError(
                f"secret file {path!r} is writable by everyone: chmod 600 it and keep it "
                "like a private key"
            )
        if st.st_size > MAX_SECRET_BYTES:
            raise SecretFileError(
                f"secret file {path!r} is larger than {MAX_SECRET_BYTES} bytes: "
                "is it the right file?"
            )
        raw = b""
        while len(raw) <= MAX_SECRET_BYTES and (chunk := os.read(fd, MAX_SECRET_BYTES)):
            raw += chunk
    finally:
        os.close(fd)
    data = raw.strip()
    if st.st_mode & 0o077:
        log.warning(
            "secret file %s is accessible to group or others (mode %04o); 0600 is safer",
            path,
            stat.S_IMODE(st.st_mode),
        )
    if len(data) < MIN_SECRET_BYTES:
        raise SecretFileError(
            f"secret file {path!r} holds fewer than {MIN_SECRET_BYTES} bytes; remove it to have "
            "one made, or fill it with e.g. 'openssl rand -hex 32'"
        )
    return data


def _create(path: str) -> bool:
    """Write a new secret to ``path`` unless another process got there first (then False)."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".trioserve-secret-", dir=directory)  # mode 0600
    except OSError as exc:
        raise SecretFileError(f"secret file {path!r} cannot be created: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:
            # a file system without hard links: exclusive create, a shorter race window
            return _create_exclusive(path)
        return True
    finally:
        os.unlink(tmp)


def _create_exclusive(path: str) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        raise SecretFileError(f"secret file {path!r} cannot be created: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(32) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return True
