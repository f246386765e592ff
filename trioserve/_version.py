"""The one place the version is written: the package, the ``Server`` header and the build
(pyproject reads it from here) all take it from this module."""

__version__ = "0.1.0"
