"""Who may see and do what: ROOT's ``Restrict()`` rules as one pure policy object.

Every request kind asks this module, and nothing else decides access. The module does no I/O
and holds no per-request state: each query is a pure function of (path segments, user) and
the rules registered so far, so the answers can be tested exhaustively with plain calls.

Rules (reference §4) are set per path with URL syntax::

    policy.restrict("/Folder", "visible=admin")
    policy.restrict("/Folder/histo1", "allow_method=GetTitle&hidden=guest")
    policy.restrict("*/log", "allow_method=Select,GetTitle")     # any item named "log"

Each key takes ``all`` or a comma list of user names (exact, case-sensitive matching). For one
item and one user, W(list) is 0 when the key is absent or empty, 1 for ``all``, 2 when the list
names the user, otherwise -1 -- except for the two *restricting* keys ``hidden`` and
``readonly``, where a list that does not name the user counts 0 (see "differences" below).
Then ``see = W(visible) - W(hidden)`` and ``act = W(allow) - W(readonly)``, and in this order:
``act > 0`` -> FULL; ``see < 0`` -> HIDDEN; ``act < 0`` -> READONLY; else DEFAULT.

Inheritance along the path (§4.4): a HIDDEN node hides its whole subtree; a DEFAULT node
inherits its parent's effective level; an explicit READONLY or FULL overrides the parent's.
``allow_method`` applies to the item whose rule names it, never to its children or siblings.
The server-wide read-only flag decides what DEFAULT means.

Deliberate differences from ROOT (each a defect there, reference §4.8 and §9.4):

* Anonymous requests are a real principal named :data:`ANONYMOUS` (``"anonymous"``): ``all``
  includes them and a list may name them, so ``hidden=all`` really hides. In ROOT every rule
  evaluates to "default" for a request without a user name.
* Method names match exactly (ROOT: substring, so ``GetTitle`` also allowed ``Get``).
* An item's ``allow_method`` list never authorises a method on another item (ROOT: one set per
  request, filled by every item the scan visits, siblings included).
* ``cmd.json`` on a hidden item is refused (ROOT runs it).
* ``readonly=guest`` restricts guest and grants nobody anything (ROOT: every other
  authenticated user gets W=-1, hence ``act = +1`` = full access, even on a read-only server).
* Unknown keys are an error at :meth:`Policy.restrict` (ROOT ignores them silently; its own
  user guide's ``hide=guest`` example is a typo for ``hidden=guest`` that does nothing).
* A second ``restrict()`` on the same path replaces the first (ROOT keeps both and the first
  one wins, so the later call is silently ignored); an exact path rule wins over a ``*/name``
  wildcard whatever the order.
* Method names starting with ``_`` are never callable, whatever the rules say.

An access token (:mod:`trioserve.auth.tokens`) authenticates as a :class:`ScopedUser`: the
user's name, whose rules apply as they are, narrowed to the token's path prefixes.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from trioserve.errors import ConfigError

__all__ = [
    "ANONYMOUS",
    "Access",
    "Level",
    "Policy",
    "Rule",
    "ScopedUser",
    "parse_rule",
    "principal",
    "split_segments",
]

#: The name an unauthenticated request has for the rules. ``all`` includes it and a user list
#: may name it (``hidden=anonymous``). Authenticators refuse real accounts with this name.
ANONYMOUS = "anonymous"

_KEYS = ("visible", "hidden", "readonly", "allow", "allow_method")
_TYPOS = {
    "hide": "hidden",
    "visibile": "visible",
    "show": "visible",
    "read_only": "readonly",
    "allowed": "allow",
    "allow_methods": "allow_method",
    "method": "allow_method",
}
_METHOD_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


class Level(enum.IntEnum):
    """The result of the rules for one item and one user (ROOT's -1/0/1/2 codes)."""

    HIDDEN = -1
    DEFAULT = 0
    READONLY = 1
    FULL = 2


def principal(user: str | None) -> str:
    """The name rules are matched against: the user, or :data:`ANONYMOUS` when there is none."""
    return user if user else ANONYMOUS


def split_segments(path: str | Sequence[str]) -> tuple[str, ...]:
    """``"/a//b/"`` -> ``("a", "b")``; a sequence of segments is taken as is (minus empties)."""
    parts = path.split("/") if isinstance(path, str) else path
    return tuple(p for p in parts if p)


class ScopedUser(str):
    """A user name limited to some subtrees: what an access token authenticates as.

    It *is* the name (equal to it, hashed like it), so every rule naming the user applies
    unchanged and code that only logs or compares the name needs to know nothing; the policy
    alone reads :attr:`prefixes`, and only narrows: under a prefix the user's own access
    applies; the folders on the way to a prefix (the "passage", ``/`` and ``/Objects`` for
    ``/Objects/hists``) are visible read-only so listings can lead there, and show nothing
    else; everything else is hidden (404, like any hidden item).
    """

    prefixes: tuple[tuple[str, ...], ...]

    def __new__(cls, name: str, prefixes: Iterable[str | Sequence[str]]) -> ScopedUser:
        self = super().__new__(cls, name)
        self.prefixes = tuple(sorted({split_segments(p) for p in prefixes}))
        return self

    def __repr__(self) -> str:
        paths = ", ".join("/" + "/".join(p) for p in self.prefixes)
        return f"ScopedUser({str.__repr__(self)}, [{paths}])"


_INSIDE, _PASSAGE, _OUTSIDE = 1, 0, -1


def _scope(segments: tuple[str, ...], user: str | None) -> int:
    """Where ``segments`` lies for a scoped user: inside a prefix, on the way to one, or
    outside; inside for everyone else."""
    if not isinstance(user, ScopedUser):
        return _INSIDE
    depth = len(segments)
    where = _OUTSIDE
    for prefix in user.prefixes:
        if segments[: len(prefix)] == prefix:
            return _INSIDE
        if depth < len(prefix) and prefix[:depth] == segments:
            where = _PASSAGE
    return where


@dataclass(frozen=True, slots=True)
class UserList:
    """The value of one key: ``all`` or an exact set of names. ``None`` means absent/empty."""

    everyone: bool = False
    names: frozenset[str] = frozenset()

    def weight(self, name: str, *, restricting: bool) -> int:
        if self.everyone:
            return 1
        if name in self.names:
            return 2
        return 0 if restricting else -1


@dataclass(frozen=True, slots=True)
class Rule:
    """One parsed ``restrict()`` options string."""

    visible: UserList | None = None
    hidden: UserList | None = None
    readonly: UserList | None = None
    allow: UserList | None = None
    allow_method: frozenset[str] = frozenset()

    def level(self, name: str) -> Level:
        """The §4.3 evaluation for the principal ``name`` (already mapped by principal())."""

        def w(users: UserList | None, restricting: bool) -> int:
            return 0 if users is None else users.weight(name, restricting=restricting)

        see = w(self.visible, False) - w(self.hidden, True)
        act = w(self.allow, False) - w(self.readonly, True)
        if act > 0:
            return Level.FULL
        if see < 0:
            return Level.HIDDEN
        if act < 0:
            return Level.READONLY
        return Level.DEFAULT


def _parse_users(key: str, value: str, text: str) -> UserList | None:
    names = [n.strip() for n in value.split(",")]
    names = [n for n in names if n]
    if not names:
        return None
    if "all" in names:
        if len(names) > 1:
            raise ConfigError(
                f"restrict option {key}={value!r} in {text!r}: 'all' cannot be combined with "
                "user names"
            )
        return UserList(everyone=True)
    for name in names:
        if any(c in name for c in "&=:") or any(ord(c) < 32 for c in name):
            raise ConfigError(f"restrict option {key}: {name!r} is not a valid user name")
    return UserList(names=frozenset(names))


def _parse_methods(value: str, text: str) -> frozenset[str]:
    methods = [m.strip() for m in value.split(",")]
    methods = [m for m in methods if m]
    for method in methods:
        if not _METHOD_RE.match(method):
            raise ConfigError(
                f"allow_method={value!r} in {text!r}: {method!r} is not a public method name "
                "(letters, digits and _, not starting with _)"
            )
    return frozenset(methods)


def parse_rule(text: str) -> Rule:
    """Parse ``"visible=..&hidden=..&readonly=..&allow=..&allow_method=.."``.

    Raises :class:`~trioserve.errors.ConfigError` for an unknown or repeated key, or a part
    without ``=``: a rule that silently does nothing is worse than no rule.
    """
    values: dict[str, str] = {}
    for part in text.split("&"):
        if not part.strip():
            continue
        key, eq, value = part.partition("=")
        key = key.strip()
        if key not in _KEYS:
            hint = ""
            if key == "hide":
                hint = (
                    " -- 'hide' is a typo for 'hidden' found in ROOT's own user guide "
                    "(ROOT silently ignores it, so the item was never hidden)"
                )
            elif key in _TYPOS:
                hint = f" -- did you mean {_TYPOS[key]!r}?"
            raise ConfigError(
                f"unknown restrict option {key!r} in {text!r}; allowed: {', '.join(_KEYS)}{hint}"
            )
        if not eq:
            raise ConfigError(f"restrict option {key!r} in {text!r} needs a value ({key}=...)")
        if key in values:
            raise ConfigError(f"restrict option {key!r} given twice in {text!r}")
        values[key] = unquote(value)
    return Rule(
        visible=_parse_users("visible", values.get("visible", ""), text),
        hidden=_parse_users("hidden", values.get("hidden", ""), text),
        readonly=_parse_users("readonly", values.get("readonly", ""), text),
        allow=_parse_users("allow", values.get("allow", ""), text),
        allow_method=_parse_methods(values.get("allow_method", ""), text),
    )


@dataclass(frozen=True, slots=True)
class Access:
    """What one user may do with one item.

    ``level`` is the rules' verdict after inheritance; ``server_readonly`` is the server flag it
    was combined with; ``methods`` is the ``allow_method`` set of this very item (empty when
    its own rule names none).
    """

    level: Level
    server_readonly: bool = True
    methods: frozenset[str] = frozenset()

    @property
    def hidden(self) -> bool:
        return self.level is Level.HIDDEN

    @property
    def full(self) -> bool:
        """May act on the item (call any public method, run commands)."""
        if self.level is Level.DEFAULT:
            return not self.server_readonly
        return self.level is Level.FULL

    @property
    def readonly(self) -> bool:
        """Visible, but only ``methods`` may be called."""
        return not self.hidden and not self.full

    def may_call(self, method: str) -> bool:
        if self.hidden or not _METHOD_RE.match(method):
            return False
        return self.full or method in self.methods

    def why_not_call(self, method: str) -> str | None:
        """``None`` when :meth:`may_call` allows ``method``, else the reason for ``exe.txt``
        and 403 bodies (never used for hidden items, which must look missing)."""
        if self.hidden:
            return "item not found"
        if not _METHOD_RE.match(method):
            return f"{method!r} is not a public method name"
        if self.full or method in self.methods:
            return None
        if self.level is Level.READONLY:
            return f"read-only access to this item; {method!r} is not in its allow_method list"
        return f"server runs in read-only mode; {method!r} is not in this item's allow_method list"

    def why_not_command(self) -> str | None:
        """``None`` when :meth:`may_run_command` allows it, else the reason."""
        if self.hidden:
            return "item not found"
        if self.level is Level.READONLY:
            return "read-only access to this command"
        return None

    def may_run_command(self) -> bool:
        # Commands are the control channel of a read-only server (httpcontrol.C): only an
        # explicit read-only verdict or hiding refuses them, not the server flag.
        return self.level in (Level.DEFAULT, Level.FULL)


#: the access of the top node when no rule applies to it
_ROOT_LEVEL = Level.DEFAULT


class Policy:
    """All access rules of one server, and the one place every request asks.

    Mutations (:meth:`restrict`, :meth:`unrestrict`, flags) replace the rule tables
    wholesale, so a query running in another thread always sees a consistent set.
    """

    def __init__(self, *, readonly: bool = True, allow_post_objects: bool = False) -> None:
        self.readonly = readonly
        self.allow_post_objects = allow_post_objects
        #: set (by the server's token authority) once a request may come as a
        #: :class:`ScopedUser`: from then on :attr:`has_rules` is true, so the fast paths
        #: that skip the policy when no rule exists judge every request again
        self.scoped = False
        self._exact: dict[tuple[str, ...], Rule] = {}
        #: wildcard rules keyed by the path *suffix* after ``*/``
        self._wild: dict[tuple[str, ...], Rule] = {}

    # -- configuration ---------------------------------------------------------------------

    def set_readonly(self, readonly: bool = True) -> None:
        self.readonly = readonly

    def restrict(self, path: str, options: str) -> None:
        """Set the rule of ``path`` (``/Objects/sub/obj``, ``/``, or ``*/name``).

        The path is the one the hierarchy shows, from the top; relative paths are refused
        rather than guessed, because a rule on the wrong path protects nothing. Empty
        ``options`` removes the rule.
        """
        wildcard, segments = self._key(path)
        rule = parse_rule(options)
        table = dict(self._wild if wildcard else self._exact)
        if rule == Rule():
            table.pop(segments, None)
        else:
            table[segments] = rule
        if wildcard:
            self._wild = table
        else:
            self._exact = table

    def unrestrict(self, path: str) -> None:
        self.restrict(path, "")

    @staticmethod
    def _key(path: str) -> tuple[bool, tuple[str, ...]]:
        text = path.strip()
        wildcard = text.startswith("*/")
        if not wildcard and not text.startswith("/"):
            raise ConfigError(
                f"restrict path {path!r} must start with '/' (as the hierarchy shows it, "
                "e.g. /Objects/sub/obj) or be a wildcard '*/name'"
            )
        segments = split_segments(text[2:] if wildcard else text)
        for seg in segments:
            if seg in (".", "..", "*"):
                raise ConfigError(f"restrict path {path!r}: segment {seg!r} is not allowed")
        if wildcard and not segments:
            raise ConfigError(f"restrict path {path!r}: a wildcard needs a name after '*/'")
        return wildcard, segments

    @property
    def has_rules(self) -> bool:
        """False only when every request sees everything: no rule, and no scoped token."""
        return bool(self._exact or self._wild or self.scoped)

    def rules(self) -> list[tuple[str, Rule]]:
        """Every rule with its path, for diagnostics pages."""
        out = [("/" + "/".join(k), r) for k, r in self._exact.items()]
        out += [("*/" + "/".join(k), r) for k, r in self._wild.items()]
        return out

    # -- queries ---------------------------------------------------------------------------

    def rule_for(self, segments: Sequence[str]) -> Rule | None:
        """The rule of exactly this node: an exact rule, else the longest matching wildcard."""
        key = tuple(segments)
        rule = self._exact.get(key)
        if rule is not None:
            return rule
        wild = self._wild
        if not wild or not key:
            return None
        for start in range(len(key)):
            rule = wild.get(key[start:])
            if rule is not None:
                return rule
        return None

    def access(self, path: str | Sequence[str], user: str | None) -> Access:
        """The access of ``user`` (``None`` = anonymous) to the item at ``path``."""
        segments = split_segments(path)
        scope = _scope(segments, user)
        if scope == _OUTSIDE:
            return Access(Level.HIDDEN, self.readonly)
        name = principal(user)
        level = _ROOT_LEVEL
        rule: Rule | None = None
        for depth in range(len(segments) + 1):
            rule = self.rule_for(segments[:depth])
            if rule is None:
                continue
            own = rule.level(name)
            if own is Level.HIDDEN:
                return Access(Level.HIDDEN, self.readonly)
            if own is not Level.DEFAULT:
                level = own
        if scope == _PASSAGE:  # on the way to a token's prefix: listed, nothing more
            return Access(Level.READONLY, self.readonly)
        # ``rule`` is now the target's own rule (the loop's last step) or None
        methods = rule.allow_method if rule is not None else frozenset()
        return Access(level, self.readonly, methods)

    def access_child(self, parent: Access, path: str | Sequence[str], user: str | None) -> Access:
        """The access of the child at ``path`` given its parent's, for listing walks.

        Equivalent to :meth:`access` on ``path`` when ``parent`` is the access of its parent,
        but O(1) in the depth, so rendering ``h.json`` costs one rule lookup per item.
        """
        if parent.hidden:
            return Access(Level.HIDDEN, self.readonly)
        if isinstance(user, ScopedUser):
            # a passage parent's READONLY is not what its children inherit: walk from the top
            return self.access(path, user)
        rule = self.rule_for(split_segments(path))
        if rule is None:
            return Access(parent.level, self.readonly)
        own = rule.level(principal(user))
        if own is Level.HIDDEN:
            return Access(Level.HIDDEN, self.readonly)
        level = parent.level if own is Level.DEFAULT else own
        return Access(level, self.readonly, rule.allow_method)

    def can_see(self, path: str | Sequence[str], user: str | None) -> bool:
        """Listed in ``h.json`` and readable (``root.json``, ``item.json``...); else 404."""
        if not self._exact and not self._wild and not isinstance(user, ScopedUser):
            return True  # no rule, nothing hidden: asked for every request, so no walk
        return not self.access(path, user).hidden

    def is_passage(self, path: str | Sequence[str], user: str | None) -> bool:
        """True when ``path`` is only on the way to a scoped user's prefixes: a folder there
        may be listed, an object there must not be read (see :class:`ScopedUser`)."""
        return _scope(split_segments(path), user) == _PASSAGE

    def can_call_method(self, path: str | Sequence[str], user: str | None, method: str) -> bool:
        """``exe.*``: full access, or ``method`` exactly in this item's ``allow_method``."""
        return self.access(path, user).may_call(method)

    def can_run_command(self, path: str | Sequence[str], user: str | None) -> bool:
        """``cmd.json``: refused when hidden or explicitly read-only; the server flag alone
        does not refuse (commands are the control channel of a read-only server)."""
        return self.access(path, user).may_run_command()

    def can_connect_websocket(self, path: str | Sequence[str], user: str | None) -> bool:
        """A websocket/long-poll connection sends data to the application, so it is judged
        like a command: refused when hidden or explicitly read-only."""
        return self.access(path, user).may_run_command()

    def can_post_object(self, path: str | Sequence[str], user: str | None, method: str) -> bool:
        """``_post_object_json_`` arguments: the server switch, and the call itself allowed."""
        return self.allow_post_objects and self.can_call_method(path, user, method)

    def visible_children(
        self, parent: Access, parent_path: Sequence[str], names: Iterable[str], user: str | None
    ) -> list[tuple[str, Access]]:
        """The children a listing may show, each with its access (hidden ones left out)."""
        base = tuple(parent_path)
        out = []
        for child in names:
            acc = self.access_child(parent, (*base, child), user)
            if not acc.hidden:
                out.append((child, acc))
        return out
