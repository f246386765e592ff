"""Safe path joining: may this request path inside a location be served, and which file is it?

Every path is checked twice, because either check alone has known holes:

* **lexically**, without touching the disk: ``..``, ``.``, empty segments, backslashes, NUL,
  control characters, surviving ``%2e``/``%2f``/``%5c``/``%00``, absolute paths, dotfiles;
* **on disk**: each component ``lstat``-ed, symlinks refused unless the location follows them,
  and the real path must stay inside the real location directory.

Only regular files and directories are ever served (a FIFO would block a reader forever).
Refused and missing look the same to the caller (see :func:`resolve`); the reason is kept
for the DEBUG log only.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from trioserve.files.locations import CONTROL_CHARACTERS, Location

__all__ = ["resolve", "resolve_with_reason"]

# "%2e", "%2f", "%5c", "%00" that survived the engine's single decoding: a double-encoded
# attack. We never decode again, but a proxy or a later layer might, so refuse them outright.
_ENCODED_DANGER = re.compile(r"%(2e|2f|5c|00)", re.IGNORECASE)


def _lexical_refusal(location: Location, relative: str) -> tuple[str | None, list[str]]:
    """Why ``relative`` is refused without touching the disk, and its segments otherwise."""
    if "\x00" in relative:
        return "NUL byte", []
    if "\\" in relative:
        return "backslash", []
    if CONTROL_CHARACTERS.search(relative):
        return "control character", []
    if _ENCODED_DANGER.search(relative):
        return "encoded dot, slash, backslash or NUL", []
    if relative.startswith("/"):
        return "absolute path", []
    segments = relative.split("/") if relative else []
    if segments and segments[-1] == "":
        segments.pop()  # one trailing slash: a directory request
    for seg in segments:
        if seg == "":
            return "empty segment", []
        if seg in (".", ".."):
            return "dot segment", []
        if seg.startswith(".") and not location.dotfiles:
            return "dotfile", []
    return None, segments


def _has_dot_part(path: Path, base: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(base).parts)


def resolve_with_reason(location: Location, relative: str) -> tuple[Path | None, str]:
    """:func:`resolve`, plus why a path was refused (``"ok"`` when it was not), for the log."""
    reason, segments = _lexical_refusal(location, relative)
    if reason is not None:
        return None, reason
    base = Path(os.path.realpath(location.directory))
    current = base
    try:
        for seg in segments:
            current = current / seg
            st = os.lstat(current)
            if stat.S_ISLNK(st.st_mode):
                if not location.follow_symlinks:
                    return None, "symlink (location does not follow symlinks)"
                real = Path(os.path.realpath(current))
                if not real.is_relative_to(base):
                    return None, "symlink points outside the location"
                if not location.dotfiles and _has_dot_part(real, base):
                    return None, "symlink points to a dotfile"
                current = real
        real = Path(os.path.realpath(current))
        # defence in depth: whatever happened above, the answer must lie inside the base
        if not real.is_relative_to(base):
            return None, "outside the location"
        st = os.stat(real)
    except (OSError, ValueError):
        return None, "missing"
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return None, "not a regular file or directory"
    return real, "ok"


def resolve(location: Location, relative: str) -> Path | None:
    """The real path of ``relative`` (already percent-decoded) inside the location, or None.

    None means "answer 404": refused by a rule or simply missing -- the two must look the same
    so nobody can probe which files exist behind a refusal. Returns directories too; the caller
    decides whether a listing is allowed.
    """
    return resolve_with_reason(location, relative)[0]
