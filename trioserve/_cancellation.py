"""Telling a cancellation from a failure, for the places that log how a connection ended.

A task cancelled inside a nursery may see a group of ``trio.Cancelled`` instead of one; the
engines and the websocket transport all need "was this only a cancellation?" to choose
between a quiet end and an error line, so the answer is written once, here.
"""

from __future__ import annotations

import trio

__all__ = ["only_cancelled"]


def only_cancelled(exc: BaseException) -> bool:
    """True for ``trio.Cancelled``, or a group made of nothing else (at any depth)."""
    if isinstance(exc, trio.Cancelled):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(only_cancelled(inner) for inner in exc.exceptions)
    return False
