"""Access tokens: a signed, expiring right to act as one user within some subtrees.

A token is ``ts1.<payload>.<mac>``: the payload is compact JSON ``{"u": user, "x": expiry
(whole seconds since the epoch), "p": [path prefixes] (absent = the whole tree), "n": token
id}`` in URL-safe base64 without padding, and the MAC is HMAC-SHA256 over ``ts1.<payload>``
with a key derived from the server secret (so the digest nonces signed with the same secret
(:mod:`trioserve.auth.secret_file`) can never pass for a token, nor the reverse). URL-safe all
through, so ``?token=`` needs no escaping.

Why this shape:

* **Stateless.** Verifying needs the secret and a clock, nothing else: no table of issued
  tokens, so a token minted by ``trioserve token --secret-file F`` or by another process behind
  a balancer works on every process that reads the same secret file, and across restarts.
* **Revocation is the one state**: the ids of revoked tokens, each kept until its token would
  have expired anyway (then it is dropped: an expired token is refused for that alone). With a
  secret file the ids are appended to ``<secret file>.revoked`` (mode 0600, one ``id expiry``
  line each, under an ``flock``), read back at start, and re-read when the file changes (looked
  at no more often than every :data:`REFRESH_SECONDS`): a revocation survives a restart and
  reaches the other processes sharing the file. Without a secret file the secret is random and
  per process, so its tokens die with it and revocations need no file.
* **Constant-time checks**: the MAC is compared with :func:`hmac.compare_digest`, and judged
  before anything in the payload is believed: a tampered token is "invalid" whatever its
  expiry says. Only a genuine one can be "expired".
* **The token's user is not trusted blindly**: it is the user every restriction of the policy
  applies to, and the path prefixes only narrow that (:class:`~trioserve.policy.ScopedUser`).

:meth:`TokenAuthority.verify` is a pure function of (token, now) and the revoked set;
:meth:`TokenAuthority.authenticate` is the seam every engine reaches (through the
:class:`~trioserve.call.Authenticator` or the dispatcher): it finds a token in ``?token=``,
``Authorization: Bearer`` or the ``trioserve_token`` cookie, judges it, and removes it from the
call, so neither a handler, a websocket handler nor an error message ever sees it.

**Browsers**: a page opened with ``?token=`` (the link ``trioserve demo --token`` prints) loads
its modules with plain relative URLs, which cannot carry the token. So a valid ``?token=`` on a
request answered with an HTML page also sets the cookie ``trioserve_token`` (``HttpOnly``,
``SameSite=Strict``: other sites' pages can neither read it nor make the browser send it; its
``Max-Age`` ends with the token; ``Secure`` over the https engine), the way Jupyter turns its
first link into a session. The cookie is judged exactly like the token it holds.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import math
import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from trioserve.auth.secret_file import SecretFileError, load_secret_file
from trioserve.call import Call, Response, error_response
from trioserve.policy import ScopedUser, split_segments

__all__ = [
    "MAX_LIFETIME",
    "REFRESH_SECONDS",
    "Claims",
    "Expired",
    "Invalid",
    "Refused",
    "TokenAuthority",
    "find_token",
    "normalize_prefixes",
]

log = logging.getLogger("trioserve.auth")

_PREFIX = "ts1."
_KEY_LABEL = b"trioserve access tokens v1"
#: the longest lifetime a token may have: a bound on how long a revocation must be kept
MAX_LIFETIME = 366 * 24 * 3600
#: the most a token may hold (a URL has to carry it)
MAX_TOKEN_LENGTH = 2048
#: how often (seconds of the authority's clock) the revocation file is looked at for changes
REFRESH_SECONDS = 5.0
_NO_CACHE = "no-cache, no-store, must-revalidate, private, max-age=0"


@dataclass(frozen=True, slots=True)
class Claims:
    """What a genuine, unexpired, unrevoked token says."""

    user: str
    expires: int
    #: normalized prefixes (``"/Objects/hists"``); ``None`` for the whole tree
    paths: tuple[str, ...] | None
    token_id: str

    def principal(self) -> str:
        """The user name handlers and the policy see: narrowed to ``paths`` when given."""
        if self.paths is None:
            return self.user
        return ScopedUser(self.user, self.paths)


@dataclass(frozen=True, slots=True)
class Expired:
    """Genuine, but past its expiry."""

    reason: str = "token expired"


@dataclass(frozen=True, slots=True)
class Invalid:
    """Not ours, altered, revoked or malformed; ``reason`` is for the log only."""

    reason: str


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not text or not text.isascii() or "=" in text:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def normalize_prefixes(paths: Iterable[str] | None) -> tuple[str, ...] | None:
    """``None`` (the whole tree) or sorted, absolute ``/a/b`` prefixes without one another's
    descendants. ``"/"`` among them means the whole tree. Relative paths, ``.``/``..`` and an
    empty list are refused (:class:`ValueError`): a token must not cover something by guess."""
    if paths is None:
        return None
    if isinstance(paths, str):
        paths = [paths]
    segs: set[tuple[str, ...]] = set()
    for path in paths:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"token path {path!r} must be absolute (start with '/')")
        parts = split_segments(path)
        if any(p in (".", "..") or any(ord(c) < 32 for c in p) for p in parts):
            raise ValueError(f"token path {path!r}: '.', '..' and control characters are refused")
        segs.add(parts)
    if not segs:
        raise ValueError("a token needs at least one path (or paths=None for the whole tree)")
    if () in segs:
        return None
    kept = [s for s in segs if not any(o != s and s[: len(o)] == o for o in segs)]
    return tuple(sorted("/" + "/".join(s) for s in kept))


class TokenAuthority:
    """Mints and verifies the tokens of one server (or of every process sharing a secret).

    ``secret`` of ``None`` makes a random one, valid for this authority only.
    :meth:`use_secret_file` switches to the secret file (creating it if missing, as
    :func:`~trioserve.auth.secret_file.load_secret_file` does) and persists revocations
    beside it. ``clock`` is the time every check uses (``time.time`` by default): inject one to
    test expiry without waiting. ``on_scoped`` is called before the first token limited to
    paths is accepted, so the server can make its policy judge every request from then on.
    """

    def __init__(
        self,
        secret: bytes | None = None,
        *,
        clock: Callable[[], float] = time.time,
        on_scoped: Callable[[], None] | None = None,
    ) -> None:
        self.clock = clock
        self.on_scoped = on_scoped
        self._key = b""
        self._set_secret(secret if secret else secrets.token_bytes(32))
        self.secret_file: str | None = None
        #: token id -> expiry (whole seconds), kept until that expiry
        self.revoked: dict[str, int] = {}
        self._revocation_stamp: tuple[int, int, int] | None = None
        self._next_refresh = float("-inf")

    def _set_secret(self, secret: bytes) -> None:
        self._key = hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()

    # -- the secret file and the revocation file beside it --------------------------------------
    def use_secret_file(self, path: str | os.PathLike[str]) -> None:
        """Take the secret from ``path`` (made if missing) and read ``<path>.revoked``."""
        path = os.fspath(path)
        self._set_secret(load_secret_file(path))
        self.secret_file = path
        self.revoked = {}
        self._revocation_stamp = None
        self._refresh(self.clock(), force=True)

    @property
    def revocation_file(self) -> str | None:
        return None if self.secret_file is None else self.secret_file + ".revoked"

    def _refresh(self, now: float, *, force: bool = False) -> None:
        """Re-read the revocation file if it changed since last read (another process may
        have revoked a token); looked at no more often than every REFRESH_SECONDS."""
        path = self.revocation_file
        if path is None or (not force and now < self._next_refresh):
            return
        self._next_refresh = now + REFRESH_SECONDS
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise SecretFileError(f"revocation file {path!r}: {exc.strerror}") from None
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if stamp == self._revocation_stamp:
            return
        with _locked(path, os.O_RDONLY, fcntl.LOCK_SH) as fd:
            text = _read_all(fd).decode("ascii", errors="replace")
        self._revocation_stamp = stamp
        for number, line in enumerate(text.splitlines(), 1):
            token_id, _, expiry = line.strip().partition(" ")
            if not line.strip():
                continue
            if not token_id or not expiry.isdigit():
                # a revocation that silently does nothing is worse than a refusal to start
                raise SecretFileError(f"revocation file {path!r}, line {number}: unreadable")
            if int(expiry) > now:
                self.revoked[token_id] = int(expiry)

    def _persist(self, token_id: str, expires: int) -> None:
        path = self.revocation_file
        if path is None:
            return
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        with _locked(path, flags, fcntl.LOCK_EX) as fd:
            os.write(fd, f"{token_id} {expires}\n".encode("ascii"))
            os.fsync(fd)

    # -- minting -------------------------------------------------------------------------------
    def mint(
        self,
        user: str,
        *,
        lifetime: float,
        paths: Iterable[str] | None = None,
        now: float | None = None,
    ) -> str:
        """A token acting as ``user`` within ``paths`` (``None``: the whole tree) until
        ``now + lifetime`` (rounded up to a whole second)."""
        if not isinstance(user, str) or not user or any(ord(c) < 32 for c in user):
            raise ValueError("a token needs a user name without control characters")
        if not isinstance(lifetime, int | float) or not 0 < lifetime <= MAX_LIFETIME:
            raise ValueError(f"token lifetime must be between 0 and {MAX_LIFETIME} seconds")
        prefixes = normalize_prefixes(paths)
        start = self.clock() if now is None else now
        payload: dict[str, object] = {
            "u": user,
            "x": math.ceil(start + lifetime),
            "n": _b64encode(secrets.token_bytes(9)),
        }
        if prefixes is not None:
            payload["p"] = list(prefixes)
        body = _PREFIX + _b64encode(json.dumps(payload, separators=(",", ":")).encode())
        token = body + "." + self._mac(body)
        if len(token) > MAX_TOKEN_LENGTH:
            raise ValueError(f"token would be longer than {MAX_TOKEN_LENGTH} characters")
        return token

    def _mac(self, body: str) -> str:
        return _b64encode(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())

    # -- verifying -----------------------------------------------------------------------------
    def read(self, token: str) -> Claims | Invalid:
        """The claims of a genuine token, expired or not (signature and shape only)."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            return Invalid("malformed")
        body, dot, mac = token.rpartition(".")
        if not dot or not body.startswith(_PREFIX):
            return Invalid("malformed")
        if not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            return Invalid("bad signature")
        try:
            data = json.loads(_b64decode(body[len(_PREFIX) :]))
            user, expires, token_id = data["u"], data["x"], data["n"]
            paths = data.get("p")
        except (ValueError, KeyError, TypeError, binascii.Error):
            return Invalid("unreadable payload")
        if not (
            isinstance(user, str)
            and user
            and isinstance(expires, int)
            and isinstance(token_id, str)
            and (paths is None or (isinstance(paths, list) and paths))
        ):
            return Invalid("unreadable payload")
        try:
            prefixes = normalize_prefixes(paths)
        except ValueError:
            return Invalid("unreadable payload")
        return Claims(user, expires, prefixes, token_id)

    def verify(self, token: str, now: float) -> Claims | Expired | Invalid:
        """Judge ``token`` at time ``now``: its claims, or why it is refused."""
        claims = self.read(token)
        if isinstance(claims, Invalid):
            return claims
        if now >= claims.expires:
            return Expired()
        if claims.token_id in self.revoked:
            return Invalid("revoked")
        return claims

    def revoke(self, token: str, now: float | None = None) -> None:
        """End ``token`` before its expiry. Refuses (ValueError) a string that is not a
        genuine token of this authority; an expired one needs nothing and gets nothing."""
        when = self.clock() if now is None else now
        claims = self.read(token)
        if isinstance(claims, Invalid):
            raise ValueError("not a token of this server (wrong secret, altered or malformed)")
        self._refresh(when, force=True)
        self.revoked = {i: x for i, x in self.revoked.items() if x > when}
        if claims.expires <= when or claims.token_id in self.revoked:
            return
        self._persist(claims.token_id, claims.expires)
        self.revoked[claims.token_id] = claims.expires

    # -- the engines' seam ---------------------------------------------------------------------
    def judge(self, call: Call) -> Refused | None:
        """Judge the token a call carries, if any: ``None`` to go on (with ``call.user`` set
        and the token removed from the call when there was one), else why it is refused."""
        token = find_token(call)
        if token is None:
            return None
        now = self.clock()
        self._refresh(now)
        verdict = self.verify(token, now)
        if isinstance(verdict, Expired):
            log.info("access token from %s refused: expired", call.peer)
            return Refused("token_expired", "the access token has expired")
        if isinstance(verdict, Invalid):
            log.info("access token from %s refused: %s", call.peer, verdict.reason)
            return Refused("token_invalid", "the access token is not valid")
        if verdict.paths is not None and self.on_scoped is not None:
            self.on_scoped()
        if call.method == "GET" and _query_token(call) is not None:
            call.token_cookie = session_cookie(token, verdict.expires - int(now), call)
        strip_token(call)
        call.user = verdict.principal()
        return None

    def authenticate(self, call: Call) -> Response | None:
        """:meth:`judge`, with a refusal as the 401 response to send."""
        refused = self.judge(call)
        return None if refused is None else refused.response()


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a token was refused: ``code`` is the JSON ``error`` (``token_expired`` or
    ``token_invalid``), ``message`` a line for people; neither holds the token."""

    code: str
    message: str
    status: int = 401

    @property
    def challenge(self) -> str:
        """RFC 6750's ``WWW-Authenticate`` for a refused bearer token."""
        return (
            f'Bearer realm="trioserve", error="invalid_token", error_description="{self.message}"'
        )

    def response(self) -> Response:
        response = error_response(self.status, self.code, self.message)
        response.headers.append(("WWW-Authenticate", self.challenge))
        response.set_header("Cache-Control", _NO_CACHE)
        return response


def _is_token_param(part: str) -> bool:
    name = part.partition("=")[0]
    return unquote(name.replace("+", " ")) == "token"


#: the cookie a page opened with ``?token=`` keeps its token in (see the module docstring)
COOKIE_NAME = "trioserve_token"


def find_token(call: Call) -> str | None:
    """The token a call carries: ``Authorization: Bearer <token>`` first, else ``?token=``
    (what JSROOT appends to its websocket and long-poll URLs), else the session cookie. An
    empty one counts as one (and is refused as invalid) rather than being ignored."""
    header = call.header("authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer":
            return value.strip()
    token = _query_token(call)
    if token is not None:
        return token
    return _cookie_token(call)


def _query_token(call: Call) -> str | None:
    if "token" not in call.query:
        return None  # most requests: no parse
    for name, value in parse_qsl(call.query, keep_blank_values=True):
        if name == "token":
            return value
    return None


def _cookie_token(call: Call) -> str | None:
    for name, value in call.headers:
        if name == "cookie" and COOKIE_NAME in value:
            for part in value.split(";"):
                key, _, found = part.strip().partition("=")
                if key == COOKIE_NAME:
                    return found
    return None


def session_cookie(token: str, max_age: int, call: Call) -> str:
    """The ``Set-Cookie`` value keeping ``token`` for the pages under this mount point."""
    path = (call.script_name.rstrip("/") or "") + "/"
    secure = "; Secure" if call.engine == "https" else ""
    return (
        f"{COOKIE_NAME}={token}; Path={path}; Max-Age={max(max_age, 0)}; HttpOnly; "
        f"SameSite=Strict{secure}"
    )


def strip_token(call: Call) -> None:
    """Remove every ``token`` parameter and a Bearer ``Authorization`` from the call, and from
    its raw target, so nothing downstream (handlers, websocket handlers, pages) holds it."""
    if "token" in call.query:
        call.query = "&".join(p for p in call.query.split("&") if not _is_token_param(p))
    if call.target and "?" in call.target:
        head, _, query = call.target.partition("?")
        query = "&".join(p for p in query.split("&") if not _is_token_param(p))
        call.target = head + ("?" + query if query else "")
    call.headers = [
        (k, _without_cookie(v) if k == "cookie" else v)
        for k, v in call.headers
        if not (k == "authorization" and v.strip().lower().startswith("bearer"))
    ]


def _without_cookie(value: str) -> str:
    if COOKIE_NAME not in value:
        return value
    parts = [p for p in value.split(";") if p.strip().partition("=")[0] != COOKIE_NAME]
    return ";".join(parts).strip()


@contextlib.contextmanager
def _locked(path: str, flags: int, lock: int) -> Iterator[int]:
    try:
        fd = os.open(path, flags | getattr(os, "O_NOCTTY", 0), 0o600)
    except OSError as exc:
        raise SecretFileError(f"revocation file {path!r}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, lock)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)
