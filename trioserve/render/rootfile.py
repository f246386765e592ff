"""``file.root``: an object as the bytes of a real ROOT file, written by ``uproot``.

ROOT ≥ 6.32 answers ``file.root`` with an in-memory ``TFile`` holding the object; ROOT, uproot
and JSROOT's ``openFile`` read it. We write it with uproot (the optional ``root`` extra) into
memory. What goes in, and as what:

* histograms -- ours (``Hist1D``/``Hist2D``/``Profile``) and boost-histogram/``hist`` ones --
  as ``TH1D``/``TH2D``/``TProfile``, built from the very ROOT view ``root.json`` shows
  (same contents, edges, statistics, axis titles and labels). A boost histogram that view
  cannot take (3-D, a mean storage) goes through ``uproot.to_writable`` (``TH3D``,
  ``TProfile``...);
* numeric numpy arrays and lists of numbers as a ``TTree`` with one branch ``value``, one
  entry per element (a 2-D array: one fixed-size row per entry); a record array gets one
  branch per field, a ``Graph`` the branches ``x`` and ``y``. Data are data: a tree keeps
  every value and its type, which a histogram of them would not;
* strings as ``TObjString``;
* a dict of those as several top-level keys (a dict inside it as a directory), under the
  public names ``root.json`` shows (``_private`` keys stay out).

Anything else raises :class:`NotWritableError` naming what is supported; a missing uproot
raises :class:`UprootMissingError`. The key of a top-level object is the item's name, and
each histogram's ``fName`` is its key (ROOT names keys after their objects).

Two steps, like the images (:mod:`trioserve.render.image`), so that a file never shows an
object half-way through an update and the program never waits for uproot:

1. :func:`snapshot_root_file` reads the live object (call it where ``root.json`` reads its
   own, through the server's object access) and keeps private copies of the numbers;
2. :func:`write_root_file` writes that copy with uproot; it touches no live object.

Byte layout choices, for readers that fetch a file in several Range requests (JSROOT reads
the header, then the keys, then each object): records are written **uncompressed**, so a
histogram being filled keeps its size and every record its offset from one request to the
next (a compressed record changes length with its contents); the file's UUID is derived from
the contents (uuid1 would put the host's MAC address in every file). uproot stamps records with
the current second, so the same contents written twice differ in those bytes: the last few
images are therefore remembered by a digest of their contents, and the same contents are
answered with the same bytes and the same strong ETag (which makes ``If-None-Match`` and
``If-Range`` useful, and spares uproot the work).
"""

from __future__ import annotations

import hashlib
import io
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from trioserve.histograms import boost_to_root, is_boost_histogram
from trioserve.render._numbers import numeric_list
from trioserve.render.introspect import _is_namedtuple, public_members

__all__ = [
    "SUPPORTED",
    "NotWritableError",
    "RootFileImage",
    "RootFileSnapshot",
    "UprootMissingError",
    "render_root_file",
    "snapshot_root_file",
    "write_root_file",
]

#: what the error for anything else says
SUPPORTED = (
    "file.root writes histograms (trioserve's Hist1D/Hist2D/Profile, boost-histogram, hist), "
    "numeric numpy arrays and lists of numbers (as a TTree), Graph (a TTree x, y), strings, "
    "and dicts of those"
)
#: how deep dicts may nest (a deeper or self-containing dict is refused, never recursed into)
MAX_DEPTH = 16
#: the remembered images: at most this many, of at most this many bytes together
CACHE_ENTRIES = 16
CACHE_BYTES = 64 * 1024 * 1024

_HIST_DTYPES = {"D": np.float64, "F": np.float32, "I": np.int32, "S": np.int16, "C": np.int8}


class NotWritableError(ValueError):
    """The object (or a value inside a dict) has no ROOT file form; the message says why."""


class UprootMissingError(RuntimeError):
    """uproot, the optional ``root`` extra, is not installed."""


# -- the snapshot ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Hist:
    """A ``TH1*``/``TH2*``/``TProfile`` ROOT view (a private copy)."""

    view: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Converted:
    """An object uproot converts itself (a boost histogram our view cannot take): a copy."""

    obj: Any


@dataclass(frozen=True, slots=True)
class _Tree:
    branches: tuple[tuple[str, np.ndarray], ...]
    title: str


@dataclass(frozen=True, slots=True)
class _Text:
    text: str


_Entry = _Hist | _Converted | _Tree | _Text


@dataclass(frozen=True, slots=True)
class RootFileSnapshot:
    """What :func:`write_root_file` writes: ``(key path, entry)`` pairs, and their digest
    (``None`` when an entry cannot be digested, so its image is never remembered)."""

    entries: tuple[tuple[str, _Entry], ...]
    digest: str | None


@dataclass(frozen=True, slots=True)
class RootFileImage:
    """The bytes of one file and their strong ETag (a digest of exactly these bytes)."""

    data: bytes
    etag: str


def key_name(name: object) -> str:
    """A name fit for a ROOT key: ``/`` would make directories, ``;`` a cycle number."""
    text = str(name).replace("/", "_").replace(";", "_").strip()
    return text or "object"


def _copy_view(value: Any) -> Any:
    """A deep copy of a ROOT view: the arrays are the program's until copied."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, Mapping):
        return {k: _copy_view(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy_view(v) for v in value]
    return value


def _view(obj: object) -> Any:
    """The ROOT view ``root.json`` renders for ``obj`` (``None`` when it has none)."""
    if callable(getattr(type(obj), "__trioserve_json__", None)):
        return obj.__trioserve_json__()  # type: ignore[attr-defined]
    if is_boost_histogram(obj):
        return boost_to_root(obj)
    return None


def _hist_kind(typename: object) -> bool:
    if not isinstance(typename, str):
        return False
    return typename == "TProfile" or (
        typename[:3] in ("TH1", "TH2") and typename[3:] in _HIST_DTYPES
    )


def _numeric(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.dtype.names is not None:
        raise NotWritableError(f"{where}: a record array inside a record array")
    if arr.dtype.kind not in "biuf" or arr.dtype.itemsize > 8:
        raise NotWritableError(f"{where}: arrays of {arr.dtype} are not written; {SUPPORTED}")
    if arr.ndim == 0:
        raise NotWritableError(f"{where}: a single number is not written; {SUPPORTED}")
    return np.ascontiguousarray(arr).copy()


def _array_tree(arr: np.ndarray, where: str, title: str) -> _Tree:
    if arr.dtype.names is not None:
        if arr.ndim != 1:
            raise NotWritableError(f"{where}: only 1-D record arrays are written")
        branches = tuple(
            (key_name(field), _numeric(np.asarray(arr[field]), f"{where}.{field}"))
            for field in arr.dtype.names
        )
        return _Tree(branches, title)
    return _Tree((("value", _numeric(arr, where)),), title)


def _entries(
    obj: object, path: str, title: str, depth: int, seen: set[int]
) -> Iterator[tuple[str, _Entry]]:
    where = path or "object"
    if isinstance(obj, str):
        yield path, _Text(obj)
        return
    if isinstance(obj, np.ndarray):
        yield path, _array_tree(obj, where, title)
        return
    if isinstance(obj, list | tuple) and not _is_namedtuple(obj):
        arr = numeric_list(obj) if obj else np.zeros(0)
        if arr is None:
            raise NotWritableError(f"{where}: only lists of numbers are written; {SUPPORTED}")
        yield path, _Tree((("value", arr),), title)
        return
    view = _view(obj)
    if isinstance(view, Mapping):
        typename = view.get("_typename")
        if _hist_kind(typename):
            hist = dict(_copy_view(view))
            hist["fName"] = path.rpartition("/")[2]
            if not hist.get("fTitle"):
                hist["fTitle"] = title
            yield path, _Hist(hist)
            return
        if typename == "TGraph":
            x, y = np.asarray(view["fX"], np.float64), np.asarray(view["fY"], np.float64)
            graph_title = str(view.get("fTitle") or title)
            yield path, _Tree((("x", x.copy()), ("y", y.copy())), graph_title)
            return
    if view is None and is_boost_histogram(obj):
        # 3-D or a mean storage: uproot converts those itself (TH3D, TProfile)
        yield path, _Converted(obj.copy())  # type: ignore[attr-defined]
        return
    if isinstance(obj, Mapping):
        if depth >= MAX_DEPTH or id(obj) in seen:
            raise NotWritableError(f"{where}: dicts nested too deep (or containing themselves)")
        seen.add(id(obj))
        members = public_members(obj)
        if not members:
            raise NotWritableError(f"{where}: an empty dict has nothing to write")
        taken: set[str] = set()
        for name, value in members.items():
            key = key_name(name)
            while key in taken:
                key += "_"
            taken.add(key)
            # the object's own dict gives top-level keys, a dict inside it a directory
            child = f"{path}/{key}" if depth else key
            yield from _entries(value, child, "", depth + 1, seen)
        seen.discard(id(obj))
        return
    kind = type(obj).__name__
    raise NotWritableError(f"{where}: a {kind} cannot be written as a ROOT file; {SUPPORTED}")


def snapshot_root_file(obj: object, name: str, title: str = "") -> RootFileSnapshot:
    """Copy what the file of ``obj`` needs; ``name`` is its key (the item's name), ``title``
    the title a histogram or tree without its own gets. Reads the live object: call it under
    the server's object access. Raises :class:`NotWritableError`."""
    entries = tuple(_entries(obj, key_name(name), title, 0, set()))
    return RootFileSnapshot(entries, _digest(entries))


# -- digests -----------------------------------------------------------------------------------
def _feed(h: Any, value: Any) -> bool:
    """Feed a canonical encoding of ``value``; False if it holds something we cannot encode."""
    if isinstance(value, np.ndarray):
        h.update(b"A" + value.dtype.str.encode() + repr(value.shape).encode())
        h.update(np.ascontiguousarray(value).tobytes())
        return True
    if isinstance(value, Mapping):
        h.update(b"M%d" % len(value))
        for key in sorted(value, key=str):
            h.update(b"K" + str(key).encode("utf-8", "surrogatepass"))
            if not _feed(h, value[key]):
                return False
        return True
    if isinstance(value, list | tuple):
        h.update(b"L%d" % len(value))
        return all(_feed(h, v) for v in value)
    if value is None or isinstance(value, bool | int | float | str | np.generic):
        data = repr(value).encode("utf-8", "surrogatepass")
        h.update(b"S%d:" % len(data) + type(value).__name__.encode() + data)
        return True
    return False


def _digest(entries: tuple[tuple[str, _Entry], ...]) -> str | None:
    h = hashlib.blake2b(digest_size=32)
    for path, entry in entries:
        h.update(b"P" + path.encode("utf-8", "surrogatepass"))
        if isinstance(entry, _Hist):
            ok = _feed(h, entry.view)
        elif isinstance(entry, _Tree):
            ok = _feed(h, [entry.title, *entry.branches])
        elif isinstance(entry, _Text):
            ok = _feed(h, entry.text)
        else:
            ok = False
        if not ok:
            return None
    return h.hexdigest()


# -- writing -----------------------------------------------------------------------------------
def _uproot() -> Any:
    """uproot, imported on first use: the extra is optional, and heavy to import."""
    try:
        import uproot  # type: ignore[import-untyped]
    except ImportError:
        raise UprootMissingError("file.root needs uproot: pip install 'trioserve[root]'") from None
    return uproot


class _Sink(io.BytesIO):
    """uproot closes the file it wrote: keep the bytes when it does."""

    data = b""

    def close(self) -> None:
        if not self.closed:
            self.data = self.getvalue()
        super().close()


def _members_owner(model: Any, member: str) -> dict[str, Any] | None:
    """The ``_members`` dict (of the model or one of its bases) that holds ``member``."""
    if member in model._members:
        return model._members  # type: ignore[no-any-return]
    for base in model._bases:
        found = _members_owner(base, member)
        if found is not None:
            return found
    return None


def _labels(value: Any) -> Any:
    """``fLabels`` of a view (a THashList of TObjString, a list of strings, or None) as
    uproot's ``THashList``, each label's ``fUniqueID`` its bin number as ROOT sets it."""
    if not value:
        return None
    identify = _uproot().writing.identify
    items = value.get("arr", []) if isinstance(value, Mapping) else value
    labels = []
    for n, item in enumerate(items, start=1):
        text = item.get("fString", "") if isinstance(item, Mapping) else item
        number = item.get("fUniqueID", n) if isinstance(item, Mapping) else n
        label = identify.to_TObjString(str(text))
        label._bases[0]._members["@fUniqueID"] = int(number) or n
        labels.append(label)
    return identify.to_THashList(labels) if labels else None


def _axis(d: Mapping[str, Any]) -> Any:
    edges = np.asarray(d.get("fXbins", []), dtype=np.float64)
    optional = ("fNdivisions", "fLabelOffset", "fLabelSize", "fTitleOffset", "fTitleSize")
    return _uproot().writing.identify.to_TAxis(
        str(d.get("fName", "")),
        str(d.get("fTitle", "")),
        int(d["fNbins"]),
        float(d["fXmin"]),
        float(d["fXmax"]),
        edges if edges.size else None,
        fLabels=_labels(d.get("fLabels")),
        **{key: d[key] for key in optional if key in d},
    )


def _hist_model(view: Mapping[str, Any]) -> Any:
    identify = _uproot().writing.identify
    typename = str(view["_typename"])
    f8 = np.float64
    common = {
        "fName": str(view.get("fName", "")),
        "fTitle": str(view.get("fTitle", "")),
        "fEntries": float(view["fEntries"]),
        "fTsumw": float(view["fTsumw"]),
        "fTsumw2": float(view["fTsumw2"]),
        "fTsumwx": float(view["fTsumwx"]),
        "fTsumwx2": float(view["fTsumwx2"]),
        "fSumw2": np.asarray(view.get("fSumw2", []), dtype=f8),
        "fXaxis": _axis(view["fXaxis"]),
    }
    style = ("fLineColor", "fFillColor", "fMarkerColor", "fMarkerStyle", "fOption")
    common.update({key: view[key] for key in style if key in view})
    if typename == "TProfile":
        return identify.to_TProfile(
            data=np.asarray(view["fArray"], dtype=f8),
            fTsumwy=float(view["fTsumwy"]),
            fTsumwy2=float(view["fTsumwy2"]),
            fBinEntries=np.asarray(view["fBinEntries"], dtype=f8),
            fBinSumw2=np.asarray(view.get("fBinSumw2", []), dtype=f8),
            fYaxis=_axis(view["fYaxis"]),
            fZaxis=_axis(view["fZaxis"]),
            fErrorMode=int(view.get("fErrorMode", 0)),
            **common,
        )
    data = np.asarray(view["fArray"], dtype=_HIST_DTYPES[typename[3:]])
    if typename.startswith("TH1"):
        return identify.to_TH1x(
            data=data, fYaxis=_axis(view["fYaxis"]), fZaxis=_axis(view["fZaxis"]), **common
        )
    return identify.to_TH2x(
        data=data,
        fTsumwy=float(view["fTsumwy"]),
        fTsumwy2=float(view["fTsumwy2"]),
        fTsumwxy=float(view["fTsumwxy"]),
        fYaxis=_axis(view["fYaxis"]),
        fZaxis=_axis(view["fZaxis"]),
        fScalefactor=float(view.get("fScalefactor", 1)),
        **common,
    )


def _converted(obj: Any, name: str) -> Any:
    model = _uproot().to_writable(obj)
    named = _members_owner(model, "fName")
    if named is not None:
        named["fName"] = name
    return model


def _write(snapshot: RootFileSnapshot) -> bytes:
    uproot = _uproot()
    digest = snapshot.digest
    file_uuid = uuid.UUID(digest[:32], version=4) if digest else uuid.uuid4()
    sink = _Sink()
    with uproot.recreate(sink, compression=None, uuid_function=lambda: file_uuid) as out:
        for path, entry in snapshot.entries:
            if isinstance(entry, _Hist):
                out[path] = _hist_model(entry.view)
            elif isinstance(entry, _Converted):
                out[path] = _converted(entry.obj, path.rpartition("/")[2])
            elif isinstance(entry, _Text):
                out[path] = entry.text
            else:
                types = {name: (arr.dtype, arr.shape[1:]) for name, arr in entry.branches}
                tree = out.mktree(path, types, title=entry.title)
                if len(entry.branches[0][1]):
                    tree.extend(dict(entry.branches))
    return sink.data


class _Remembered:
    """The last images by content digest, bounded in number and in bytes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.images: OrderedDict[str, RootFileImage] = OrderedDict()
        self.size = 0

    def get(self, digest: str) -> RootFileImage | None:
        with self.lock:
            image = self.images.get(digest)
            if image is not None:
                self.images.move_to_end(digest)
            return image

    def put(self, digest: str, image: RootFileImage) -> None:
        if len(image.data) > CACHE_BYTES // 4:
            return
        with self.lock:
            old = self.images.pop(digest, None)
            if old is not None:
                self.size -= len(old.data)
            self.images[digest] = image
            self.size += len(image.data)
            while len(self.images) > CACHE_ENTRIES or self.size > CACHE_BYTES:
                _, dropped = self.images.popitem(last=False)
                self.size -= len(dropped.data)


_REMEMBERED = _Remembered()


def write_root_file(snapshot: RootFileSnapshot) -> RootFileImage:
    """The ROOT file of a snapshot (touches no live object: run it in a worker). The same
    contents give the same bytes while they are remembered. Raises
    :class:`UprootMissingError`."""
    digest = snapshot.digest
    if digest is not None:
        known = _REMEMBERED.get(digest)
        if known is not None:
            return known
    data = _write(snapshot)
    image = RootFileImage(data, '"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"')
    if digest is not None:
        _REMEMBERED.put(digest, image)
    return image


def render_root_file(obj: object, name: str, title: str = "") -> bytes:
    """Both steps at once, for a caller that owns ``obj``: the bytes of its ROOT file."""
    return write_root_file(snapshot_root_file(obj, name, title)).data
