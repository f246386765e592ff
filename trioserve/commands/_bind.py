"""Binding URL arguments to a callable's parameters: :func:`bind_arguments`.

The one code path shared by ``exe.*`` and ``cmd.json``. The rules:

* A parameter is filled from the query by its name (``title=...``), or by position from
  ``arg1``, ``arg2``... (what JSROOT sends to ``cmd.json``); both for the same parameter is an
  error. ``*args``/``**kwargs`` are never filled from a URL.
* A missing parameter takes its default; without one it is a 400 naming the argument. An empty
  value for a parameter with a default also takes the default (JSROOT sends ``arg1=`` when the
  user leaves a prompt empty).
* Values longer than :data:`MAX_ARG_BYTES` (1 KiB, as ROOT since 2026) are refused. One pair of
  matching outer quotes is stripped (``title="x"`` and ``title=%22x%22`` give ``x``, as in
  ROOT); everything else is passed through verbatim (``Mail"Formed"Title`` stays so), then
  converted by the annotation (:mod:`trioserve.commands._convert`).
* ``_post_object_json_`` takes the POST body, parsed as JSON, as the value, when the caller
  allows objects from the POST body; ROOT's other special values are refused by name.
* Unknown query names are a 400 (a typo must not silently call with defaults); reserved names
  (``method``, ``compact``...) and names starting with ``_`` (cache busters, ROOT flags) are
  skipped.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from trioserve.commands._convert import _describe, _Unconvertible, convert
from trioserve.commands._signature import _annotation, _hints, _signature_text, command_parameters
from trioserve.errors import RequestError

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


class ArgumentError(RequestError):
    """A value that cannot be bound: always 400, and the message names the argument."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(400, "bad_argument", f"argument {argument!r}: {message}")
        self.argument = argument


@dataclass(slots=True)
class Binding:
    """The converted arguments of one call, plus what ``exe.txt`` shows about them."""

    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: one line per parameter: ``Argument: title Type: str Value: 'x'``
    lines: list[str] = field(default_factory=list)

    def call(self, fn: Callable[..., Any]) -> Any:
        return fn(*self.args, **self.kwargs)


def _strip_quotes(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


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


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
