"""Every dict key is rendered and reachable, and every listed member name resolves back
(issue 15, items 4 and 5): non-``str`` keys are named as ROOT names items, names with
characters a URL cannot carry get sanitised item names with ``_realname``."""

from __future__ import annotations

import enum
import json
from collections import defaultdict
from typing import Any

import pytest

from tests.render.jsroot_decode import parse
from trioserve.render import render_cbor, render_json, render_xml
from trioserve.render.introspect import get_member, key_name, named_members, public_members


class Color(enum.Enum):
    RED = 1


class Opaque:
    def __str__(self) -> str:  # must never run on a GET
        raise AssertionError("a key's __str__ ran")

    def __hash__(self) -> int:
        return 7


@pytest.mark.parametrize(
    ("key", "name"),
    [
        (1, "1"),
        (2.5, "2.5"),
        (-1, "key_1"),
        (None, "None"),
        (True, "True"),
        ((1, 2), "1,2"),
        (("run", 7), "run,7"),
        (Color.RED, "RED"),
        (b"raw", "b_raw_"),
        (Opaque(), "Opaque"),
        (frozenset(), "frozenset"),
    ],
)
def test_key_names(key: object, name: str) -> None:
    assert key_name(key) == name


def test_issue_example_renders_every_key_and_each_is_reachable() -> None:
    d = {1: 10.5, 2: 20.5, "name": "x"}
    assert json.loads(render_json(d, 3)) == {"_typename": "dict", "1": 10.5, "2": 20.5, "name": "x"}
    assert named_members(d) == [("1", None, 10.5), ("2", None, 20.5), ("name", None, "x")]
    assert [get_member(d, n) for n in ("1", "2", "name")] == [10.5, 20.5, "x"]


def test_clashes_and_dirty_names_resolve_back() -> None:
    d: dict[Any, Any] = {1: "int", "1": "str", "a/b": "slash", "a_b": "clean", -1: "neg"}
    d["two words"] = "space"
    d["."] = "dot"
    listed = named_members(d)
    assert listed == [
        ("1_0", "1", "int"),
        ("1", None, "str"),
        ("a_b_0", "a/b", "slash"),
        ("a_b", None, "clean"),
        ("key_1", "-1", "neg"),
        ("two_words", "two words", "space"),
        ("key_", ".", "dot"),
    ]
    for name, _, value in listed:
        assert get_member(d, name) == value, name
    # the JSON keeps str keys as written (scripts read them) and names the others
    rendered = json.loads(render_json(d, 3))
    assert rendered["a/b"] == "slash" and rendered["1_0"] == "int" and rendered["1"] == "str"
    assert rendered["key_1"] == "neg" and rendered["two words"] == "space"
    # a str key is reachable as written too (there is no other meaning it could have)
    assert get_member(d, "two words") == "space"


def test_renderers_agree_on_names() -> None:
    d = {1: 1.5, (2, 3): "t", "s": None}
    keys = ["1", "2,3", "s"]
    assert list(json.loads(render_json(d, 0)))[1:] == keys
    assert list(public_members(d)) == keys
    assert render_xml(d).count('<member name="2,3">') == 1
    assert b"2,3" in render_cbor(d)


def test_names_do_not_depend_on_equal_keys_of_other_types() -> None:
    # 1, 1.0 and True are equal dict keys with different names: no remembered shape mixes them
    texts = [render_json({k: 5, "x": 1}, 3) for k in (1, True, 1.0, 1)]
    assert [json.loads(t) for t in texts] == [
        {"_typename": "dict", "1": 5, "x": 1},
        {"_typename": "dict", "True": 5, "x": 1},
        {"_typename": "dict", "1.0": 5, "x": 1},
        {"_typename": "dict", "1": 5, "x": 1},
    ]


def test_large_dicts_with_int_keys_keep_every_entry() -> None:
    big: dict[Any, Any] = {i: i * 0.5 for i in range(100)}
    big["label"] = "many"
    decoded = parse(render_json(big, 23))
    assert len(decoded) == 102 and decoded["99"] == 49.5 and decoded["label"] == "many"
    assert get_member(big, "99") == 49.5


def test_private_and_code_still_never_reachable() -> None:
    d: dict[Any, Any] = {"_secret": 1, "$ref": 2, 3: len, "ok": 4}
    assert named_members(d) == [("ok", None, 4)]
    for name in ("_secret", "$ref", "3", "key3", "__class__"):
        with pytest.raises(KeyError):
            get_member(d, name)


def test_a_miss_does_not_grow_a_defaultdict() -> None:
    d: defaultdict[Any, list[int]] = defaultdict(list, {1: [1]})
    assert get_member(d, "1") == [1]
    with pytest.raises(KeyError):
        get_member(d, "missing")
    assert list(d) == [1]


def test_attribute_names_with_slashes_are_renamed_for_urls() -> None:
    class Odd:
        pass

    obj = Odd()
    setattr(obj, "a/b", 1)
    obj.plain = 2  # type: ignore[attr-defined]
    assert named_members(obj) == [("a_b", "a/b", 1), ("plain", None, 2)]
    assert get_member(obj, "a_b") == 1 and get_member(obj, "plain") == 2
