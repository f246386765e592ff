"""Reading a callable's signature the way both binding and registration need it.

Shared by :mod:`trioserve.commands._bind` and :mod:`trioserve.commands._validate` so a
command is checked at registration with exactly the parameters and annotations it is later
bound with: ``*args``/``**kwargs`` are never URL-fillable, bound methods lose ``self``, and
string annotations are resolved once here.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any


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


def _signature_text(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__name__", type(fn).__name__)
    try:
        return f"{name}{inspect.signature(fn)}"
    except (TypeError, ValueError):
        return f"{name}(...)"


def signature_text(fn: Callable[..., Any]) -> str:
    """``name(a: int, b: str = 'x') -> None`` for ``exe.txt`` and error messages."""
    return _signature_text(fn)
