"""Directory listings: an HTML index of one directory, inert whatever the file names hold.

Listings are off unless the location enables them (:mod:`trioserve.files.serve` decides);
this module only builds the page, bounded by :data:`MAX_LISTING_ENTRIES`.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from urllib.parse import quote

from trioserve.call import NO_CACHE, Call, Response
from trioserve.files.response import not_found

__all__ = ["MAX_LISTING_ENTRIES", "directory_listing"]

#: directory listings stop after this many entries (a huge directory must not build a huge page)
MAX_LISTING_ENTRIES = 10_000


def _display(name: str) -> str:
    """A file name as text, even when it holds bytes that are not UTF-8 (surrogate escapes)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def directory_listing(
    call: Call,
    directory: str | os.PathLike[str],
    url_path: str,
    *,
    show_dotfiles: bool = False,
    show_symlinks: bool = True,
    show: Callable[[str], bool] | None = None,
) -> Response:
    """An HTML index of ``directory`` as seen at ``url_path`` (which should end with ``/``).

    Every name is HTML-escaped for the text and percent-encoded (``safe=""``) for the href, so
    a file called ``<img src=x onerror=alert(1)>.txt`` or ``javascript:x`` is inert. Links are
    relative, so the page works under any front-end prefix. Dotfiles are hidden unless asked;
    symlinks are hidden when the location would refuse them anyway; ``show(name)``, when
    given, leaves out the names it refuses (the access rules, as ``h.json`` leaves out hidden
    items).
    """
    entries: list[tuple[str, bool, int]] = []
    truncated = False
    try:
        with os.scandir(directory) as it:
            for entry in it:
                if entry.name.startswith(".") and not show_dotfiles:
                    continue
                if entry.is_symlink() and not show_symlinks:
                    continue
                if show is not None and not show(entry.name):
                    continue
                if len(entries) >= MAX_LISTING_ENTRIES:
                    truncated = True
                    break
                try:
                    is_dir = entry.is_dir()
                    size = 0 if is_dir else entry.stat().st_size
                except OSError:
                    continue
                entries.append((entry.name, is_dir, size))
    except OSError:
        return not_found()
    entries.sort(key=lambda e: (not e[1], e[0]))
    title = html.escape(_display(url_path))
    rows = ['<li><a href="../">../</a></li>'] if url_path.rstrip("/") else []
    for name, is_dir, size in entries:
        href = quote(name, safe="", errors="surrogateescape") + ("/" if is_dir else "")
        text = html.escape(_display(name)) + ("/" if is_dir else "")
        extra = "" if is_dir else f" <small>{size} bytes</small>"
        rows.append(f'<li><a href="{html.escape(href)}">{text}</a>{extra}</li>')
    if truncated:
        rows.append(f"<li>… (only the first {MAX_LISTING_ENTRIES} entries shown)</li>")
    page = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>Index of {title}</title></head>\n<body><h1>Index of {title}</h1>\n<ul>\n"
        + "\n".join(rows)
        + "\n</ul></body></html>\n"
    )
    return Response(
        status=200,
        content_type="text/html; charset=utf-8",
        headers=[("Cache-Control", NO_CACHE), ("X-Content-Type-Options", "nosniff")],
        body=page.encode("utf-8"),
    )
