"""The prefix -> directory table: what is served at all, configured by the server's owner.

ROOT maps URL prefixes (``jsrootsys/``, ``currentdir/``, ``AddLocation``) to directories
(thttpserver.md §2.3). Two of its defects are fixed here, at configuration time:

* a prefix matches at the **start** of the path only (ROOT finds it anywhere, so
  ``/x/currentdir/f`` was a file request);
* locations are opt-in: nothing is served until the owner adds a location (``currentdir/`` is
  off unless switched on).

Whether a path *inside* a location may be served is :mod:`trioserve.files.safepath`'s job.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from trioserve.errors import ConfigError, RegistrationError

__all__ = [
    "CONTROL_CHARACTERS",
    "CURRENTDIR",
    "JSROOTSYS",
    "Location",
    "Locations",
    "default_locations",
]

CURRENTDIR = "currentdir/"
JSROOTSYS = "jsrootsys/"

#: refused in prefixes here and in request paths by :mod:`trioserve.files.safepath`
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Location:
    """One prefix -> directory mapping and what it allows."""

    prefix: str
    directory: Path
    follow_symlinks: bool = False
    dirlisting: bool = False
    dotfiles: bool = False


def _normalise_prefix(prefix: str) -> str:
    if prefix.startswith("/"):
        prefix = prefix[1:]
    if not prefix.endswith("/") or prefix == "/" or not prefix:
        raise ConfigError(f"location prefix must be a name ending with '/', got {prefix!r}")
    segments = prefix[:-1].split("/")
    for seg in segments:
        if seg in ("", ".", "..") or "\\" in seg or "%" in seg or CONTROL_CHARACTERS.search(seg):
            raise ConfigError(f"location prefix {prefix!r} has an unusable segment {seg!r}")
    return prefix


class Locations:
    """The server's prefix -> directory table (ROOT's ``AddLocation``).

    Empty by default: exposing files is the owner's decision. When prefixes nest (``a/`` and
    ``a/b/``) the longest one wins, so a sub-location can have different rules.
    """

    def __init__(self) -> None:
        self._by_prefix: dict[str, Location] = {}

    def add(
        self,
        prefix: str,
        directory: str | os.PathLike[str],
        *,
        follow_symlinks: bool = False,
        dirlisting: bool = False,
        dotfiles: bool = False,
    ) -> Location:
        """Add or replace a location. ``prefix`` like ``"mydir/"`` (a leading ``/`` is dropped).

        The directory is made absolute now, so a later ``chdir`` does not silently change what
        is served; it must exist, because a typo should fail at configuration time.
        """
        norm = _normalise_prefix(prefix)
        path = Path(os.path.abspath(os.fspath(directory)))
        if not path.is_dir():
            raise ConfigError(f"location {norm!r}: {str(path)!r} is not a directory")
        location = Location(norm, path, follow_symlinks, dirlisting, dotfiles)
        self._by_prefix[norm] = location
        return location

    def remove(self, prefix: str) -> None:
        """Remove a location; removing one that does not exist is an error (a likely typo)."""
        norm = _normalise_prefix(prefix)
        try:
            del self._by_prefix[norm]
        except KeyError:
            raise RegistrationError(f"no location {norm!r}") from None

    def get(self, prefix: str) -> Location | None:
        return self._by_prefix.get(_normalise_prefix(prefix))

    def __contains__(self, prefix: object) -> bool:
        return isinstance(prefix, str) and self.get(prefix) is not None

    def __iter__(self) -> Iterator[Location]:
        return iter(list(self._by_prefix.values()))

    def __len__(self) -> int:
        return len(self._by_prefix)

    def match(self, url_path: str) -> tuple[Location, str] | None:
        """``/mydir/a/b.txt`` -> ``(location of "mydir/", "a/b.txt")``; None when no prefix
        starts the path. Only the single leading ``/`` is skipped: ``//mydir/x`` matches
        nothing, and ``/x/mydir/f`` never matches ``mydir/``.
        """
        rest = url_path[1:] if url_path.startswith("/") else url_path
        best: Location | None = None
        for prefix, location in self._by_prefix.items():
            if rest.startswith(prefix) and (best is None or len(prefix) > len(best.prefix)):
                best = location
        if best is None:
            return None
        return best, rest[len(best.prefix) :]


def default_locations(
    *,
    jsrootsys: str | os.PathLike[str] | None = None,
    currentdir: bool | str | os.PathLike[str] = False,
) -> Locations:
    """The locations ROOT has by default, made opt-in.

    ``jsrootsys`` is a JSROOT distribution directory (e.g. ``node_modules/jsroot``), or None.
    ``currentdir`` is off unless True (the working directory at this call) or a directory.
    ``rootsys/`` has no Python counterpart and is not provided.
    """
    locations = Locations()
    if jsrootsys is not None:
        locations.add(JSROOTSYS, jsrootsys)
    if currentdir is not False:
        locations.add(CURRENTDIR, os.getcwd() if currentdir is True else currentdir)
    return locations
