"""HTTP Digest authentication (RFC 7616), sans-IO: headers and a clock in, a verdict out.

Rules this module keeps, in the order :meth:`DigestVerifier.verify` applies them:

1. The ``Authorization`` value is parsed strictly (``Digest`` + auth-params, each key once);
   anything unparsable is :class:`Malformed` (the engine answers 400). Other schemes, another
   realm, an algorithm or qop we did not offer are :class:`Denied` (401 with a challenge).
2. ``uri`` must name the request target (RFC 7616 §3.4.6; civetweb skips this check).
3. The response is recomputed from the stored HA1 and compared in constant time. An unknown
   user is checked against a dummy HA1, so it costs the same and answers the same as a wrong
   password: the client cannot tell them apart.
4. Only then is the nonce judged, so every verdict below is given only to a client that proved
   it knows the password. Nonces are ``time.instance.random.HMAC(secret)`` -- stateless, no
   table of issued nonces. One whose HMAC does not verify under our secret (forged, from an
   earlier run with another secret, from an older trioserve) is :class:`Stale`, as RFC 7616
   §3.3 asks for an invalid nonce with a valid digest: the client retries with our nonce
   without asking the user again, and gains nothing it could not get by asking for a
   challenge. The ``opaque`` is judged with the nonce it came with: a nonce we vouch for with
   someone else's opaque is :class:`Denied`; a nonce we cannot vouch for carries its own
   server's opaque, and is stale. A nonce too old, from the future, or older than the replay
   table's floor is :class:`Stale` too.
5. Each nonce's ``nc`` values are remembered in a 64-wide sliding window (as IPsec does), so a
   replayed (nonce, nc) is :class:`Denied` while requests sent in parallel may arrive out of
   order. Only nonces that authenticated successfully get an entry, expired entries are
   evicted, and when the table is full the oldest half is dropped and every nonce issued
   before them becomes stale: memory stays bounded without ever accepting a replay.
6. A nonce signed with our secret but issued by another *instance* (another process sharing
   the secret, or this server before a restart) may have counts used where this instance
   never saw them. For such a nonce a count is accepted only above every count this instance
   has seen of it; a lower unseen one is :class:`Stale` (a request that was merely overtaken
   retries silently). So a request captured before a restart, or on its way to another
   process, is accepted here only if no later request of the client got here first. The
   issuing instance keeps the window of rule 5, which parallel requests need.

Nothing here logs or returns any part of the ``Authorization`` value; reasons are fixed texts.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from trioserve.auth.credentials import ALGORITHMS, CredentialStore, hash_hex

__all__ = [
    "Denied",
    "DigestVerifier",
    "Malformed",
    "Ok",
    "Result",
    "Stale",
    "digest_response",
    "parse_auth_params",
]

log = logging.getLogger("trioserve.auth")

MAX_HEADER_LENGTH = 8192
_WINDOW = 64
_CLOCK_SKEW = 5.0


@dataclass(frozen=True, slots=True)
class Ok:
    user: str
    algorithm: str


@dataclass(frozen=True, slots=True)
class Stale:
    reason: str = "nonce is stale"


@dataclass(frozen=True, slots=True)
class Denied:
    reason: str


@dataclass(frozen=True, slots=True)
class Malformed:
    reason: str


Result = Ok | Stale | Denied | Malformed


class _ParseError(Exception):
    pass


_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[\x09\x20-\x7e\x80-\xff])*"'
_PARAM_RE = re.compile(rf"[ \t]*({_TOKEN})[ \t]*=[ \t]*({_TOKEN}|{_QUOTED})[ \t]*")
_SEP_RE = re.compile(r"[ \t]*(?:,[ \t]*)*")
_UNESCAPE_RE = re.compile(r"\\(.)")


def parse_auth_params(text: str) -> dict[str, str]:
    """RFC 7235 ``#auth-param``: ``key=token`` or ``key="quoted"``; keys lower-cased.

    Raises ValueError for anything else, or a key given twice (which a proxy could otherwise
    use to make two parsers see two different credentials).
    """
    params: dict[str, str] = {}
    pos = _SEP_RE.match(text, 0).end()  # type: ignore[union-attr]
    while pos < len(text):
        m = _PARAM_RE.match(text, pos)
        if m is None:
            raise ValueError("unparsable auth-param")
        key, value = m.group(1).lower(), m.group(2)
        if value.startswith('"'):
            value = _UNESCAPE_RE.sub(r"\1", value[1:-1])
        if key in params:
            raise ValueError("repeated auth-param")
        params[key] = value
        pos = m.end()
        if pos < len(text):
            if text[pos] != ",":
                raise ValueError("auth-params must be separated by commas")
            pos = _SEP_RE.match(text, pos).end()  # type: ignore[union-attr]
    return params


def digest_response(
    algorithm: str,
    ha1: str,
    nonce: str,
    nc: str,
    cnonce: str,
    qop: str,
    method: str,
    uri: str,
) -> str:
    """The ``response`` value of RFC 7616 §3.4.1 for qop=auth (client and server side)."""
    ha2 = hash_hex(algorithm, f"{method}:{uri}")
    return hash_hex(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_EXT_VALUE_RE = re.compile(
    r"(?i)(utf-8|iso-8859-1)'[A-Za-z0-9-]*'((?:[!#$&+.^_`|~0-9A-Za-z-]|%[0-9A-Fa-f]{2})*)\Z"
)


def _decode_ext_value(value: str) -> str:
    """RFC 5987/8187 ``charset'lang'pct-encoded`` (``username*``)."""
    m = _EXT_VALUE_RE.match(value)
    if m is None:
        raise _ParseError("username* is not an RFC 8187 ext-value")
    try:
        return unquote(m.group(2), encoding=m.group(1).lower(), errors="strict")
    except UnicodeDecodeError:
        raise _ParseError("username* is not valid in its charset") from None


def _same_target(claimed: str, actual: str) -> bool:
    """Does the ``uri`` auth-param name the request target?

    Equal strings match; otherwise both are split and compared with percent-escapes in the
    path decoded (clients differ in what they escape) and an absolute-form URI reduced to its
    path and query (RFC 7616 §3.4.6 allows either form).
    """
    if claimed == actual:
        return True
    a, b = urlsplit(claimed), urlsplit(actual)
    return unquote(a.path) == unquote(b.path) and a.query == b.query


@dataclass(slots=True)
class _NonceState:
    issued: float
    highest: int
    mask: int  # bit i set = nc (highest - i) seen
    #: issued by this instance; else only counts above ``highest`` are new (rule 6)
    own: bool = True


@dataclass(frozen=True, slots=True)
class _Nonce:
    """What a nonce that verified under our secret tells us."""

    issued: float
    own: bool  # issued by this instance (else another process, or a run before a restart)


_NONCE_RE = re.compile(r"[0-9a-f]{68}\Z")


class DigestVerifier:
    """Issue challenges and judge ``Authorization: Digest`` headers for one realm.

    ``password_lookup`` is a :class:`~trioserve.auth.htdigest.CredentialStore` (a
    :class:`~trioserve.auth.htdigest.PasswordFile` or in-memory ``Credentials``). ``now`` is
    passed to every call; use wall-clock time (``time.time()``) when several processes share
    ``secret``, or when it must outlive a restart; any one clock otherwise.

    Without ``secret`` a random one is made, so nonces (and the opaque) of an earlier run are
    stale after a restart: the client retries with the new challenge without asking the user
    again. Verifiers built with the same ``secret`` and realm -- several processes behind a
    balancer, or the same server before and after a restart -- accept each other's nonces,
    each remembering the counts it saw itself (rule 6 above).
    """

    def __init__(
        self,
        realm: str,
        password_lookup: CredentialStore,
        *,
        nonce_lifetime: float = 300.0,
        secret: bytes | str | None = None,
        algorithms: Sequence[str] = ("SHA-256", "MD5"),
        max_nonces: int = 10_000,
    ) -> None:
        unknown = [a for a in algorithms if a not in ALGORITHMS]
        if unknown or not algorithms:
            raise ValueError(f"digest algorithms must be among {ALGORITHMS}, not {unknown}")
        if not realm or '"' in realm or any(ord(c) < 32 for c in realm):
            raise ValueError("realm must be non-empty, without quotes or control characters")
        self.realm = realm
        self.store = password_lookup
        self.nonce_lifetime = float(nonce_lifetime)
        if isinstance(secret, str):
            secret = secret.encode()
        self._secret = secret if secret else secrets.token_bytes(32)
        self.algorithms = tuple(a for a in ALGORITHMS if a in algorithms)
        self.max_nonces = max_nonces
        self.opaque = self._mac(b"opaque")[:32]
        #: names this instance in its nonces, so it can tell nonces it issued (whose every
        #: count it has seen) from nonces of other processes sharing the secret (rule 6)
        self.instance = secrets.token_hex(4)
        self._dummy_ha1 = {a: hash_hex(a, secrets.token_hex(16)) for a in ALGORITHMS}
        self._nonces: dict[str, _NonceState] = {}
        #: nonces issued at or before this time are stale (raised when the table overflows)
        self._floor = float("-inf")
        self._next_purge = float("-inf")

    # ---- nonces ------------------------------------------------------------------------------

    def _mac(self, data: bytes) -> str:
        return hmac.new(self._secret, b"%s|%s" % (self.realm.encode(), data), "sha256").hexdigest()

    def make_nonce(self, now: float) -> str:
        """68 hex digits: issue time in ms (12), instance (8), random (16), HMAC (32)."""
        stamp = f"{int(now * 1000):012x}{self.instance}{secrets.token_hex(8)}"
        return stamp + self._mac(b"nonce|" + stamp.encode())[:32]

    def _read_nonce(self, nonce: str) -> _Nonce | None:
        """What a nonce we (or a process sharing our secret) made says; None for any other."""
        if not _NONCE_RE.match(nonce):
            return None
        stamp, mac = nonce[:36], nonce[36:]
        expected = self._mac(b"nonce|" + stamp.encode())[:32]
        if not hmac.compare_digest(mac.encode(), expected.encode()):
            return None
        return _Nonce(int(stamp[:12], 16) / 1000.0, stamp[12:20] == self.instance)

    # ---- challenges --------------------------------------------------------------------------

    def offered_algorithms(self) -> list[str]:
        """SHA-256 only when the store holds SHA-256 hashes for this realm; MD5 always."""
        held = self.store.algorithms(self.realm)
        return [a for a in self.algorithms if a == "MD5" or a in held]

    def challenge(self, now: float, stale: bool = False) -> list[str]:
        """The ``WWW-Authenticate`` values, one per algorithm, best first.

        They share one nonce and opaque: clients that fold several challenges into one
        dictionary (python-requests, httpx) then still answer a consistent set.
        """
        nonce = self.make_nonce(now)
        values = []
        for algorithm in self.offered_algorithms():
            value = (
                f'Digest realm={_quote(self.realm)}, qop="auth", algorithm={algorithm}, '
                f'nonce="{nonce}", opaque="{self.opaque}", userhash=true'
            )
            if stale:
                value += ", stale=true"
            values.append(value)
        return values

    # ---- verification ------------------------------------------------------------------------

    def verify(self, method: str, uri: str, authorization_header: str, now: float) -> Result:
        """Judge one request. ``uri`` is the request target as the engine received it."""
        try:
            return self._verify(method, uri, authorization_header, now)
        except _ParseError as exc:
            return Malformed(str(exc))

    def _verify(self, method: str, uri: str, header: str, now: float) -> Result:
        if len(header) > MAX_HEADER_LENGTH:
            raise _ParseError("Authorization header too long")
        scheme, _, rest = header.strip().partition(" ")
        if not scheme:
            raise _ParseError("empty Authorization header")
        if scheme.lower() != "digest":
            return Denied("not a Digest Authorization")
        try:
            p = parse_auth_params(rest)
        except ValueError as exc:
            raise _ParseError(str(exc)) from None

        for key in ("realm", "nonce", "uri", "response"):
            if key not in p:
                raise _ParseError(f"missing {key}")
        if p["realm"] != self.realm:
            return Denied("another realm")
        algorithm = p.get("algorithm", "MD5").upper()
        if algorithm not in self.algorithms:
            return Denied("algorithm not offered")
        if "qop" not in p:
            return Denied("qop=auth is required (RFC 2069 digests are refused)")
        if p["qop"] != "auth":
            return Denied("qop not offered")
        for key in ("nc", "cnonce"):
            if key not in p:
                raise _ParseError(f"missing {key}")
        nc_text = p["nc"]
        if not re.fullmatch(r"[0-9a-fA-F]{1,8}", nc_text):
            raise _ParseError("nc is not 8 hex digits")
        nc = int(nc_text, 16)
        response = p["response"].lower()
        size = 32 if algorithm == "MD5" else 64
        if not re.fullmatch(rf"[0-9a-f]{{{size}}}", response):
            raise _ParseError("response is not a hex digest of the algorithm")
        if not _same_target(p["uri"], uri):
            return Denied("uri does not match the request target")

        user = self._user(p, algorithm)
        stored = self.store.ha1(self.realm, user, algorithm) if user is not None else None
        ha1 = stored if stored is not None else self._dummy_ha1[algorithm]
        expected = digest_response(
            algorithm, ha1, p["nonce"], nc_text, p["cnonce"], p["qop"], method, p["uri"]
        )
        matches = hmac.compare_digest(expected.encode(), response.encode())
        if stored is None or user is None or not matches:
            return Denied("unknown user or wrong password")

        nonce = self._read_nonce(p["nonce"])
        if nonce is None:
            return Stale("nonce not issued by this server")
        if "opaque" in p and not hmac.compare_digest(p["opaque"].encode(), self.opaque.encode()):
            return Denied("opaque does not match")
        issued = nonce.issued
        if now - issued > self.nonce_lifetime or issued - now > _CLOCK_SKEW:
            return Stale("nonce expired")
        if issued <= self._floor:
            return Stale("nonce evicted")
        if nc == 0:
            return Denied("nonce count 0")
        verdict = self._accept_nc(p["nonce"], nonce, nc, now)
        if verdict == "stale":
            return Stale("nonce evicted")
        if verdict == "foreign":
            return Stale("nonce count out of order for a nonce issued elsewhere")
        if verdict == "replay":
            return Denied("nonce count replayed")
        return Ok(user, algorithm)

    def _user(self, p: dict[str, str], algorithm: str) -> str | None:
        hashed = p.get("userhash", "false").lower()
        if hashed not in ("true", "false"):
            raise _ParseError("userhash must be true or false")
        if "username" in p and "username*" in p:
            raise _ParseError("both username and username*")
        if "username*" in p:
            if hashed == "true":
                raise _ParseError("username* cannot be combined with userhash")
            return _decode_ext_value(p["username*"])
        if "username" not in p:
            raise _ParseError("missing username")
        if hashed == "true":
            return self.store.user_for_hash(self.realm, algorithm, p["username"])
        return p["username"]

    def _accept_nc(self, key: str, nonce: _Nonce, nc: int, now: float) -> str:
        """Record ``nc`` for the nonce ``key``: "ok", "replay" (seen, or out of the window),
        "stale" (the table overflowed past this nonce) or "foreign" (an unseen count below
        the highest seen, of a nonce another instance issued: it may have been used there)."""
        self._purge(now)
        state = self._nonces.get(key)
        if state is None:
            self._make_room()
            if nonce.issued <= self._floor:
                return "stale"
            self._nonces[key] = _NonceState(nonce.issued, nc, 1, nonce.own)
            return "ok"
        if nc > state.highest:
            shift = nc - state.highest
            state.mask = ((state.mask << shift) | 1) & ((1 << _WINDOW) - 1)
            state.highest = nc
            return "ok"
        offset = state.highest - nc
        if offset >= _WINDOW or state.mask & (1 << offset):
            return "replay"
        if not state.own:
            return "foreign"
        state.mask |= 1 << offset
        return "ok"

    def _purge(self, now: float) -> None:
        if now < self._next_purge:
            return
        self._next_purge = now + max(self.nonce_lifetime / 4, 1.0)
        limit = now - self.nonce_lifetime
        self._nonces = {n: s for n, s in self._nonces.items() if s.issued >= limit}

    def _make_room(self) -> None:
        if len(self._nonces) < self.max_nonces:
            return
        ordered = sorted(self._nonces.items(), key=lambda item: item[1].issued)
        drop = ordered[: max(1, len(ordered) // 2)]
        self._floor = max(self._floor, drop[-1][1].issued)
        self._nonces = {n: s for n, s in ordered if s.issued > self._floor}
        log.info("digest nonce table full: nonces issued before the oldest kept are now stale")

    def statistics(self) -> dict[str, int]:
        return {"tracked_nonces": len(self._nonces)}
