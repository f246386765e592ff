"""Binding URL arguments to a Python callable: the one code path shared by ``exe.*`` and
``cmd.json``. Sans-IO: no Trio, no sockets, no tree.

ROOT builds a line of C++ from the URL and hands it to the interpreter (``%arg1%`` is pasted
into source text). We never build code from strings: a callable is called with Python values,
each converted from its URL text by the parameter's annotation.

Where things are (each module states its own rules in its first lines):

* ``_bind``: :func:`bind_arguments` -- query names and ``argN`` positions to parameters,
  defaults, size limits, quotes, POST-body objects; :class:`Binding`, :class:`ArgumentError`;
* ``_convert``: :func:`convert` -- URL text to a value of the parameter's annotation;
* ``_signature``: the parameters and resolved annotations both binding and registration
  read, and :func:`signature_text`;
* ``_validate``: :func:`validate_command` and :func:`check_command_signature`, what
  ``register_command`` refuses (strings of code, ``eval``/``os.system``..., untyped parameters);
* ``_blocking``: the :func:`blocking` marker for callables that must run off the event loop;
* ``_fields``: :func:`command_fields`, the hierarchy fields JSROOT reads from a command item.
"""

from __future__ import annotations

from trioserve.commands._bind import (
    MAX_ARG_BYTES,
    POST_OBJECT_JSON,
    ArgumentError,
    Binding,
    bind_arguments,
)
from trioserve.commands._blocking import blocking, is_blocking
from trioserve.commands._convert import convert
from trioserve.commands._fields import DEFAULT_BUTTON_ICON as DEFAULT_BUTTON_ICON
from trioserve.commands._fields import command_fields
from trioserve.commands._signature import command_parameters, signature_text
from trioserve.commands._validate import check_command_signature, validate_command

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
