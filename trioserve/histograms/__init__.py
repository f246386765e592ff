"""Small numpy-backed histograms that JSROOT draws natively, plus a TGraph-like series.

``Hist1D``, ``Hist2D`` and ``Profile`` render (through the ``__trioserve_json__`` protocol of
:mod:`trioserve.render.json`) as ROOT ``TH1D``, ``TH2D`` and ``TProfile`` JSON; ``Graph`` (made
with :func:`as_graph`) as ``TGraph``. boost-histogram / ``hist`` objects are converted by
:func:`boost_to_root` when those packages are in use (duck-typed: nothing is imported here).

Where things are:

* ``_root``: the ROOT JSON shapes (``TAxis``, the ``TH1`` head and tail, ``TList``) and the
  notes on what JSROOT needs from them;
* ``_binning``: axis checks, NaN dropping and ROOT's ``FindBin``, shared by the classes below;
* ``_hist1d``, ``_hist2d``, ``_profile``: :class:`Hist1D`, :class:`Hist2D`, :class:`Profile`;
* ``_graph``: :class:`Graph` and :func:`as_graph`;
* ``_boost``: :func:`is_boost_histogram` and :func:`boost_to_root` (storages, entries);
  ``_boost_axes``: boost axes as ``TAxis`` (category axes as labelled axes);
* ``_fixed``: :class:`Fixed`, the objects that never change (uniform axes, the empty
  ``TList``), whose text the JSON writer keeps;
* ``_registered``: :func:`registered_view`, a registered histogram with its registered name
  and title, which is also what ROOT-style member URLs (``hpx/fTitle``) walk.

Statistics follow ROOT: ``entries`` counts every fill; the sums behind ``mean``/``std`` only
count fills inside the axis range. NaN coordinates are ignored.

Thread safety: each histogram holds a private lock taken by ``fill*``, ``reset`` and by the
snapshot the renderers take, so a render never sees a half-applied ``fill_many``. That is
enough for the demo (fills from a Trio task, renders on the same thread) and for programs that
fill from other threads; a *sequence* of fills is still not atomic as a whole.
"""

from __future__ import annotations

from trioserve.histograms._boost import boost_to_root, boost_typename
from trioserve.histograms._boost import is_boost_histogram as is_boost_histogram
from trioserve.histograms._fixed import Fixed
from trioserve.histograms._graph import Graph, as_graph
from trioserve.histograms._hist1d import Hist1D
from trioserve.histograms._hist2d import Hist2D
from trioserve.histograms._profile import Profile
from trioserve.histograms._registered import RootView, registered_view, root_of, view_of_node

__all__ = [
    "Fixed",
    "Graph",
    "Hist1D",
    "Hist2D",
    "Profile",
    "RootView",
    "as_graph",
    "boost_to_root",
    "boost_typename",
    "registered_view",
    "root_of",
    "view_of_node",
]
