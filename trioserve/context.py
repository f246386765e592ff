"""What a request handler works with: the call, the host's state, and lookups under the policy.

The dispatcher, the request handlers (:mod:`trioserve.requests`) and the websocket layer
(:mod:`trioserve.ws`) all read the server through :class:`Host`, the few attributes they
need, never through :class:`~trioserve.server.Server` itself. The server imports those
layers, so naming it from below would tie them into one import loop; with the protocol here
the dependencies point one way only (server -> dispatch -> requests/ws -> context), and a
handler can be exercised against any object that carries these attributes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from trioserve.errors import RequestError
from trioserve.policy import ScopedUser
from trioserve.render.introspect import get_member
from trioserve.tree import Resolved

if TYPE_CHECKING:
    import os

    import trio

    from trioserve.appthread import ObjectAccess
    from trioserve.auth.tokens import TokenAuthority
    from trioserve.call import Call, Response
    from trioserve.files import Locations
    from trioserve.policy import Policy
    from trioserve.tree import Tree

__all__ = [
    "Handler",
    "Host",
    "MissedRequestHook",
    "RequestContext",
    "resolve_visible",
    "surely_missing",
]

T = TypeVar("T")

#: ROOT's MissedRequest: called for request names no handler knows; return a Response or None
MissedRequestHook = Callable[["Call"], "Response | Awaitable[Response | None] | None"]


class Host(Protocol):
    """The part of the server that the layers below it read (``Server`` satisfies it)."""

    tree: Tree
    policy: Policy
    locations: Locations
    access: ObjectAccess
    top_name: str
    default_page: str | None
    cors: str | None
    cors_credentials: str | None
    max_age: int
    nocache: bool
    missed_request: MissedRequestHook | None

    @property
    def nursery(self) -> trio.Nursery | None: ...

    @property
    def tokens(self) -> TokenAuthority:
        """Judges the access tokens requests carry (:mod:`trioserve.auth.tokens`)."""
        ...

    def register(
        self, folder: str, obj: Any, name: str | None = None, title: str | None = None
    ) -> str: ...

    def set_item_field(self, path: str, name: str, value: str | None) -> None: ...

    def add_location(
        self, prefix: str, directory: str | os.PathLike[str], **options: Any
    ) -> None: ...


def resolve_visible(
    host: Host, item_path: str, user: str | None, *, members: bool = True
) -> Resolved | None:
    """The item at ``item_path``, or ``None`` when it is missing *or hidden* from ``user``:
    both must look the same from outside (404), whatever request kind asks."""
    found = host.tree.resolve(item_path, members=members, get_member=get_member)
    if found is None:
        return None
    return _visible(host, found, user)


def _visible(host: Host, found: Resolved, user: str | None) -> Resolved | None:
    policy = host.policy
    scoped = isinstance(user, ScopedUser)
    if (policy.has_rules or scoped) and not policy.can_see(found.path(), user):
        return None
    if scoped and not found.node.is_folder and policy.is_passage(found.path(), user):
        # a token limited to a member of an object may not read the object it lies in
        return None
    return found


def surely_missing(host: Host, item_path: str, user: str | None) -> bool:
    """Whether :func:`resolve_visible` finds nothing at ``item_path`` for ``user`` whatever
    the objects hold, judged from the tree and the policy alone (no object is read, so the
    server's thread may ask while the program owns its objects).

    False where only the objects can tell (a member path inside an object this user sees),
    so a caller that answers the True cases early answers a hidden item exactly when it
    would answer a missing one at the same place: the timing shows no more than the bytes.
    """
    walked = host.tree.reach(item_path)
    if walked is None:
        return True
    node, members = walked
    # the policy judges a path and whether its node is a folder, never the value: so the
    # verdict on what resolve_visible would find is known before reading any object
    if _visible(host, Resolved(node=node, members=members), user) is not None:
        return False
    # a hidden member path counts only when its object is hidden too: a rule hiding a member
    # of an object this user sees must cost what a missing member there costs (the objects'
    # answer), or the time would tell the rule from a typo
    return not members or _visible(host, Resolved(node=node), user) is None


@dataclass(slots=True)
class RequestContext:
    """What a request handler gets: the call, the host, and helpers that apply the policy."""

    call: Call
    server: Host
    #: the dispatcher's entry point, so ``multi.*`` can judge each line as if it came alone
    dispatch: Callable[[Call], Awaitable[Response]]
    file_name: str
    item_path: str
    gzip: bool = False

    @property
    def user(self) -> str | None:
        return self.call.user

    def resolve(self, *, members: bool = True) -> Resolved | None:
        """The item named by the request path, or ``None`` when it is missing *or hidden*
        from this user: both look the same from outside (404)."""
        return resolve_visible(self.server, self.item_path, self.call.user, members=members)

    def resolve_path(self, path: str, *, members: bool = True) -> Resolved | None:
        """Another item, judged for this request's user exactly as :meth:`resolve`."""
        return resolve_visible(self.server, path, self.call.user, members=members)

    def can_see_path(self, path: str, user: str | None) -> bool:
        return bool(self.server.policy.can_see(path, user))

    def require(self, *, members: bool = True) -> Resolved:
        found = self.resolve(members=members)
        if found is None:
            raise RequestError(404, "not_found", "no such item")
        return found

    async def run(
        self, fn: Callable[[], T], *, blocking: bool = False, label: str | None = None
    ) -> T:
        """Touch objects through the server's access mode (inline, or in the program's own
        thread); ``blocking`` work goes to a bounded worker pool in inline mode. ``label``
        names the work in the warning logged if a shutdown has to abandon it."""
        return await self.server.access.run(fn, blocking=blocking, label=label)

    async def run_on_item(self, fn: Callable[[], T], *, label: str | None = None) -> T:
        """:meth:`run` for work that begins by resolving the request's own item and answers
        404 ``not_found`` when it finds nothing. Where that work would wait for the program's
        thread, an item the tree and the policy already show to be missing or hidden
        (:func:`surely_missing`) gets that 404 at once: it does not wait for the program's
        next ``process_requests()``, nor turn into a 503 when that does not come in time."""
        access = self.server.access
        if access.crosses_threads and surely_missing(self.server, self.item_path, self.user):
            raise RequestError(404, "not_found", "no such item")
        return await access.run(fn, label=label)

    def query(self) -> dict[str, str]:
        return self.call.query_dict()

    def compact(self, default: int = 0) -> int:
        value = self.query().get("compact")
        if value is None or value == "":
            return default
        try:
            level = int(value)
        except ValueError:
            raise RequestError(400, "bad_compact", "compact must be an integer") from None
        if not 0 <= level <= 999:
            raise RequestError(400, "bad_compact", "compact must be between 0 and 999")
        return level


Handler = Callable[[RequestContext], Awaitable["Response"]]
