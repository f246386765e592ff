"""The built-in browser UI: ``index.html`` plus ES modules and CSS, no build step.

``index.html`` is the page template (see :mod:`trioserve.requests.page`); ``jsroot.html`` is
the JSROOT-mode page (see :mod:`trioserve.requests.jsroot`); the ``tsui*`` files are served by
:mod:`trioserve.ui.assets`. ``docs/ui.md`` explains the page and the item fields it reads.
"""
