"""File-name suffix -> MIME type, ROOT's table (thttpserver.md §2.11) with modern corrections.

Why our own table instead of :mod:`mimetypes`: the stdlib reads ``/etc/mime.types`` and the
Windows registry, so the same file would get a different type on different machines, and
JSROOT breaks outright when ``.mjs`` is not served as JavaScript. A fixed table keeps every
engine and every machine identical.

Deliberate differences from ROOT:

* ``.js`` is ``text/javascript`` (ROOT: ``application/x-javascript``), as the HTML standard and
  RFC 9239 require for module scripts; ``.mjs`` likewise.
* every ``text/*`` type carries ``; charset=utf-8`` so browsers never guess an encoding.
* suffixes are compared case-insensitively (``IMAGE.PNG`` is a PNG).
* a few types ROOT lacks and JSROOT distributions contain: ``.wasm``, ``.map``, ``.webp``,
  ``.otf``, ``.csv``.

As in ROOT the suffix must be strictly shorter than the name (a file named exactly ``.js`` is
``text/plain``), the first hit wins and the default is ``text/plain``.
"""

from __future__ import annotations

__all__ = ["DEFAULT_TYPE", "is_compressible", "mime_type"]

DEFAULT_TYPE = "text/plain; charset=utf-8"

#: (suffix, type) in ROOT's order; first hit wins.
_TABLE: tuple[tuple[str, str], ...] = (
    (".xml", "text/xml"),
    (".json", "application/json"),
    (".bin", "application/x-binary"),
    (".gif", "image/gif"),
    (".jpg", "image/jpeg"),
    (".jpeg", "image/jpeg"),
    (".png", "image/png"),
    (".html", "text/html"),
    (".htm", "text/html"),
    (".shtm", "text/html"),
    (".shtml", "text/html"),
    (".css", "text/css"),
    (".js", "text/javascript"),
    (".mjs", "text/javascript"),
    (".ico", "image/x-icon"),
    (".svg", "image/svg+xml"),
    (".txt", "text/plain"),
    (".torrent", "application/x-bittorrent"),
    (".wav", "audio/x-wav"),
    (".mp3", "audio/x-mp3"),
    (".mid", "audio/mid"),
    (".m3u", "audio/x-mpegurl"),
    (".ogg", "application/ogg"),
    (".ram", "audio/x-pn-realaudio"),
    (".ra", "audio/x-pn-realaudio"),
    (".xslt", "application/xml"),
    (".xsl", "application/xml"),
    (".doc", "application/msword"),
    (".exe", "application/octet-stream"),
    (".zip", "application/x-zip-compressed"),
    (".xls", "application/excel"),
    (".tgz", "application/x-tar-gz"),
    (".tar", "application/x-tar"),
    (".gz", "application/x-gunzip"),
    (".arj", "application/x-arj-compressed"),
    (".rar", "application/x-arj-compressed"),
    (".rtf", "application/rtf"),
    (".pdf", "application/pdf"),
    (".swf", "application/x-shockwave-flash"),
    (".mpg", "video/mpeg"),
    (".mpeg", "video/mpeg"),
    (".webm", "video/webm"),
    (".mov", "video/quicktime"),
    (".mp4", "video/mp4"),
    (".m4v", "video/x-m4v"),
    (".asf", "video/x-ms-asf"),
    (".avi", "video/x-msvideo"),
    (".bmp", "image/bmp"),
    (".ttf", "application/x-font-ttf"),
    (".woff", "font/woff"),
    (".woff2", "font/woff2"),
    # not in ROOT's table
    (".otf", "font/otf"),
    (".wasm", "application/wasm"),
    (".map", "application/json"),
    (".webp", "image/webp"),
    (".csv", "text/csv"),
)

#: non-text types worth gzipping; everything under ``text/`` is compressible too
_COMPRESSIBLE = frozenset(
    {
        "application/json",
        "application/xml",
        "application/x-binary",
        "application/x-font-ttf",
        "application/wasm",
        "image/svg+xml",
        "image/x-icon",
        "image/bmp",
        "font/otf",
        "audio/x-wav",
    }
)


def _with_charset(mime: str) -> str:
    return f"{mime}; charset=utf-8" if mime.startswith("text/") else mime


def mime_type(name: str) -> str:
    """The Content-Type for a file name (only the name is looked at, never the content)."""
    lower = name.lower()
    for suffix, mime in _TABLE:
        if len(suffix) < len(lower) and lower.endswith(suffix):
            return _with_charset(mime)
    return DEFAULT_TYPE


def is_compressible(mime: str) -> bool:
    """Whether gzip is worth it for this type (parameters such as ``charset`` are ignored).

    Already-compressed formats (images, video, fonts in woff/woff2, archives) gain nothing and
    cost CPU, so only text-like and known uncompressed binary types qualify.
    """
    base = mime.split(";", 1)[0].strip().lower()
    return base.startswith("text/") or base in _COMPRESSIBLE
