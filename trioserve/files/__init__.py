"""Static file locations: safe path resolution, conditional and partial GETs, streaming.

ROOT maps URL prefixes (``jsrootsys/``, ``currentdir/``, ``AddLocation``) to directories and
lets civetweb do the HTTP part (thttpserver.md §2.3). We keep the idea and fix the defects:

* a prefix matches at the **start** of the path only (ROOT finds it anywhere, so
  ``/x/currentdir/f`` was a file request);
* locations are opt-in: nothing is served until the owner adds a location (``currentdir/`` is
  off unless switched on);
* every path is checked twice -- lexically (``..``, ``.``, empty segments, backslashes, NUL,
  control characters, surviving ``%2e``/``%2f``/``%5c``/``%00``, absolute paths, dotfiles) and on
  disk (each component ``lstat``-ed, symlinks refused unless the location follows them, and the
  real path must stay inside the real location directory);
* only regular files and directories are ever served (a FIFO would block a reader forever);
* a location lives in the item namespace, so the access policy judges its files as it judges
  items (:func:`serve_location` asks it first; hidden looks exactly like missing).

The HTTP part is transport-independent: a path and a :class:`~trioserve.call.Call` become a
:class:`~trioserve.call.Response`; engines only write it out. The modules, in the order a
request meets them:

* :mod:`~trioserve.files.serve` -- :func:`serve_location`, the dispatcher's one entry;
* :mod:`~trioserve.files.locations` -- the prefix -> directory table the owner configures;
* :mod:`~trioserve.files.safepath` -- may this path be served, and which real file is it;
* :mod:`~trioserve.files.conditional` -- validators, preconditions and Range parsing, no I/O;
* :mod:`~trioserve.files.response` -- :func:`file_response`: headers, ranges, gzip, HEAD;
* :mod:`~trioserve.files.body` -- :class:`FileBody`, the lazily opened, always closed stream;
* :mod:`~trioserve.files.listing` -- :func:`directory_listing`, an inert HTML index.

Nothing here knows which engine a call came from, and nothing imports ``trioserve.engines``.
The choices (strong ETags, when Range is ignored, HEAD, a file changing mid-response) are in
the module docstrings and ``docs/files.md``.
"""

from __future__ import annotations

from trioserve.call import NO_CACHE
from trioserve.files.body import FileBody, FileChangedError
from trioserve.files.conditional import MAX_RANGES
from trioserve.files.listing import MAX_LISTING_ENTRIES, directory_listing
from trioserve.files.locations import (
    CURRENTDIR,
    JSROOTSYS,
    Location,
    Locations,
    default_locations,
)
from trioserve.files.response import GZIP_MEMORY_LIMIT, GZIP_MIN_SIZE, file_response
from trioserve.files.safepath import resolve
from trioserve.files.serve import serve_location

__all__ = [
    "CURRENTDIR",
    "GZIP_MEMORY_LIMIT",
    "GZIP_MIN_SIZE",
    "JSROOTSYS",
    "MAX_LISTING_ENTRIES",
    "MAX_RANGES",
    "NO_CACHE",
    "FileBody",
    "FileChangedError",
    "Location",
    "Locations",
    "default_locations",
    "directory_listing",
    "file_response",
    "resolve",
    "serve_location",
]
