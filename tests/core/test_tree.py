"""The tree: ROOT's path rules, sanitised names, member resolution through public names."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from trioserve.errors import RegistrationError
from trioserve.render.introspect import get_member
from trioserve.tree import Tree, normalize_api_path, sanitize_name


@dataclass
class Inner:
    value: int = 3
    _secret: str = "no"


@dataclass
class Outer:
    name: str = "outer"
    title: str = "an outer object"
    inner: Inner = field(default_factory=Inner)


def test_api_paths_relative_to_objects() -> None:
    assert normalize_api_path("hists/sub") == ["Objects", "hists", "sub"]
    assert normalize_api_path("/") == []
    assert normalize_api_path("//a//b/") == ["a", "b"]
    assert normalize_api_path("") == ["Objects"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("plain", "plain"),
        ("a b", "a_b"),
        ("x<y>", "x_y_"),
        ("a/b", "a_b"),
        ("q?&#:", "q____"),
        ("it's", "it_s"),
        ("100%", "100_"),
        ("été", "été"),
    ],
)
def test_sanitize(name: str, expected: str) -> None:
    assert sanitize_name(name) == expected


def test_register_find_and_paths() -> None:
    tree = Tree()
    obj = Outer()
    node = tree.register("sub", obj)
    assert node.path() == "/Objects/sub/outer"
    assert node.title == "an outer object"
    assert tree.find("sub/outer") is node
    assert tree.find("/Objects/sub/outer") is node
    top_node = tree.register("/", Outer(name="top"), name="t")
    assert top_node.path() == "/t"


def test_duplicate_names_get_suffixes_and_realname() -> None:
    tree = Tree()
    a = tree.register("f", object(), name="h 1")
    b = tree.register("f", object(), name="h 1")
    assert (a.name, b.name) == ("h_1", "h_1_0")
    assert a.fields["_realname"] == "h 1"


def test_same_object_twice_in_one_folder_is_refused() -> None:
    tree = Tree()
    obj = Outer()
    tree.register("f", obj)
    with pytest.raises(RegistrationError):
        tree.register("f", obj, name="again")


def test_unregister_removes_fields_with_item() -> None:
    tree = Tree()
    obj = Outer()
    tree.register("f", obj)
    tree.set_field("f/outer", "_monitoring", "100")
    assert tree.unregister(obj) == 1
    assert tree.find("f/outer") is None
    other = tree.register("f", Outer())
    assert "_monitoring" not in other.fields


def test_fields_and_title() -> None:
    tree = Tree()
    tree.register("f", Outer())
    tree.set_field("f/outer", "_title", "new title")
    assert tree.get_field("f/outer", "_title") == "new title"
    tree.set_field("/", "_layout", "grid2x2")
    assert tree.top.fields == {"_layout": "grid2x2"}
    tree.set_field("/", "_layout", None)
    assert tree.top.fields == {}
    with pytest.raises(RegistrationError):
        tree.set_field("missing", "_x", "1")


def test_resolve_members_only_public() -> None:
    tree = Tree()
    obj = Outer()
    tree.register("f", obj)
    found = tree.resolve("Objects/f/outer/inner/value", get_member=get_member)
    assert found is not None and found.value == 3
    assert found.path() == "/Objects/f/outer/inner/value"
    assert tree.resolve("Objects//f///outer", get_member=get_member).value is obj  # type: ignore[union-attr]
    for bad in (
        "Objects/f/outer/inner/_secret",
        "Objects/f/outer/__class__",
        "Objects/f/outer/__dict__",
        "Objects/f/outer/inner/__init__",
        "Objects/f/outer/..",
        "Objects/f/../f/outer",
        "Objects/f/outer/missing",
    ):
        assert tree.resolve(bad, get_member=get_member) is None, bad
    assert tree.resolve("Objects/f/outer/inner", members=False) is None


def test_commands_live_in_the_tree() -> None:
    tree = Tree()
    node = tree.register_command("/Start", lambda: 1, fields={"_fastcmd": "true"})
    assert node.is_command and node.path() == "/Start"
    with pytest.raises(RegistrationError):
        tree.register_command("/Start", lambda: 2)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: t.register("f", object(), name="."), "'.' cannot be reached"),
        (lambda t: t.register("f", object(), name=".."), "'..' cannot be reached"),
        (lambda t: t.register("f", object(), name="a/b"), "contains '/'"),
        (lambda t: t.register("f/./g", object(), name="x"), "folder name '.'"),
        (lambda t: t.register("../f", object(), name="x"), "folder name '..'"),
        (lambda t: t.register("/..", object(), name="x"), "folder name '..'"),
        (lambda t: t.create_folder("a/.."), "folder name '..'"),
        (lambda t: t.register_command("/cmds/..", lambda: 1), "command name '..'"),
        (lambda t: t.register_command("/./run", lambda: 1), "folder name '.'"),
    ],
)
def test_unreachable_names_are_refused_at_registration(call, message: str) -> None:  # type: ignore[no-untyped-def]
    tree = Tree()
    with pytest.raises(RegistrationError, match=message):
        call(tree)
    # nothing half-made: the refused folder or item is not in the tree
    assert [node.path() for node in tree.walk()] in ([], ["/Objects"], ["/Objects/f"])


def test_an_object_named_with_a_slash_is_refused_unless_named() -> None:
    tree = Tree()
    with pytest.raises(RegistrationError, match="put the folders in the path"):
        tree.register("f", Outer(name="dir/h"))
    assert tree.register("f/dir", Outer(name="dir/h"), name="h").path() == "/Objects/f/dir/h"
    # dots inside a name are ordinary characters
    assert tree.register("f", object(), name="v1.2").path() == "/Objects/f/v1.2"
