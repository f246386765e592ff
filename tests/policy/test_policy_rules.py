"""Table-driven tests of the access policy: every example of reference §4.3 plus ours."""

from __future__ import annotations

import pytest

from trioserve.errors import ConfigError
from trioserve.policy import (
    ANONYMOUS,
    Access,
    Level,
    Policy,
    Rule,
    parse_rule,
    principal,
    split_segments,
)

H, D, R, F = Level.HIDDEN, Level.DEFAULT, Level.READONLY, Level.FULL

# (options, user, expected level). None = anonymous.
RULE_TABLE = [
    # reference §4.3 examples
    ("visible=admin", "admin", D),
    ("visible=admin", "guest", H),
    ("hidden=guest", "guest", H),
    ("hidden=guest", "admin", D),
    ("hidden=all", "admin", H),
    ("hidden=all", "guest", H),
    ("allow=admin", "admin", F),
    ("allow=admin", "guest", R),
    ("readonly=all", "admin", R),
    ("readonly=all", "guest", R),
    ("allow=all", "guest", F),
    ("visible=all", "guest", D),
    # full access wins even over hiding (step 1 before step 2)
    ("allow=admin&hidden=all", "admin", F),
    ("allow=admin&hidden=all", "guest", H),
    ("visible=admin&hidden=all", "admin", D),
    ("visible=admin&hidden=all", "guest", H),
    ("allow=admin&readonly=all", "admin", F),
    ("allow=admin&readonly=all", "guest", R),
    ("allow=all&readonly=guest", "guest", R),
    ("allow=all&readonly=guest", "admin", F),
    ("visible=admin,guest", "guest", D),
    ("visible=admin,guest", "other", H),
    ("visible= admin , guest ", "guest", D),
    # differences from ROOT: readonly=X grants nobody else anything (ROOT: admin -> full)
    ("readonly=guest", "guest", R),
    ("readonly=guest", "admin", D),
    ("readonly=guest", None, D),
    # anonymous is a real principal (ROOT: always default)
    ("hidden=all", None, H),
    ("visible=admin", None, H),
    ("readonly=all", None, R),
    ("allow=all", None, F),
    ("allow=admin", None, R),
    ("hidden=anonymous", None, H),
    ("hidden=anonymous", "guest", D),
    ("visible=anonymous", None, D),
    ("visible=anonymous", "guest", H),
    ("allow=anonymous", None, F),
    # exact names, never substrings
    ("visible=administrator", "admin", H),
    ("visible=admin", "adm", H),
    ("hidden=admin2", "admin", D),
    ("allow=xadmin", "admin", R),
    ("visible=Admin", "admin", H),
    # empty values count as absent
    ("hidden=", "guest", D),
    ("visible=,", "guest", D),
    ("allow_method=GetTitle", "guest", D),
    ("", "guest", D),
]


@pytest.mark.parametrize(("options", "user", "expected"), RULE_TABLE)
def test_rule_levels(options: str, user: str | None, expected: Level) -> None:
    assert parse_rule(options).level(principal(user)) is expected
    policy = Policy()
    policy.restrict("/Folder/item", options)
    assert policy.access("/Folder/item", user).level is expected
    # unrestricted sibling stays default
    assert policy.access("/Folder/other", user).level is D


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("hide=guest", "typo for 'hidden' found in ROOT's own user guide"),
        ("allow_method=GetTitle&hide=guest", "typo for 'hidden'"),
        ("visibile=admin", "did you mean 'visible'"),
        ("bogus=1", "unknown restrict option 'bogus'"),
        ("hidden", "needs a value"),
        ("hidden=a&hidden=b", "given twice"),
        ("visible=all,admin", "cannot be combined"),
        ("allow_method=_secret", "not a public method name"),
        ("allow_method=Get Title", "not a public method name"),
        ("allow_method=__class__", "not a public method name"),
        ("visible=a:b", "not a valid user name"),
        ("visible=a%0Ab", "not a valid user name"),
    ],
)
def test_bad_options_raise(options: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        Policy().restrict("/x", options)


def test_hide_message_is_explicit() -> None:
    with pytest.raises(ConfigError) as info:
        parse_rule("hide=guest")
    assert "hidden" in str(info.value) and "user guide" in str(info.value)


def test_percent_decoding_of_values() -> None:
    rule = parse_rule("visible=J%C3%BCrgen")
    assert rule.level("Jürgen") is D
    assert rule.level("guest") is H


@pytest.mark.parametrize(
    "path", ["Folder", "Objects/x", "", "  ", "*/", "*", "/a/../b", "/a/./b", "/a/*/b"]
)
def test_bad_paths_raise(path: str) -> None:
    with pytest.raises(ConfigError):
        Policy().restrict(path, "hidden=all")


@pytest.mark.parametrize("spelling", ["/Folder", "/Folder/", "//Folder", "/Folder//", " /Folder"])
def test_restrict_path_spellings_are_equivalent(spelling: str) -> None:
    policy = Policy()
    policy.restrict(spelling, "hidden=guest")
    assert policy.access("/Folder", "guest").hidden
    assert policy.access(("Folder",), "guest").hidden
    assert policy.access("Folder/", "guest").hidden


def test_split_segments() -> None:
    assert split_segments("/a//b/") == ("a", "b")
    assert split_segments(["", "a", "b"]) == ("a", "b")
    assert split_segments("/") == ()


def test_principal() -> None:
    assert principal(None) == ANONYMOUS == "anonymous"
    assert principal("") == ANONYMOUS
    assert principal("admin") == "admin"


# ---- inheritance (§4.4) -------------------------------------------------------------------

# rules as (path, options); checks as (path, user, level)
INHERITANCE = [
    (
        [("/Folder", "hidden=guest")],
        [
            ("/Folder", "guest", H),
            ("/Folder/histo1", "guest", H),
            ("/Folder/sub/deep", "guest", H),
            ("/Folder/histo1", "admin", D),
            ("/Other", "guest", D),
            ("/Folder2", "guest", D),  # prefix of a name is not the name
        ],
    ),
    (
        # a child cannot re-open a hidden parent, not even with allow
        [("/Folder", "visible=admin"), ("/Folder/histo1", "allow=all")],
        [
            ("/Folder/histo1", "guest", H),
            ("/Folder/histo1", "admin", F),
            ("/Folder/histo2", "admin", D),
            ("/Folder/histo2", None, H),
        ],
    ),
    (
        # 0 inherits 1/2, explicit child overrides
        [("/Folder", "allow=admin"), ("/Folder/ro", "readonly=all")],
        [
            ("/Folder/x", "admin", F),
            ("/Folder/x/member", "admin", F),
            ("/Folder/x", "guest", R),
            ("/Folder/ro", "admin", R),
            ("/Folder/ro/member", "admin", R),
        ],
    ),
    (
        [("/Folder", "readonly=all"), ("/Folder/open", "allow=guest")],
        [
            ("/Folder/open", "guest", F),
            ("/Folder/open/m", "guest", F),
            ("/Folder/open", "admin", R),
            ("/Folder/other", "guest", R),
        ],
    ),
    (
        # a rule on the top applies to everything below
        [("/", "visible=admin")],
        [("/", "guest", H), ("/Objects/x", "guest", H), ("/Objects/x", "admin", D)],
    ),
    (
        # ROOT's wildcard: any item with that name at any depth
        [("*/secret", "hidden=all")],
        [
            ("/secret", "admin", H),
            ("/Objects/secret", "admin", H),
            ("/Objects/a/b/secret", None, H),
            ("/Objects/secret/child", "admin", H),
            ("/Objects/secrets", "admin", D),
            ("/Objects/Secret", "admin", D),
            ("/", "admin", D),
        ],
    ),
    (
        # an exact rule beats a wildcard; a longer wildcard suffix beats a shorter one
        [("*/log", "hidden=all"), ("/Objects/log", "visible=all"), ("*/keep/log", "allow=all")],
        [
            ("/Objects/log", "guest", D),
            ("/Other/log", "guest", H),
            ("/Other/keep/log", "guest", F),
        ],
    ),
    (
        # restricting names in path case-sensitively: another spelling is another item
        [("/Objects/Secret", "hidden=all")],
        [("/Objects/secret", "guest", D), ("/Objects/Secret", "guest", H)],
    ),
]


@pytest.mark.parametrize(("rules", "checks"), INHERITANCE)
def test_inheritance(
    rules: list[tuple[str, str]], checks: list[tuple[str, str | None, Level]]
) -> None:
    policy = Policy()
    for path, options in rules:
        policy.restrict(path, options)
    for path, user, expected in checks:
        got = policy.access(path, user).level
        assert got is expected, (path, user, got, expected)
        # the incremental walk gives the same answer
        segs = split_segments(path)
        acc = policy.access((), user)
        for depth in range(1, len(segs) + 1):
            acc = policy.access_child(acc, segs[:depth], user)
        assert acc.level is expected, ("walk", path, user)


def test_replacing_and_removing_a_rule() -> None:
    policy = Policy()
    policy.restrict("/a", "hidden=guest")
    policy.restrict("/a", "readonly=guest")  # replaces, ROOT would keep the first
    assert policy.access("/a", "guest").level is R
    assert policy.has_rules
    assert policy.rules() == [("/a", parse_rule("readonly=guest"))]
    policy.unrestrict("/a")
    assert not policy.has_rules
    assert policy.access("/a", "guest").level is D
    policy.restrict("*/w", "hidden=all")
    assert policy.rules() == [("*/w", parse_rule("hidden=all"))]
    policy.restrict("*/w", "")
    assert not policy.has_rules


# ---- methods -------------------------------------------------------------------------------


def _methods_policy(readonly: bool = True) -> Policy:
    policy = Policy(readonly=readonly)
    policy.restrict("/Folder/histo1", "allow_method=GetTitle")
    policy.restrict("/Folder/log", "allow_method=Select,GetTitle")
    policy.restrict("/Folder", "allow_method=Reset")
    policy.restrict("/Folder/admin_only", "allow=admin")
    return policy


METHOD_TABLE = [
    # (path, user, method, allowed on read-only server, allowed on read-write server)
    ("/Folder/histo1", "guest", "GetTitle", True, True),
    ("/Folder/histo1", None, "GetTitle", True, True),
    ("/Folder/histo1", "guest", "Get", False, True),  # never a substring
    ("/Folder/histo1", "guest", "Title", False, True),
    ("/Folder/histo1", "guest", "GetTitl", False, True),
    ("/Folder/histo1", "guest", "gettitle", False, True),
    ("/Folder/histo1", "guest", "GetTitleX", False, True),
    ("/Folder/histo1", "guest", "Select", False, True),  # sibling's list does not leak
    ("/Folder/log", "guest", "Select", True, True),
    ("/Folder/log", "guest", "GetTitle", True, True),
    ("/Folder/log", "guest", "Reset", False, True),  # parent's list is the parent's only
    ("/Folder", "guest", "Reset", True, True),
    ("/Folder/histo2", "guest", "GetTitle", False, True),
    ("/Folder/histo1/fTitle", "guest", "GetTitle", False, True),  # member: not the item
    ("/Folder/admin_only", "admin", "Anything", True, True),
    ("/Folder/admin_only", "guest", "Anything", False, False),
    ("/Folder/admin_only", "admin", "_private", False, False),  # never "_" names
    ("/Folder/admin_only", "admin", "__class__", False, False),
    ("/Folder/admin_only", "admin", "", False, False),
    ("/Folder/admin_only", "admin", "a.b", False, False),
]


@pytest.mark.parametrize(("path", "user", "method", "on_ro", "on_rw"), METHOD_TABLE)
def test_can_call_method(
    path: str, user: str | None, method: str, on_ro: bool, on_rw: bool
) -> None:
    assert _methods_policy(readonly=True).can_call_method(path, user, method) is on_ro
    assert _methods_policy(readonly=False).can_call_method(path, user, method) is on_rw


def test_methods_are_per_item_only() -> None:
    policy = _methods_policy()
    assert policy.access("/Folder/histo1", "guest").methods == frozenset({"GetTitle"})
    assert policy.access("/Folder/log", "guest").methods == frozenset({"Select", "GetTitle"})
    assert policy.access("/Folder/histo2", "guest").methods == frozenset()
    assert policy.access("/Folder/histo1/member", "guest").methods == frozenset()


def test_hidden_item_methods_refused_even_if_listed() -> None:
    policy = Policy(readonly=False)
    policy.restrict("/x", "hidden=guest&allow_method=GetTitle")
    assert not policy.can_call_method("/x", "guest", "GetTitle")
    assert policy.can_call_method("/x", "admin", "GetTitle")
    assert policy.access("/x", "guest").methods == frozenset()


def test_set_readonly_switches_default() -> None:
    policy = Policy()
    assert policy.readonly is True
    assert not policy.can_call_method("/x", "guest", "Fill")
    policy.set_readonly(False)
    assert policy.can_call_method("/x", "guest", "Fill")
    policy.set_readonly()
    assert not policy.can_call_method("/x", "guest", "Fill")


def test_post_objects_off_by_default() -> None:
    policy = Policy(readonly=False)
    assert policy.allow_post_objects is False
    assert not policy.can_post_object("/x", None, "Add")
    policy.allow_post_objects = True
    assert policy.can_post_object("/x", None, "Add")
    policy.restrict("/x", "readonly=all")
    assert not policy.can_post_object("/x", None, "Add")


# ---- commands and websockets --------------------------------------------------------------

COMMAND_TABLE = [
    # (rules, path, user, on_ro_server, on_rw_server)
    ([], "/Start", None, True, True),  # default: commands are the control channel
    ([("/Start", "visible=admin")], "/Start", "guest", False, False),  # ROOT runs it
    ([("/Start", "visible=admin")], "/Start", None, False, False),
    ([("/Start", "visible=admin")], "/Start", "admin", True, True),
    ([("/Start", "hidden=all")], "/Start", "admin", False, False),
    ([("/Start", "readonly=all")], "/Start", "admin", False, False),
    ([("/Start", "allow=admin")], "/Start", "admin", True, True),
    ([("/Start", "allow=admin")], "/Start", "guest", False, False),
    ([("/Cmds", "hidden=guest")], "/Cmds/Reset", "guest", False, False),
    ([("/Cmds", "readonly=guest")], "/Cmds/Reset", "guest", False, False),
    ([("/Cmds", "allow=guest")], "/Cmds/Reset", "guest", True, True),
]


@pytest.mark.parametrize(("rules", "path", "user", "on_ro", "on_rw"), COMMAND_TABLE)
def test_commands_and_websockets(
    rules: list[tuple[str, str]], path: str, user: str | None, on_ro: bool, on_rw: bool
) -> None:
    for readonly, expected in ((True, on_ro), (False, on_rw)):
        policy = Policy(readonly=readonly)
        for rpath, options in rules:
            policy.restrict(rpath, options)
        assert policy.can_run_command(path, user) is expected
        assert policy.can_connect_websocket(path, user) is expected


def test_can_see() -> None:
    policy = Policy()
    policy.restrict("/Folder", "visible=admin")
    assert policy.can_see("/Folder/h", "admin")
    assert not policy.can_see("/Folder/h", "guest")
    assert not policy.can_see("/Folder/h", None)
    assert policy.can_see("/", None)


def test_visible_children_leaves_hidden_out() -> None:
    policy = Policy()
    policy.restrict("/Objects/b", "hidden=guest")
    policy.restrict("/Objects/c", "allow=guest")
    top = policy.access("/Objects", "guest")
    kids = policy.visible_children(top, ("Objects",), ["a", "b", "c"], "guest")
    assert [name for name, _ in kids] == ["a", "c"]
    assert kids[1][1].full
    hidden_parent = Access(Level.HIDDEN)
    assert policy.visible_children(hidden_parent, ("Objects",), ["a"], "guest") == []


ACCESS_FLAGS = [
    # (level, server_readonly, hidden, readonly, full)
    (H, True, True, False, False),
    (H, False, True, False, False),
    (D, True, False, True, False),
    (D, False, False, False, True),
    (R, True, False, True, False),
    (R, False, False, True, False),
    (F, True, False, False, True),
    (F, False, False, False, True),
]


@pytest.mark.parametrize(("level", "server_ro", "hidden", "readonly", "full"), ACCESS_FLAGS)
def test_access_flags(
    level: Level, server_ro: bool, hidden: bool, readonly: bool, full: bool
) -> None:
    acc = Access(level, server_ro)
    assert (acc.hidden, acc.readonly, acc.full) == (hidden, readonly, full)


def test_rule_default_is_empty() -> None:
    assert parse_rule("") == Rule()
    assert parse_rule("&&") == Rule()


REASONS = [
    # (level, server_readonly, methods, method, expected reason fragment or None)
    (H, False, frozenset(), "Fill", "item not found"),
    (F, True, frozenset(), "_x", "not a public method name"),
    (F, True, frozenset(), "Fill", None),
    (D, False, frozenset(), "Fill", None),
    (D, True, frozenset({"Fill"}), "Fill", None),
    (D, True, frozenset({"Fill"}), "Fil", "server runs in read-only mode"),
    (R, False, frozenset(), "Fill", "read-only access to this item"),
]


@pytest.mark.parametrize(("level", "server_ro", "methods", "method", "reason"), REASONS)
def test_why_not_call(
    level: Level, server_ro: bool, methods: frozenset[str], method: str, reason: str | None
) -> None:
    acc = Access(level, server_ro, methods)
    got = acc.why_not_call(method)
    assert (got is None) == acc.may_call(method)
    if reason is None:
        assert got is None
    else:
        assert got is not None and reason in got


@pytest.mark.parametrize(
    ("level", "reason"),
    [(H, "item not found"), (R, "read-only access"), (D, None), (F, None)],
)
def test_why_not_command(level: Level, reason: str | None) -> None:
    acc = Access(level, True)
    got = acc.why_not_command()
    assert (got is None) == acc.may_run_command()
    assert got == reason or (got is not None and reason is not None and reason in got)
