"""``multi.json`` / ``multi.bin``: several requests in one POST (reference §6).

Request: ``POST <path>/multi.json?number=N`` with N sub-requests in the body, each
``item/path/<request name>[?options]`` terminated by ``\\n``. Each one is dispatched through
:meth:`trioserve.dispatch.Dispatcher.dispatch` -- the same entry point as a request that came
alone -- as a ``nested`` call with the same user, so the policy judges it exactly as if it came
alone. Sub-paths are relative to ``<path>`` (a leading ``/`` changes nothing, as in ROOT).

Replies (exactly ROOT's):

* ``multi.json``: ``[`` + the results joined by ``", "`` + ``]``; a failed sub-request, or one
  whose answer is not JSON, is ``null``;
* ``multi.bin``: per sub-request a 4-byte little-endian length and that many bytes, any content
  type; a failure is a zero length with no payload.

Decisions, each a fix or a clarification of ROOT:

* nested ``multi.*``, pages, hierarchies, websockets and files are refused per line (the
  dispatcher's ``NESTED_FORBIDDEN``); ``.gz`` sub-requests too (ROOT fails them as well);
* caps: ``number`` <= :data:`MAX_SUBREQUESTS` (else 400), body <= :data:`MAX_BODY_BYTES`
  (else 413), a line <= :data:`MAX_LINE_BYTES` (else that line is ``null``);
* as in ROOT, a final line without ``\\n`` is not processed (its slot is ``null``), and lines
  past N are ignored; a missing ``number`` means 0 sub-requests (``[]``);
* sub-requests get no POST body (ROOT handed them the batch itself, which is meaningless), and
  run one after another, in order, all in one ``process_requests()`` pass of a synchronous
  program (``sync="app"``), so every line sees the same program state, as in ROOT;
* lines are percent-decoded like a URL path; control characters and ``.``/``..`` segments make
  the line fail.
"""

from __future__ import annotations

import logging
import struct
from typing import TYPE_CHECKING
from urllib.parse import unquote

from trioserve.call import Call, Response
from trioserve.errors import RequestError

if TYPE_CHECKING:
    from trioserve.context import RequestContext

__all__ = ["HANDLERS", "MAX_BODY_BYTES", "MAX_LINE_BYTES", "MAX_SUBREQUESTS", "split_lines"]

log = logging.getLogger("trioserve.multi")

MAX_SUBREQUESTS = 1000
MAX_BODY_BYTES = 1 << 20
MAX_LINE_BYTES = 4096


def split_lines(body: bytes, number: int) -> list[bytes | None]:
    """The first ``number`` ``\\n``-terminated lines of ``body``; ``None`` for slots the body
    does not fill (including an unterminated last line, as in ROOT)."""
    lines: list[bytes | None] = []
    start = 0
    while len(lines) < number:
        end = body.find(b"\n", start)
        if end < 0:
            if start < len(body):
                log.info("multi: a final line without \\n is not processed (as in ROOT)")
            break
        lines.append(body[start:end])
        start = end + 1
    lines.extend([None] * (number - len(lines)))
    return lines


def _sub_call(ctx: RequestContext, raw: bytes) -> Call | None:
    if len(raw) > MAX_LINE_BYTES:
        return None
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None
    if not text:
        return None
    target, _, query = text.partition("?")
    try:
        path = unquote(target, errors="strict")
    except UnicodeDecodeError:
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in path + query):
        return None
    segments = [s for s in (ctx.item_path + "/" + path).split("/") if s]
    if not segments or any(s in (".", "..") for s in segments):
        return None
    if segments[-1].endswith(".gz"):
        return None
    parent = ctx.call
    return Call(
        method="GET",
        path="/" + "/".join(segments),
        query=query,
        headers=list(parent.headers),
        body=b"",
        user=parent.user,
        engine=parent.engine,
        top_name=parent.top_name,
        script_name=parent.script_name,
        peer=parent.peer,
        nested=True,
    )


async def _answer(ctx: RequestContext, raw: bytes | None, *, json_only: bool) -> bytes | None:
    call = _sub_call(ctx, raw) if raw is not None else None
    if call is None:
        return None
    try:
        response = await ctx.dispatch(call)
    except RequestError as exc:
        log.debug("multi: %s refused: %s %s", call.path, exc.status, exc.code)
        return None
    except Exception:
        log.exception("multi: sub-request %s failed", call.path)
        return None
    if response.status != 200 or not isinstance(response.body, bytes | bytearray):
        return None
    if json_only and not response.content_type.startswith("application/json"):
        return None
    return bytes(response.body)


def _number(ctx: RequestContext) -> int:
    value = ctx.query().get("number", "")
    if value == "":
        return 0
    if not (value.isascii() and value.isdigit()) or len(value) > 6:
        raise RequestError(400, "bad_number", "number must be a non-negative integer")
    number = int(value)
    if number > MAX_SUBREQUESTS:
        raise RequestError(
            400, "too_many_requests", f"multi.* takes at most {MAX_SUBREQUESTS} sub-requests"
        )
    return number


async def _collect(ctx: RequestContext, *, json_only: bool) -> list[bytes | None]:
    number = _number(ctx)
    body = ctx.call.body
    if len(body) > MAX_BODY_BYTES:
        raise RequestError(413, "body_too_large", f"multi.* bodies are limited to {MAX_BODY_BYTES}")
    if number and not body:
        raise RequestError(400, "missing_body", "multi.* needs the sub-requests as POST body")
    # every line's object access in one pass of the program: all lines see one state
    async with ctx.server.access.one_pass():
        return [await _answer(ctx, raw, json_only=json_only) for raw in split_lines(body, number)]


async def multi_json(ctx: RequestContext) -> Response:
    results = await _collect(ctx, json_only=True)
    body = b"[" + b", ".join(b"null" if r is None else r for r in results) + b"]"
    return Response(body=body)


async def multi_bin(ctx: RequestContext) -> Response:
    results = await _collect(ctx, json_only=False)
    parts: list[bytes] = []
    for result in results:
        data = result or b""
        parts.append(struct.pack("<I", len(data)))
        parts.append(data)
    return Response(content_type="application/octet-stream", body=b"".join(parts))


HANDLERS = {"multi.json": multi_json, "multi.bin": multi_bin}
