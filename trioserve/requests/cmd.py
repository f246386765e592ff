"""``cmd.json`` (and ``cmd.txt``): run a command registered with
:meth:`trioserve.Server.register_command`.

As in ROOT, a visible command that cannot run answers HTTP 200 with the body ``false``
(JSROOT paints the item red), and the reason goes to the log. A *hidden* or missing command
answers 404 like any hidden item -- ROOT ran hidden commands. ``cmd.json?explain`` or
``cmd.txt`` answers 200 ``text/plain`` with one line per step, like ``exe.txt``.

Arguments come as ``arg1..argN`` (what JSROOT sends) or by parameter name, converted by the
command's annotations (:mod:`trioserve.commands`). Synchronous commands run through the
server's access runner (the program's thread in ``sync="app"`` mode; the worker pool when
marked :func:`~trioserve.commands.blocking`); coroutine functions are awaited on the event
loop. The reply is the command's result as JSON (``null`` for ``None``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from trioserve.call import Response
from trioserve.commands import bind_arguments, is_blocking, signature_text
from trioserve.errors import RequestError
from trioserve.requests.exe import _call

if TYPE_CHECKING:
    from trioserve.context import RequestContext

__all__ = ["HANDLERS", "run_command"]

log = logging.getLogger("trioserve.cmd")

_RESERVED = frozenset({"explain", "compact"})


class _Refused(Exception):
    """A visible command that cannot run: ``false``."""


async def run_command(ctx: RequestContext, trace: list[str]) -> str:
    """Run the command at the request path; returns the JSON text of its result.

    Raises ``RequestError(404)`` for a missing or hidden item and :class:`_Refused` for
    everything that ROOT answers with ``false``. Finding, running and rendering happen in one
    pass of the program (``sync="app"``).
    """
    async with ctx.server.access.one_pass():
        return await _run_command(ctx, trace)


async def _run_command(ctx: RequestContext, trace: list[str]) -> str:
    from trioserve.render import render_json

    found = await ctx.run(lambda: ctx.resolve(members=False))
    if found is None:
        trace.append(f"Item: /{ctx.item_path.strip('/')} found: false")
        raise RequestError(404, "not_found", "no such item")
    path = found.path()
    trace.append(f"Item: {path} found: true")
    command = found.node.command
    if command is None:
        trace.append("Refused: the item is not a command")
        raise _Refused(f"{path} is not a command")
    reason = ctx.server.policy.access(path, ctx.user).why_not_command()
    if reason is not None:
        trace.append(f"Refused: {reason}")
        raise _Refused(reason)
    trace.append(f"Command: {signature_text(command)}")
    try:
        binding = bind_arguments(command, ctx.call.query_items(), reserved=_RESERVED)
    except RequestError as exc:
        trace.append(f"Refused: {exc.message}")
        raise _Refused(exc.message) from None
    trace.extend(binding.lines)
    trace.append("Calling the command" + (" in a worker" if is_blocking(command) else ""))
    try:
        result = await _call(ctx, lambda: binding.call(command), command)
        text = await ctx.run(lambda: render_json(result))
    except RequestError as exc:
        trace.append(f"Failed: {exc.message}")
        raise _Refused(exc.message) from None
    trace.append(f"Result = {text if len(text) <= 2000 else text[:2000] + '...'}")
    return text


def _explain(trace: list[str]) -> Response:
    return Response(
        content_type="text/plain; charset=utf-8", body="\n".join(trace).encode() + b"\n"
    )


async def cmd_json(ctx: RequestContext) -> Response:
    trace: list[str] = []
    explain = "explain" in ctx.query()
    try:
        text = await run_command(ctx, trace)
    except _Refused as refused:
        log.info("cmd.json %s by %s refused: %s", ctx.item_path, ctx.user or "-", refused)
        return _explain(trace) if explain else Response(body=b"false")
    except RequestError:
        if explain:
            return _explain(trace)
        raise
    return _explain(trace) if explain else Response(body=text.encode())


async def cmd_txt(ctx: RequestContext) -> Response:
    trace: list[str] = []
    try:
        await run_command(ctx, trace)
    except _Refused as refused:
        log.info("cmd.txt %s by %s refused: %s", ctx.item_path, ctx.user or "-", refused)
    except RequestError as exc:
        if not trace or not trace[-1].endswith("found: false"):
            trace.append(f"Failed: {exc.message}")
    return _explain(trace)


HANDLERS = {"cmd.json": cmd_json, "cmd.txt": cmd_txt}
