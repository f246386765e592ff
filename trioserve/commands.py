"""Binding URL arguments to a Python callable: the one code path shared by ``exe.*`` and
``cmd.json``. Sans-IO: no Trio, no sockets, no tree.

ROOT builds a line of C++ from the URL and hands it to the interpreter (``%arg1%`` is pasted
into source text). We never build code from strings: a callable is called with Python values,
each converted from its URL text by the parameter's annotation. The rules:

* A parameter is filled from the query by its name (``title=...``), or by position from
  ``arg1``, ``arg2``... (what JSROOT sends to ``cmd.json``); both for the same parameter is an
  error. ``*args``/``**kwargs`` are never filled from a URL.
* A missing parameter takes its default; without one it is a 400 naming the argument. An empty
  value for a parameter with a default also takes the default (JSROOT sends ``arg1=`` when the
  user leaves a prompt empty).
* Values longer than :data:`MAX_ARG_BYTES` (1 KiB, as ROOT since 2026) are refused. One pair of
  matching outer quotes is stripped (``title="x"`` and ``title=%22x%22`` give ``x``, as in
  ROOT); everything else is passed through verbatim (``Mail"Formed"Title`` stays so).
* Conversion by annotation (resolved with :func:`typing.get_type_hints`): ``str`` (or none),
  ``int`` (decimal), ``float``, ``bool`` (``1/0/true/false/yes/no/on/off``, ROOT's
  ``kTRUE/kFALSE``), ``bytes`` (UTF-8), ``Enum`` subclasses (by member name, then by value),
  ``Literal[...]``, ``X | None`` (``""``/``null``/``None`` give ``None``), unions tried in
  order, ``list[X]``/``tuple[X, ...]``/``tuple[X, Y]``/``set[X]`` from comma lists or a JSON
  array. Any other annotation cannot come from a URL: a 400, unless the value is
  ``_post_object_json_`` and the caller allows objects from the POST body.
* Unknown query names are a 400 (a typo must not silently call with defaults); reserved names
  (``method``, ``compact``...) and names starting with ``_`` (cache busters, ROOT flags) are
  skipped.

:func:`blocking` marks a callable that may take long (I/O, heavy numerics): the server runs it
in a worker thread (inline mode) or in the program's thread (``sync="app"``), never on the
event loop. Coroutine functions are awaited on the server's event loop.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from trioserve.errors import RequestError

__all__ = [
    "MAX_ARG_BYTES",
    "POST_OBJECT_JSON",
    "ArgumentError",
    "Binding",
    "bind_arguments",
    "blocking",
    "check_command_signature",
    "command_fields",
    "command_parameters",
    "convert",
    "is_blocking",
    "signature_text",
    "validate_command",
]

#: the longest argument value accepted, in UTF-8 bytes (ROOT: 1 KiB since PR #22186)
MAX_ARG_BYTES = 1024
#: the value that asks for the POST body, parsed as JSON, as the argument
POST_OBJECT_JSON = "_post_object_json_"
#: ROOT's other special values: refused with a clear message rather than passed as text
_UNSUPPORTED_SPECIAL = {
    "_post_object_": "binary ROOT objects from the POST body are not supported; "
    "use _post_object_json_",
    "_post_object_xml_": "XML objects from the POST body are not supported; use _post_object_json_",
    "_post_data_": "raw POST pointers are not supported; use _post_object_json_",
    "_post_length_": "raw POST lengths are not supported",
    "_this_": "_this_ is not supported; the method already receives its object as self",
}
_POSITIONAL_PREFIX = "arg"
_TRUE = frozenset({"1", "true", "yes", "on", "ktrue"})
_FALSE = frozenset({"0", "false", "no", "off", "kfalse"})
_NONE = frozenset({"", "null", "none"})
_BLOCKING_ATTR = "__trioserve_blocking__"

F = TypeVar("F", bound=Callable[..., Any])


class ArgumentError(RequestError):
    """A value that cannot be bound: always 400, and the message names the argument."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(400, "bad_argument", f"argument {argument!r}: {message}")
        self.argument = argument


class _Unconvertible(Exception):
    """An annotation no URL text can produce (raised at registration or at the call)."""


def blocking(fn: F) -> F:
    """Mark ``fn`` as slow: ``exe.*``/``cmd.json`` run it off the event loop.

    Use it on methods and commands that sleep, do I/O or heavy computation. The marker is an
    attribute on the function, so it also works on methods (set on the class's function).
    """
    setattr(fn, _BLOCKING_ATTR, True)
    return fn


def is_blocking(fn: Callable[..., Any]) -> bool:
    target = getattr(fn, "__func__", fn)
    return bool(getattr(target, _BLOCKING_ATTR, False))


@dataclass(slots=True)
class Binding:
    """The converted arguments of one call, plus what ``exe.txt`` shows about them."""

    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: one line per parameter: ``Argument: title Type: str Value: 'x'``
    lines: list[str] = field(default_factory=list)

    def call(self, fn: Callable[..., Any]) -> Any:
        return fn(*self.args, **self.kwargs)


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    target = getattr(fn, "__func__", fn)
    if not isinstance(target, types.FunctionType):
        target = getattr(target, "__call__", target)  # noqa: B004 - callable objects
        target = getattr(target, "__func__", target)
    try:
        return typing.get_type_hints(target)
    except Exception:
        # an annotation that cannot be resolved: parameters fall back to their raw
        # annotation, and a string there is refused at conversion time
        return {}


def command_parameters(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    """The parameters a URL may fill, in order (``self`` excluded for bound methods)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot read the signature of {fn!r}: {exc}") from None
    return [
        p
        for p in sig.parameters.values()
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]


def _annotation(param: inspect.Parameter, hints: Mapping[str, Any]) -> Any:
    if param.name in hints:
        return hints[param.name]
    return param.annotation


def _describe(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return "str"
    if isinstance(annotation, type):
        return annotation.__qualname__
    return str(annotation).replace("typing.", "")


def _strip_quotes(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _convert_scalar(annotation: Any, text: str) -> Any:
    if annotation is inspect.Parameter.empty or annotation is Any or annotation is str:
        return text
    if annotation is bool:
        low = text.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError("expected a boolean (true/false, 1/0, yes/no, on/off)")
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _convert_enum(annotation, text)
    if annotation is int:
        stripped = text.strip()
        body = stripped[1:] if stripped[:1] in "+-" else stripped
        if not (body.isascii() and body.isdigit()):
            raise ValueError("expected a decimal integer")
        return int(stripped)
    if annotation is float:
        try:
            return float(text.strip())
        except ValueError:
            raise ValueError("expected a number") from None
    if annotation is bytes:
        return text.encode("utf-8")
    raise _Unconvertible(f"type {_describe(annotation)} cannot be given in a URL")


def _convert_enum(cls: type[enum.Enum], text: str) -> enum.Enum:
    stripped = text.strip()
    member = cls.__members__.get(stripped)
    if member is not None:
        return member
    for member in cls:
        if str(member.value) == stripped:
            return member
    names = ", ".join(cls.__members__)
    raise ValueError(f"expected one of {names}")


def _split_list(text: str) -> list[str]:
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except ValueError:
            raise ValueError("expected a comma list or a JSON array") from None
        if not isinstance(data, list):
            raise ValueError("expected a comma list or a JSON array")
        return [item if isinstance(item, str) else json.dumps(item) for item in data]
    if not stripped:
        return []
    return [part.strip() for part in stripped.split(",")]


def convert(annotation: Any, text: str) -> Any:
    """URL text -> a value of ``annotation``; ``ValueError`` (with a short reason) or
    ``_Unconvertible`` when it cannot be."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        for choice in args:
            try:
                value = convert(type(choice), text)
            except (ValueError, _Unconvertible):
                continue
            if value == choice and type(value) is type(choice):
                return value
        raise ValueError("expected one of " + ", ".join(repr(c) for c in args))
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in args if a is not type(None)]
        if len(options) < len(args) and text.strip().lower() in _NONE:
            return None
        reasons = []
        for option in options:
            try:
                return convert(option, text)
            except ValueError as exc:
                reasons.append(str(exc))
        if not reasons:
            raise _Unconvertible(f"type {_describe(annotation)} cannot be given in a URL")
        raise ValueError(" or ".join(reasons))
    if origin in (list, tuple, set, frozenset, Sequence, Iterable):
        parts = _split_list(text)
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(parts) != len(args):
                raise ValueError(f"expected {len(args)} comma-separated values")
            return tuple(convert(a, p) for a, p in zip(args, parts, strict=True))
        item = args[0] if args else str
        values = [convert(item, p) for p in parts]
        if origin in (tuple, Sequence, Iterable):
            return tuple(values) if origin is tuple else values
        return origin(values) if origin in (set, frozenset) else values
    if annotation in (list, tuple, set):
        return annotation(_split_list(text))
    if isinstance(annotation, str):
        raise _Unconvertible(f"annotation {annotation!r} cannot be resolved")
    return _convert_scalar(annotation, text)


def _from_post(annotation: Any, data: Any, name: str) -> Any:
    """A JSON POST body as the argument: a dataclass is built from an object's fields."""
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        if not isinstance(data, dict):
            raise ArgumentError(name, f"expected a JSON object for {annotation.__qualname__}")
        try:
            return annotation(**data)
        except TypeError as exc:
            raise ArgumentError(name, f"cannot build {annotation.__qualname__}: {exc}") from None
    return data


def check_command_signature(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    """Registration-time check for commands: every parameter named, annotated with a type a
    URL can produce, no ``*args``/``**kwargs``. Raises ``TypeError`` saying what to fix."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot read the signature of {fn!r}: {exc}") from None
    hints = _hints(fn)
    params = []
    for param in sig.parameters.values():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise TypeError(
                f"command parameter {param.name!r}: *args/**kwargs would accept anything a "
                "remote user sends; declare each parameter with a type"
            )
        annotation = _annotation(param, hints)
        if annotation is inspect.Parameter.empty:
            raise TypeError(
                f"command parameter {param.name!r} has no type annotation; declare it "
                "(str, int, float, bool, an Enum, a Literal...) so the server can validate it"
            )
        try:
            convert(annotation, "")
        except _Unconvertible as exc:
            raise TypeError(f"command parameter {param.name!r}: {exc}") from None
        except ValueError:
            pass  # "" is simply not a valid value of this type: the type itself is fine
        params.append(param)
    return params


def bind_arguments(
    fn: Callable[..., Any],
    query: Sequence[tuple[str, str]],
    *,
    reserved: Iterable[str] = (),
    post_json: Callable[[], Any] | None = None,
) -> Binding:
    """Bind ``query`` (decoded ``(name, value)`` pairs) to ``fn``'s parameters.

    ``post_json`` returns the parsed POST body; ``None`` means objects from the POST body are
    not allowed here, and ``_post_object_json_`` is refused (403). Raises
    :class:`ArgumentError` (400) naming the argument for every other problem.
    """
    params = command_parameters(fn)
    hints = _hints(fn)
    skip = set(reserved)
    names = {p.name for p in params}
    by_name: dict[str, str] = {}
    positional: dict[int, str] = {}
    for key, value in query:
        if key in skip or key.startswith("_"):
            continue
        index = _positional_index(key)
        if index is not None and key not in names:
            if index in positional:
                raise ArgumentError(key, "given twice")
            positional[index] = value
        elif key in names:
            if key in by_name:
                raise ArgumentError(key, "given twice")
            by_name[key] = value
        else:
            raise ArgumentError(key, f"{_signature_text(fn)} has no such parameter")
    for index in positional:
        if index > len(params):
            raise ArgumentError(
                f"arg{index}", f"{_signature_text(fn)} takes {len(params)} argument(s)"
            )
    binding = Binding()
    for position, param in enumerate(params, start=1):
        raw: str | None = by_name.get(param.name)
        if param.name in by_name and position in positional:
            raise ArgumentError(param.name, f"given both by name and as arg{position}")
        if raw is None:
            raw = positional.get(position)
        annotation = _annotation(param, hints)
        type_text = _describe(annotation)
        has_default = param.default is not inspect.Parameter.empty
        if raw is None or (raw == "" and has_default):
            if not has_default:
                raise ArgumentError(param.name, "missing (the parameter has no default)")
            binding.lines.append(f"Argument: {param.name} Type: {type_text} Value: <default>")
            continue
        if len(raw.encode("utf-8")) > MAX_ARG_BYTES:
            raise ArgumentError(param.name, f"longer than {MAX_ARG_BYTES} bytes")
        if raw in _UNSUPPORTED_SPECIAL:
            raise ArgumentError(param.name, _UNSUPPORTED_SPECIAL[raw])
        if raw == POST_OBJECT_JSON:
            if post_json is None:
                raise RequestError(
                    403,
                    "post_objects_disabled",
                    "objects from the POST body are not allowed on this server "
                    "(server.set_allow_post_objects(True) switches them on)",
                )
            value = _from_post(annotation, post_json(), param.name)
            shown = "<POST body as JSON>"
        else:
            try:
                value = convert(annotation, _strip_quotes(raw))
            except _Unconvertible as exc:
                raise ArgumentError(param.name, str(exc)) from None
            except ValueError as exc:
                raise ArgumentError(param.name, f"{exc}, got {_short(raw)}") from None
            shown = repr(value)
        binding.lines.append(f"Argument: {param.name} Type: {type_text} Value: {_short(shown)}")
        if param.kind is inspect.Parameter.POSITIONAL_ONLY:
            binding.args.append(value)
        else:
            binding.kwargs[param.name] = value
    # the same check Python does at the call, before anything runs: a TypeError from the
    # method itself must not be mistaken for a binding error
    try:
        inspect.signature(fn).bind(*binding.args, **binding.kwargs)
    except TypeError as exc:
        raise ArgumentError("*", str(exc)) from None
    return binding


def _positional_index(key: str) -> int | None:
    if key.startswith(_POSITIONAL_PREFIX):
        digits = key[len(_POSITIONAL_PREFIX) :]
        if digits.isascii() and digits.isdigit() and digits[0] != "0" and len(digits) <= 3:
            return int(digits)
    return None


def _signature_text(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__name__", type(fn).__name__)
    try:
        return f"{name}{inspect.signature(fn)}"
    except (TypeError, ValueError):
        return f"{name}(...)"


def signature_text(fn: Callable[..., Any]) -> str:
    """``name(a: int, b: str = 'x') -> None`` for ``exe.txt`` and error messages."""
    return _signature_text(fn)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _dangerous() -> dict[int, str]:
    """Callables that turn remote text into code, processes or files: never commands."""
    import builtins
    import os
    import shutil
    import subprocess

    names = {
        builtins: (
            "eval",
            "exec",
            "compile",
            "__import__",
            "open",
            "getattr",
            "setattr",
            "delattr",
            "breakpoint",
            "input",
        ),
        os: (
            "system",
            "popen",
            "remove",
            "unlink",
            "rmdir",
            "removedirs",
            "rename",
            "replace",
            "execv",
            "execve",
            "execl",
            "execlp",
            "execvp",
            "spawnv",
            "spawnl",
            "kill",
            "chmod",
            "chown",
        ),
        subprocess: (
            "run",
            "call",
            "check_call",
            "check_output",
            "Popen",
            "getoutput",
            "getstatusoutput",
        ),
        shutil: ("rmtree", "move", "copy", "copyfile", "copytree"),
    }
    out: dict[int, str] = {}
    for module, attrs in names.items():
        for attr in attrs:
            fn = getattr(module, attr, None)
            if fn is not None:
                out[id(fn)] = f"{module.__name__}.{attr}"
    return out


def validate_command(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    """Everything :meth:`~trioserve.Server.register_command` refuses, in one place.

    A command is a Python callable with declared, typed parameters. Refused with ``TypeError``:
    a string (ROOT's commands are lines of source code; ours never are), a non-callable,
    ``eval``/``exec``/``os.system``/``subprocess.*`` and similar (also wrapped in
    ``functools.partial``), ``*args``/``**kwargs``, parameters without a type annotation or with
    one a URL cannot produce. Returns the parameters a URL fills (their count is ``_numargs``).
    """
    if isinstance(fn, str | bytes):
        raise TypeError(
            "a command is a Python callable, never a string of code (ROOT's "
            'RegisterCommand(name, "Func(%arg1%)") has no equivalent here by design)'
        )
    if not callable(fn):
        raise TypeError(f"a command must be callable, not {type(fn).__name__}")
    dangerous = _dangerous()
    target: Any = fn
    while target is not None:
        if id(target) in dangerous:
            raise TypeError(
                f"refusing to register {dangerous[id(target)]} as a command: it would let "
                "remote users run code, processes or file operations of their choosing"
            )
        target = getattr(target, "func", None)  # functools.partial
    return check_command_signature(fn)


#: a small "play" triangle as an inline SVG, so a button shows something without any file
DEFAULT_BUTTON_ICON = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E"
    "%3Cpath d='M4 2l10 6-10 6z' fill='%232a7'/%3E%3C/svg%3E"
)


def command_fields(
    params: Sequence[inspect.Parameter],
    *,
    icon: str | None = None,
    button: bool = False,
    update_item: str | Sequence[str] | None = None,
    hreload: bool = False,
) -> dict[str, str]:
    """The hierarchy fields JSROOT reads from a command item (strings, as ROOT writes them).

    ``icon`` may carry ROOT's ``button;`` prefix, which means ``button=True``.
    """
    if icon is not None and icon.startswith("button;"):
        button = True
        icon = icon[len("button;") :] or None
    fields: dict[str, str] = {}
    if button:
        fields["_fastcmd"] = "true"
        # JSROOT draws a toolbar button only from its icon: give buttons a visible default
        icon = icon or DEFAULT_BUTTON_ICON
    if icon:
        fields["_icon"] = icon
    if params:
        fields["_numargs"] = str(len(params))
    if update_item:
        items = [update_item] if isinstance(update_item, str) else list(update_item)
        fields["_update_item"] = ";".join(items)
    if hreload:
        fields["_hreload"] = "true"
    return fields
