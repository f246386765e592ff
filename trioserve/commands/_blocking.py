"""The :func:`blocking` marker: which callables must not run on the event loop.

:func:`blocking` marks a callable that may take long (I/O, heavy numerics): the server runs it
in a worker thread (inline mode) or in the program's thread (``sync="app"``), never on the
event loop. Coroutine functions are awaited on the server's event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

_BLOCKING_ATTR = "__trioserve_blocking__"

F = TypeVar("F", bound=Callable[..., Any])


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
