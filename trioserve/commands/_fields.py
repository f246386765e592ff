"""The hierarchy fields JSROOT reads from a command item: :func:`command_fields`.

Kept apart from binding and validation because it is about how the web UI shows a command
(toolbar button, icon, argument count, items to refresh), not about calling it.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

#: a small "play" triangle as an inline SVG, so a button shows something without any file
DEFAULT_BUTTON_ICON = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E"
    "%3Cpath d='M4 2l10 6-10 6z' fill='%232a7'/%3E%3C/svg%3E"
)


def command_fields(
    params: Sequence[inspect.Parameter],
    *,
    icon: str | None = None,
    button: bool = False,
    update_item: str | Sequence[str] | None = None,
    hreload: bool = False,
) -> dict[str, str]:
    """The hierarchy fields JSROOT reads from a command item (strings, as ROOT writes them).

    ``icon`` may carry ROOT's ``button;`` prefix, which means ``button=True``.
    """
    if icon is not None and icon.startswith("button;"):
        button = True
        icon = icon[len("button;") :] or None
    fields: dict[str, str] = {}
    if button:
        fields["_fastcmd"] = "true"
        # JSROOT draws a toolbar button only from its icon: give buttons a visible default
        icon = icon or DEFAULT_BUTTON_ICON
    if icon:
        fields["_icon"] = icon
    if params:
        fields["_numargs"] = str(len(params))
    if update_item:
        items = [update_item] if isinstance(update_item, str) else list(update_item)
        fields["_update_item"] = ";".join(items)
    if hreload:
        fields["_hreload"] = "true"
    return fields
