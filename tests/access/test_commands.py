"""trioserve.commands, sans-IO: URL text -> typed Python values, binding, registration checks."""

from __future__ import annotations

import enum
import functools
import os
import subprocess
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from trioserve.commands import (
    DEFAULT_BUTTON_ICON,
    MAX_ARG_BYTES,
    ArgumentError,
    bind_arguments,
    blocking,
    command_fields,
    convert,
    is_blocking,
    validate_command,
)
from trioserve.errors import RequestError
from trioserve.requests.multi import split_lines


class Color(enum.Enum):
    red = "r"
    blue = "b"


class Level(enum.IntEnum):
    low = 1
    high = 2


CONVERSIONS: list[tuple[Any, str, Any]] = [
    (str, "x y", "x y"),
    (int, "42", 42),
    (int, "-7", -7),
    (int, " 8 ", 8),
    (float, "2.5", 2.5),
    (float, "-1e3", -1000.0),
    (bool, "true", True),
    (bool, "0", False),
    (bool, "kFALSE", False),
    (bool, "On", True),
    (bytes, "é", "é".encode()),
    (Color, "blue", Color.blue),
    (Color, "r", Color.red),
    (Level, "high", Level.high),
    (Level, "1", Level.low),
    (Literal["a", "b"], "b", "b"),
    (Literal[1, 2], "2", 2),
    (int | None, "", None),
    (int | None, "null", None),
    (int | None, "3", 3),
    (int | float, "3.5", 3.5),
    (list[int], "1,2,3", [1, 2, 3]),
    (list[int], "[4, 5]", [4, 5]),
    (list[int], "", []),
    (list[str], "a, b", ["a", "b"]),
    (tuple[int, ...], "1,2", (1, 2)),
    (tuple[int, float], "1,2.5", (1, 2.5)),
    (set[int], "1,1,2", {1, 2}),
]


@pytest.mark.parametrize(("annotation", "text", "value"), CONVERSIONS)
def test_conversions(annotation: Any, text: str, value: Any) -> None:
    result = convert(annotation, text)
    assert result == value and type(result) is type(value)


BAD: list[tuple[Any, str]] = [
    (int, "1.5"),
    (int, "0x10"),
    (int, ""),
    (int, "١٢"),  # non-ASCII digits
    (float, "abc"),
    (bool, "maybe"),
    (Color, "green"),
    (Literal["a", "b"], "c"),
    (Literal[1, 2], "3"),
    (list[int], "1,x"),
    (list[int], "[1,"),
    (tuple[int, int], "1,2,3"),
]


@pytest.mark.parametrize(("annotation", "text"), BAD)
def test_bad_values_raise_value_error(annotation: Any, text: str) -> None:
    with pytest.raises(ValueError):
        convert(annotation, text)


def sample(a: int, title: str = "t", *, mode: Color = Color.red) -> tuple[int, str, Color]:
    return a, title, mode


def q(text: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(text, keep_blank_values=True)


BINDINGS: list[tuple[str, tuple[int, str, Color]]] = [
    ("a=1", (1, "t", Color.red)),
    ("arg1=2&arg2=x", (2, "x", Color.red)),
    ("a=3&title=%22Quoted%22", (3, "Quoted", Color.red)),
    ("a=3&title='single'", (3, "single", Color.red)),
    ('a=3&title=Mail"Formed"Title', (3, 'Mail"Formed"Title', Color.red)),
    ("a=4&mode=blue", (4, "t", Color.blue)),
    ("arg1=5&arg2=&arg3=b", (5, "t", Color.blue)),  # empty -> default
    ("a=6&method=x&compact=3&_=123&_ret_object_=y", (6, "t", Color.red)),
]


@pytest.mark.parametrize(("query", "expected"), BINDINGS)
def test_binding(query: str, expected: tuple[int, str, Color]) -> None:
    binding = bind_arguments(sample, q(query), reserved={"method", "compact"})
    assert binding.call(sample) == expected
    assert len(binding.lines) == 3 and binding.lines[0].startswith("Argument: a Type: int")


BIND_ERRORS: list[tuple[str, str]] = [
    ("", "a"),  # missing, no default
    ("a=x", "a"),
    ("a=1&a=2", "a"),
    ("a=1&arg1=2", "a"),
    ("a=1&nosuch=2", "nosuch"),
    ("arg4=1&a=1", "arg4"),
    ("a=1&mode=green", "mode"),
    ("a=1&title=" + "x" * (MAX_ARG_BYTES + 1), "title"),
    ("a=1&title=" + "é" * (MAX_ARG_BYTES // 2 + 1), "title"),  # bytes, not characters
    ("a=_post_object_", "a"),
    ("a=_this_", "a"),
]


@pytest.mark.parametrize(("query", "argument"), BIND_ERRORS)
def test_binding_errors_name_the_argument(query: str, argument: str) -> None:
    with pytest.raises(ArgumentError) as info:
        bind_arguments(sample, q(query), reserved={"method"})
    assert info.value.status == 400 and info.value.argument == argument
    assert repr(argument) in info.value.message


@dataclass
class Point:
    x: int
    y: int


def test_post_object_json_needs_the_switch() -> None:
    def place(p: Point, scale: dict) -> tuple[Point, dict]:  # type: ignore[type-arg]
        return p, scale

    with pytest.raises(RequestError) as info:
        bind_arguments(place, q("p=_post_object_json_&scale=1"))
    assert info.value.status == 403
    binding = bind_arguments(
        place,
        q("p=_post_object_json_&scale=_post_object_json_"),
        post_json=lambda: {"x": 1, "y": 2},
    )
    assert binding.call(place) == (Point(1, 2), {"x": 1, "y": 2})
    with pytest.raises(ArgumentError):
        bind_arguments(place, q("p=_post_object_json_&scale=x"), post_json=lambda: [1])
    with pytest.raises(ArgumentError) as unconvertible:
        bind_arguments(place, q("p=1&scale=x"), post_json=lambda: {})
    assert "cannot be given in a URL" in unconvertible.value.message


def test_positional_only_and_kwargs_never_filled() -> None:
    def f(a: int, /, *rest: int, b: int = 0, **extra: str) -> Any:
        return a, rest, b, extra

    assert bind_arguments(f, q("arg1=1&b=2")).call(f) == (1, (), 2, {})
    with pytest.raises(ArgumentError):
        bind_arguments(f, q("a=1&c=3"))  # unknown names are not swallowed by **extra


def test_blocking_marker() -> None:
    class K:
        @blocking
        def slow(self) -> None: ...

        def fast(self) -> None: ...

    assert is_blocking(K().slow) and not is_blocking(K().fast)


def reset(n: int, label: str = "x") -> int:
    return n


REFUSED: list[Any] = [
    "print('hi')",
    b"os.system('id')",
    42,
    eval,
    exec,
    os.system,
    subprocess.run,
    functools.partial(os.system, "id"),
    lambda x: x,  # no annotation
    lambda *args: None,
    lambda **kw: None,
]


@pytest.mark.parametrize("fn", REFUSED)
def test_unsafe_commands_are_refused(fn: Any) -> None:
    with pytest.raises(TypeError):
        validate_command(fn)


def test_untyped_or_unconvertible_parameters_are_refused() -> None:
    def takes_object(x: object) -> None: ...

    with pytest.raises(TypeError, match="cannot be given in a URL"):
        validate_command(takes_object)


def test_command_fields() -> None:
    params = validate_command(reset)
    assert command_fields(params, icon="button;rootsys/icons/ed_execute.png") == {
        "_fastcmd": "true",
        "_icon": "rootsys/icons/ed_execute.png",
        "_numargs": "2",
    }
    assert command_fields([], button=True, update_item=["hpx", "hpxpy"], hreload=True) == {
        "_fastcmd": "true",
        "_icon": DEFAULT_BUTTON_ICON,  # JSROOT draws a button only from its icon
        "_update_item": "hpx;hpxpy",
        "_hreload": "true",
    }
    assert command_fields([], icon="button;") == {"_fastcmd": "true", "_icon": DEFAULT_BUTTON_ICON}
    assert command_fields([], icon="x.png") == {"_icon": "x.png"}


@pytest.mark.parametrize(
    ("body", "number", "lines"),
    [
        (b"a\nb\n", 2, [b"a", b"b"]),
        (b"a\nb", 2, [b"a", None]),  # unterminated last line: not processed, as in ROOT
        (b"a\nb\nc\n", 2, [b"a", b"b"]),
        (b"", 2, [None, None]),
        (b"a\n", 0, []),
    ],
)
def test_multi_split_lines(body: bytes, number: int, lines: list[bytes | None]) -> None:
    assert split_lines(body, number) == lines
