"""What :meth:`~trioserve.Server.register_command` refuses, checked once at registration.

A command is reachable by anyone the policy lets through, so its shape is checked before it
is registered rather than at the first call: a string of code (ROOT's way), the builtins and
``os``/``subprocess``/``shutil`` functions that turn remote text into code, processes or file
operations, ``*args``/``**kwargs``, and parameters whose type no URL can produce.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from trioserve.commands._convert import _Unconvertible, convert
from trioserve.commands._signature import _annotation, _hints


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
