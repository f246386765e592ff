"""surely_missing(): the 404s the server's thread may give without the program's objects.

``sync="app"`` answers these at once instead of waiting for the program's next
``process_requests()`` (:meth:`RequestContext.run_on_item`). Two promises, checked over every
path and user below: it is never True where :func:`resolve_visible` would find something,
so an early 404 is never a wrong one; and a hidden item is answered early exactly where a
missing one at the same place is, so the timing tells no more than the bytes.
"""

from __future__ import annotations

import itertools

import pytest

import trioserve
from trioserve.context import resolve_visible, surely_missing
from trioserve.policy import ScopedUser

PATHS = [
    "",
    "Objects",
    "Objects/hists/hpx",
    "Objects/hists/hpx/a",
    "Objects/hists/hpx/zz",
    "Objects/hists/hpx/b/c",
    "Objects/hists/hpx/b/zz",
    "Objects/hists/nope",
    "nope",
    "nope/x",
    "Objects/secret/s",
    "Objects/secret/s/k",
    "Objects/secret/s/zz",
    "Objects/open/cfg/priv",
    "Objects/open/cfg/pub",
    "Objects/open/cfg/zz",
    "Objects/../Objects",
    "Objects/hists/hpx/..",
    "Objects/hists/hpx/./a",
    "//Objects//hists//hpx//a",
]
ALICE = ScopedUser("alice", ["/Objects/hists/hpx/b"])
USERS = [None, "carol", ALICE, ScopedUser("bob", ["/Objects/secret/s"])]


def _server() -> trioserve.Server:
    server = trioserve.Server()
    server.register("/Objects/hists", {"a": 1, "b": {"c": 2}}, name="hpx")
    server.register("/Objects/secret", {"k": 1}, name="s")
    server.register("/Objects/open", {"pub": 1, "priv": 2}, name="cfg")
    server.restrict("/Objects/secret", "hidden=all")
    server.restrict("/Objects/open/cfg/priv", "hidden=all")
    return server


@pytest.mark.parametrize(("path", "user"), list(itertools.product(PATHS, USERS)))
def test_never_true_where_something_is_found(path: str, user: str | None) -> None:
    server = _server()
    if surely_missing(server, path, user):
        assert resolve_visible(server, path, user) is None


@pytest.mark.parametrize(
    ("user", "path", "expected"),
    [
        (None, "nope/x", True),  # not in the tree
        (None, "Objects/hists/nope", True),
        (None, "Objects/hists/hpx/..", True),
        (None, "Objects/hists/hpx", False),  # there: the program renders it
        (None, "Objects/hists/hpx/zz", False),  # a member: only the object can tell
        (None, "Objects/secret/s", True),  # hidden: as early as "nope/x"
        (None, "Objects/secret/s/k", True),  # inside a hidden object, there or not:
        (None, "Objects/secret/s/zz", True),  # both early
        (None, "Objects/open/cfg/priv", False),  # a hidden member of a visible object and
        (None, "Objects/open/cfg/zz", False),  # a missing one: both wait for the object
        ("carol", "Objects/secret/s/k", True),
        (ALICE, "Objects/hists/hpx", True),  # the object on the token's way: not readable
        (ALICE, "Objects/hists/hpx/a", True),  # beside the token's subtree
        (ALICE, "Objects/hists/hpx/b/c", False),  # inside it
        (ALICE, "Objects/hists/hpx/b/zz", False),
        (ALICE, "Objects/secret/s", True),
    ],
)
def test_hidden_answers_when_missing_does(user: str | None, path: str, expected: bool) -> None:
    assert surely_missing(_server(), path, user) is expected


def test_reach_reads_the_tree_only() -> None:
    server = _server()
    hpx = server.tree.resolve("Objects/hists/hpx")
    assert hpx is not None
    assert server.tree.reach("Objects/hists/hpx/b/c") == (hpx.node, ("b", "c"))
    assert server.tree.reach("//Objects//hists//hpx") == (hpx.node, ())
    assert server.tree.reach("Objects/nope/b") is None
    assert server.tree.reach("Objects/hists/hpx/./b") is None
    assert server.tree.reach("Objects/hists/..") is None
