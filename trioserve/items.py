"""Small item types a program registers besides its own objects."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Text"]


@dataclass
class Text:
    """A text item (JSROOT ``_kind: "Text"``): shown as text, ``mathjax`` to typeset it.

    Update ``value`` from the program at any time; browsers that monitor it see the change.
    """

    value: str = ""
    mathjax: bool = False
