"""Transports. Each engine turns bytes into :class:`~trioserve.call.Call` objects, awaits
``ctx.handle(call)`` and writes the :class:`~trioserve.call.Response` back. Engines know
nothing about objects, folders or rules; see :mod:`trioserve.engines.base` for the contract.
"""

from __future__ import annotations

#: engine kind -> "module:function"; imported lazily so a missing optional engine costs nothing
ENGINE_ENTRY_POINTS: dict[str, str] = {
    "http": "trioserve.engines.http:serve_http",
    "https": "trioserve.engines.https:serve_https",
    "socket": "trioserve.engines.http:serve_http",
    "fastcgi": "trioserve.engines.fastcgi:serve_fastcgi",
}
