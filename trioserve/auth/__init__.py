"""Authentication: who is asking. It produces a user name (or none), never more.

* HTTP and unix-socket engines: digest authentication (RFC 7616) against an htdigest file,
  switched on by the engine options ``auth_file=`` and ``auth_domain=`` (both, or neither).
  :func:`make_authenticator` builds it from an :class:`~trioserve.spec.EngineSpec`; the engine
  calls :meth:`DigestAuthenticator.check` before dispatching every request -- objects, files
  and websocket upgrades alike. ``auth_secret_file=`` keeps the nonce secret in a file
  (:mod:`trioserve.auth.secret_file`) so nonces outlive restarts and are shared by processes.
* FastCGI: the front-end authenticated; :func:`frontend_user` turns its ``REMOTE_USER`` into
  the request's user.
* Nobody authenticated: ``call.user`` stays ``None``, which the policy treats as the real
  principal :data:`trioserve.policy.ANONYMOUS`.
* Access tokens (:mod:`trioserve.auth.tokens`), on every engine: a request carrying one
  (``?token=`` or ``Authorization: Bearer``) is judged by it alone -- valid is enough, even
  where digest is required; expired or invalid is 401. HTTP engines judge it in their
  authenticator (:class:`TokenAuthenticator`, or :class:`DigestAuthenticator` given the
  authority), so before a websocket upgrade or the body; the dispatcher judges whatever still
  carries one (FastCGI, long-poll behind a front-end).

The ``Authorization`` value is never logged and never appears in a response or an error.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING
from urllib.parse import quote

from trioserve.auth.credentials import Credentials, CredentialStore
from trioserve.auth.digest import (
    Denied,
    DigestVerifier,
    Malformed,
    Ok,
    Result,
    Stale,
)
from trioserve.auth.htdigest import PasswordFile
from trioserve.auth.secret_file import SecretFileError, load_secret_file
from trioserve.auth.tokens import TokenAuthority, find_token
from trioserve.call import Call, Response, error_response
from trioserve.errors import SpecError
from trioserve.policy import ANONYMOUS

if TYPE_CHECKING:
    from trioserve.call import Authenticator
    from trioserve.spec import EngineSpec

__all__ = [
    "CredentialStore",
    "Credentials",
    "Denied",
    "DigestAuthenticator",
    "DigestVerifier",
    "Malformed",
    "Ok",
    "PasswordFile",
    "Result",
    "Stale",
    "TokenAuthenticator",
    "TokenAuthority",
    "frontend_user",
    "make_authenticator",
    "request_target",
]

log = logging.getLogger("trioserve.auth")

_NO_CACHE = "no-cache, no-store, must-revalidate, private, max-age=0"
_TARGET_SAFE = "/!$&'()*+,;=:@~"


def request_target(call: Call) -> str:
    """The request target the client signed, as well as the call lets us rebuild it.

    If the engine kept the raw target (an attribute ``target`` on the call) it is used as is;
    otherwise the decoded path is re-escaped so that decoding it again gives exactly
    ``call.path`` back, and the raw query is appended.
    """
    raw = getattr(call, "target", None)
    if isinstance(raw, str) and raw:
        return raw
    target = quote(call.path, safe=_TARGET_SAFE)
    return f"{target}?{call.query}" if call.query else target


class TokenAuthenticator:
    """The authenticator of an engine without digest auth: only a token, when one comes,
    is judged (a request without one goes on as anonymous)."""

    #: may judge from any thread (a ``sync="app"`` program's answers parked connections in
    #: its own, :mod:`trioserve.parking`): what it changes -- the revocations it re-reads, the
    #: policy's switch to judging every request -- it changes idempotently, one assignment
    #: at a time. Digest auth's nonce counts are not that, so its authenticator stays with
    #: the server's thread.
    any_thread = True

    def __init__(self, tokens: TokenAuthority) -> None:
        self.tokens = tokens

    def check(self, call: Call, now: float) -> Response | None:
        return self.tokens.authenticate(call)


class DigestAuthenticator:
    """The engines' :class:`~trioserve.engines.base.Authenticator` for digest auth; given a
    :class:`TokenAuthority`, a request carrying a token is judged by it instead."""

    def __init__(self, verifier: DigestVerifier, tokens: TokenAuthority | None = None) -> None:
        self.verifier = verifier
        self.tokens = tokens

    @property
    def realm(self) -> str:
        return self.verifier.realm

    def challenge_response(self, now: float, *, stale: bool = False) -> Response:
        """401 with one ``WWW-Authenticate`` header per offered algorithm."""
        response = error_response(401, "unauthorized", "authentication required")
        for value in self.verifier.challenge(now, stale=stale):
            response.headers.append(("WWW-Authenticate", value))
        response.set_header("Cache-Control", _NO_CACHE)
        return response

    def check(self, call: Call, now: float) -> Response | None:
        """``None`` (and ``call.user`` set) when authenticated; else the response to send."""
        if self.tokens is not None and find_token(call) is not None:
            return self.tokens.authenticate(call)
        header = call.header("authorization")
        if header is None:
            return self.challenge_response(now)
        result = self.verifier.verify(call.method, request_target(call), header, now)
        if isinstance(result, Ok):
            call.user = result.user
            return None
        if isinstance(result, Stale):
            log.debug("digest auth from %s: %s", call.peer, result.reason)
            return self.challenge_response(now, stale=True)
        if isinstance(result, Malformed):
            log.info("digest auth from %s: malformed Authorization (%s)", call.peer, result.reason)
            return error_response(
                400, "bad_authorization", f"malformed Authorization header: {result.reason}"
            )
        log.info("digest auth from %s refused: %s", call.peer, result.reason)
        return self.challenge_response(now)


def make_authenticator(
    spec: EngineSpec, tokens: TokenAuthority | None = None
) -> Authenticator | None:
    """Digest auth for an engine whose spec has ``auth_file`` and ``auth_domain``, accepting
    ``tokens``' tokens instead when given.

    Without those options: a :class:`TokenAuthenticator` when ``tokens`` is given, else
    ``None``. One without the other, or a file that does not exist,
    is a :class:`~trioserve.errors.SpecError` at start: a server that believes it is
    protected while it is not is the worst outcome. So is ``auth_secret_file`` without a
    path, without digest auth, or naming a file that cannot be used as a secret; a missing
    one is created (see :mod:`trioserve.auth.secret_file`).
    """
    auth_file = spec.options.get("auth_file") or None
    realm = spec.options.get("auth_domain") or None
    secret_file = spec.options.get("auth_secret_file")
    if auth_file is None and realm is None:
        if secret_file is not None:
            raise SpecError(
                f"{spec.text!r}: auth_secret_file= is for digest authentication, which needs "
                "auth_file= and auth_domain="
            )
        return None if tokens is None else TokenAuthenticator(tokens)
    if auth_file is None or realm is None:
        missing = "auth_file" if auth_file is None else "auth_domain"
        raise SpecError(
            f"{spec.text!r}: digest authentication needs both auth_file= and auth_domain= "
            f"({missing} is missing)"
        )
    if not os.path.isfile(auth_file):
        raise SpecError(
            f"{spec.text!r}: password file {auth_file!r} does not exist: create it with "
            "trioserve htdigest -c FILE REALM USER"
        )
    try:
        with open(auth_file, "rb"):
            pass
    except OSError as exc:
        raise SpecError(f"{spec.text!r}: password file {auth_file!r}: {exc.strerror}") from None
    secret = None
    if secret_file == "":
        raise SpecError(f"{spec.text!r}: auth_secret_file= needs a path")
    if secret_file is not None:
        try:
            secret = load_secret_file(secret_file)
        except SecretFileError as exc:
            raise SpecError(f"{spec.text!r}: {exc}") from None
    try:
        verifier = DigestVerifier(realm, PasswordFile(auth_file), secret=secret)
    except ValueError as exc:
        raise SpecError(f"{spec.text!r}: auth_domain: {exc}") from None
    if not verifier.store.algorithms(realm):
        log.warning("password file %s has no account for realm %r", auth_file, realm)
    return DigestAuthenticator(verifier, tokens)


def frontend_user(remote_user: str | None, auth_type: str | None) -> str | None:
    """The user a FastCGI front-end vouched for, as ROOT reads it: ``REMOTE_USER`` counts only
    when ``AUTH_TYPE`` is set too. A front-end account named ``anonymous`` is refused
    (returns ``None``) and logged, since that name is the unauthenticated principal."""
    if not auth_type or not remote_user:
        return None
    if remote_user == ANONYMOUS:
        log.warning("front-end user %r is reserved; treated as unauthenticated", ANONYMOUS)
        return None
    return remote_user
