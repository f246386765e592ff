from __future__ import annotations

import collections
import dataclasses
import json

import numpy as np
import pytest

from trioserve.histograms import Hist1D
from trioserve.render import get_member, has_members, public_members, public_methods, typename


@dataclasses.dataclass
class Data:
    x: int = 1
    items: list[object] = dataclasses.field(default_factory=lambda: [{"a": 1}, 2])
    _hidden: str = "no"


class Plain:
    __trioserve_members__ = ("rate", "broken", "_nope")

    def __init__(self) -> None:
        self.value = 5
        self._secret = "pw"
        self.callback = print
        self.module = json

    @property
    def rate(self) -> float:
        return 2.5

    @property
    def broken(self) -> float:
        raise RuntimeError("boom")

    @property
    def other(self) -> int:
        return 1

    def run(self) -> int:
        return 1

    def _private(self) -> int:
        return 2

    @staticmethod
    def stat() -> int:
        return 3


Point = collections.namedtuple("Point", "x y")

REFUSED = [
    "__class__",
    "__dict__",
    "__globals__",
    "__init__",
    "__module__",
    "__doc__",
    "_secret",
    "_hidden",
    "_private",
    "run",
    "stat",
    "other",
    "broken",
    "callback",
    "module",
    "",
    "$ref",
    "__trioserve_members__",
    "mro",
]


@pytest.mark.parametrize("obj", [Data(), Plain(), {"a": 1, "_b": 2, "f": len}, [1, {"x": 1}]])
@pytest.mark.parametrize("name", REFUSED)
def test_get_member_refuses(obj: object, name: str) -> None:
    with pytest.raises(KeyError):
        get_member(obj, name)


@pytest.mark.parametrize("obj", [json, Plain, Plain().run, len, np.arange(3), "text", 5, None])
@pytest.mark.parametrize("name", ["dumps", "loads", "__name__", "value", "0", "real", "shape"])
def test_modules_classes_functions_leaves_never_traversed(obj: object, name: str) -> None:
    assert public_members(obj) == {}
    assert not has_members(obj)
    with pytest.raises(KeyError):
        get_member(obj, name)


def test_public_members_rules() -> None:
    assert public_members(Data()) == {"x": 1, "items": [{"a": 1}, 2]}
    assert public_members(Plain()) == {"value": 5, "rate": 2.5}
    assert public_members({"a": 1, "_b": 2, 3: 4, "f": len}) == {"a": 1, "3": 4}
    assert public_members(Point(1, 2)) == {"x": 1, "y": 2}
    assert public_members([5, 6]) == {"0": 5, "1": 6}


def test_get_member_consistent_with_public_members() -> None:
    for obj in (Data(), Plain(), {"a": 1, "b": {"c": 2}}, [1, 2, 3], Point(1, 2)):
        for name, value in public_members(obj).items():
            assert get_member(obj, name) is value


@pytest.mark.parametrize("name", ["-1", "01", "+1", "3", "1.0", " 1", "\uff11"])
def test_list_index_access_is_canonical(name: str) -> None:
    with pytest.raises(KeyError):
        get_member([10, 20, 30], name)


def test_list_index_access() -> None:
    assert get_member([10, 20, 30], "2") == 30
    assert get_member(Data(), "items") == [{"a": 1}, 2]
    assert get_member(get_member(Data(), "items"), "0") == {"a": 1}


def test_has_members() -> None:
    assert has_members(Data())
    assert has_members({"a": 1})
    assert not has_members({"_a": 1})
    assert not has_members([1, 2, 3])
    assert has_members([1, {"x": 1}])
    assert not has_members(np.zeros(3))


def test_public_methods() -> None:
    methods = public_methods(Plain())
    assert set(methods) == {"run"}
    assert methods["run"]() == 1
    assert public_methods({"a": 1}) == {}  # builtin methods (dict.clear...) never callable
    assert public_methods(json) == {}
    assert public_methods(Plain) == {}
    assert set(public_methods(Hist1D("h", "t", 2, 0, 1))) == {"fill", "fill_many", "reset"}


def test_typename() -> None:
    class Local:
        pass

    assert typename(Data()) == "Data"
    assert typename(Local()) == "Local"
    assert typename({}) == "dict"
    assert typename(Hist1D("h", "t", 2, 0, 1)) == "TH1D"
