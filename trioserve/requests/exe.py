"""``exe.json``, ``exe.bin``, ``exe.txt``: call a public method of an item.

The gates, in this order (each one the only place its question is answered):

1. the item, found through the policy: missing *or hidden* -> 404, the same bytes either way;
2. the method name must be public (no ``_`` names): else 404, as for a method that does not
   exist -- the server has no such method;
3. the policy: :meth:`~trioserve.policy.Access.why_not_call` -> 403 with its reason;
4. the method must be one of :func:`~trioserve.render.introspect.public_methods` (plain
   functions of a Python class, bound to the item): else 404;
5. the arguments bound and converted by :mod:`trioserve.commands`: else 400 naming one;
6. the call: coroutine methods are awaited on the event loop, :func:`~trioserve.commands.
   blocking` ones run in the worker pool (inline mode) or the program's thread (``sync="app"``),
   others through the server's access runner. An exception is logged with its traceback and
   answered 500 with the exception's class name only.

Finding the item, the call, ``_ret_object_`` and rendering the result happen in one
``process_requests()`` pass of a synchronous program (``sync="app"``), as in ROOT: the reply
shows the state the call left, before the program moves on.

``exe.txt`` runs the same gates and answers 200 ``text/plain`` with one line per step: why a
call was refused, or what it returned (ROOT's debug output, which JSROOT never parses).
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from trioserve.call import Response
from trioserve.commands import bind_arguments, is_blocking, signature_text
from trioserve.errors import RequestError
from trioserve.render.introspect import is_public_name, public_methods, typename

if TYPE_CHECKING:
    from trioserve.context import RequestContext
    from trioserve.tree import Resolved

__all__ = ["HANDLERS", "RESERVED_PARAMETERS", "invoke_method", "post_json_loader"]

log = logging.getLogger("trioserve.exe")

#: query names that steer the request, never bound to a method parameter
RESERVED_PARAMETERS = frozenset({"method", "prototype", "compact", "func", "explain"})


def post_json_loader(ctx: RequestContext) -> Callable[[], Any]:
    """The POST body parsed as JSON (400 when it is not JSON)."""

    def load() -> Any:
        if not ctx.call.body:
            raise RequestError(400, "bad_post_json", "_post_object_json_ needs a POST body")
        try:
            return json.loads(ctx.call.body)
        except (ValueError, RecursionError):
            raise RequestError(400, "bad_post_json", "the POST body is not valid JSON") from None

    return load


async def _call(ctx: RequestContext, fn: Callable[[], Any], target: Callable[..., Any]) -> Any:
    """Run ``fn`` (which calls ``target``) where ``target`` belongs; exceptions come back as
    a 500 RequestError (logged with traceback), RequestErrors pass through."""

    name = getattr(target, "__qualname__", getattr(target, "__name__", "callable"))

    def guarded() -> tuple[bool, Any]:
        try:
            return True, fn()
        except RequestError:
            raise
        except Exception as exc:
            return False, exc

    if inspect.iscoroutinefunction(target):
        try:
            ok, value = True, await fn()
        except RequestError:
            raise
        except Exception as exc:
            ok, value = False, exc
    else:
        label = f"{name}() for {ctx.file_name} /{ctx.item_path.strip('/')}"
        ok, value = await ctx.run(guarded, blocking=is_blocking(target), label=label)
    if not ok:
        log.error("%s raised %s", name, type(value).__name__, exc_info=value)
        raise RequestError(500, "call_failed", f"{name} raised {type(value).__name__}")
    return value


def _ret_object_path(found: Resolved, name: str) -> str:
    """``_ret_object_``: absolute from the top with a leading ``/``, else a sibling of the
    called item (ROOT looks in the "current directory")."""
    if name.startswith("/"):
        return name
    parent = found.node.parent
    base = parent.path() if parent is not None else "/"
    return base.rstrip("/") + "/" + name


async def invoke_method(ctx: RequestContext, trace: list[str]) -> Any:
    """Run the gates and the call; returns the value to render. ``trace`` gets the
    ``exe.txt`` lines. Raises :class:`RequestError` on any refusal."""
    query = ctx.call.query_items()
    params = dict(query)
    method = params.get("method", "")
    if "func" in params:
        trace.append("Global functions (func=) are not callable: register a command instead")
        raise RequestError(400, "func_unsupported", "func= is not supported; use commands")
    if not method:
        trace.append("No method= given")
        raise RequestError(400, "missing_method", "exe.* needs method=<name>")
    found = await ctx.run(lambda: ctx.resolve())
    shown_path = "/" + ctx.item_path.strip("/")
    if found is None or found.node.obj is None:
        trace.append(f"Item: {shown_path} found: false")
        raise RequestError(404, "not_found", "no such item")
    trace.append(f"Item: {found.path()} found: true")
    if not is_public_name(method) or not method.isidentifier():
        trace.append(f"Method: {method!r} is not a public method name")
        raise RequestError(404, "no_such_method", f"no public method {method!r}")
    access = ctx.server.policy.access(found.path(), ctx.user)
    reason = access.why_not_call(method)
    if reason is not None:
        trace.append(f"Refused: {reason}")
        raise RequestError(403, "forbidden", reason)
    trace.append("Access: " + ("full" if access.full else f"{method!r} is in allow_method"))
    methods = await ctx.run(lambda: public_methods(found.value))
    fn = methods.get(method)
    if fn is None:
        trace.append(f"Search for a public method {method!r} of {typename(found.value)}: none")
        raise RequestError(404, "no_such_method", f"no public method {method!r}")
    trace.append(f"Method: {signature_text(fn)}")
    allow_post = ctx.server.policy.can_post_object(found.path(), ctx.user, method)
    try:
        binding = bind_arguments(
            fn,
            query,
            reserved=RESERVED_PARAMETERS,
            post_json=post_json_loader(ctx) if allow_post else None,
        )
    except RequestError as exc:
        trace.append(f"Refused: {exc.message}")
        raise
    trace.extend(binding.lines)
    trace.append(f"Calling {method}(...)" + (" in a worker" if is_blocking(fn) else ""))
    result = await _call(ctx, lambda: binding.call(fn), fn)
    ret_name = params.get("_ret_object_")
    if ret_name:
        path = _ret_object_path(found, ret_name)
        ret = await ctx.run(lambda: ctx.resolve_path(path))
        trace.append(f"Return object: {path} found: {'true' if ret is not None else 'false'}")
        return None if ret is None else ret.value
    return result


async def exe_json(ctx: RequestContext) -> Response:
    from trioserve.render.json import render_json_bytes

    compact = ctx.compact()
    async with ctx.server.access.one_pass():
        value = await invoke_method(ctx, [])
        body = await ctx.run(lambda: render_json_bytes(value, compact=compact))
    return Response(body=body)


async def exe_bin(ctx: RequestContext) -> Response:
    from trioserve.render import render_cbor

    async with ctx.server.access.one_pass():
        value = await invoke_method(ctx, [])
        body, name = await ctx.run(lambda: (render_cbor(value), typename(value)))
    return Response(content_type="application/cbor", body=body, headers=[("RootClassName", name)])


async def exe_txt(ctx: RequestContext) -> Response:
    from trioserve.render import render_json

    trace: list[str] = []
    async with ctx.server.access.one_pass():
        try:
            value = await invoke_method(ctx, trace)
        except RequestError as exc:
            if not trace or not trace[-1].startswith("Refused"):
                trace.append(f"Failed: {exc.message} (exe.json would answer {exc.status})")
        else:
            text = await ctx.run(lambda: render_json(value, compact=3))
            trace.append(f"Result = {text if len(text) <= 2000 else text[:2000] + '...'}")
    return Response(
        content_type="text/plain; charset=utf-8", body="\n".join(trace).encode() + b"\n"
    )


HANDLERS = {"exe.json": exe_json, "exe.bin": exe_bin, "exe.txt": exe_txt}
