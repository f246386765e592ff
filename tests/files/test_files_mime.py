from __future__ import annotations

import pytest

from trioserve.mime import DEFAULT_TYPE, is_compressible, mime_type


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("index.htm", "text/html; charset=utf-8"),
        ("page.html", "text/html; charset=utf-8"),
        ("modules/core.mjs", "text/javascript; charset=utf-8"),
        ("scripts/old.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("h.json", "application/json"),
        ("data.xml", "text/xml; charset=utf-8"),
        ("root.bin", "application/x-binary"),
        ("pic.PNG", "image/png"),
        ("photo.jpeg", "image/jpeg"),
        ("photo.jpg", "image/jpeg"),
        ("icon.svg", "image/svg+xml"),
        ("favicon.ico", "image/x-icon"),
        ("font.woff2", "font/woff2"),
        ("font.woff", "font/woff"),
        ("notes.txt", "text/plain; charset=utf-8"),
        ("archive.tar.gz", "application/x-gunzip"),
        ("archive.tgz", "application/x-tar-gz"),
        ("doc.pdf", "application/pdf"),
        ("module.wasm", "application/wasm"),
        ("hsimple.root", DEFAULT_TYPE),
        ("README", DEFAULT_TYPE),
        # the suffix must be strictly shorter than the name (ROOT's rule)
        (".js", DEFAULT_TYPE),
        (".png", DEFAULT_TYPE),
        ("a.js", "text/javascript; charset=utf-8"),
    ],
)
def test_mime_type(name: str, expected: str) -> None:
    assert mime_type(name) == expected


@pytest.mark.parametrize(
    ("mime", "expected"),
    [
        ("text/html; charset=utf-8", True),
        ("text/javascript; charset=utf-8", True),
        ("application/json", True),
        ("image/svg+xml", True),
        ("image/png", False),
        ("image/jpeg", False),
        ("font/woff2", False),
        ("application/x-gunzip", False),
        ("video/mp4", False),
    ],
)
def test_is_compressible(mime: str, expected: bool) -> None:
    assert is_compressible(mime) is expected
