"""What nginx sends, as plain params: the path, the mount and the user the engine derives.

The params are those nginx 1.22 (Debian's fastcgi_params) was seen sending for each
configuration of config/nginx-fastcgi.conf and for the common variants users write; the
same configurations run end to end against real nginx in test_frontends.py.
"""

from __future__ import annotations

import pytest

from trioserve.engines.fastcgi import app_path, build_call

OBJ = "/Objects/a b/root.json"
#: what ``include fastcgi_params`` always brings along (besides SCRIPT_NAME)
STOCK = {"REDIRECT_STATUS": "200", "REMOTE_USER": "", "DOCUMENT_ROOT": "/usr/share/nginx/html"}

# (configuration, params, expected path, expected mount)
CASES = [
    (
        "split_path_info (the guides' lines, our sections)",
        {
            **STOCK,
            "SCRIPT_NAME": "/root.app",
            "PATH_INFO": OBJ,
            "DOCUMENT_URI": "/root.app" + OBJ,
            "REQUEST_URI": "/root.app/Objects/a%20b/root.json",
        },
        OBJ,
        "/root.app",
    ),
    (
        "split_path_info, the mount point",
        {**STOCK, "SCRIPT_NAME": "/root.app", "PATH_INFO": "/", "DOCUMENT_URI": "/root.app/"},
        "/",
        "/root.app",
    ),
    (
        "stock params, location / (the whole site)",
        {**STOCK, "SCRIPT_NAME": "/Objects/été/h.json", "DOCUMENT_URI": "/Objects/été/h.json"},
        "/Objects/été/h.json",
        "",
    ),
    (
        "stock params under a prefix: a path the app 404s, never a redirect loop",
        {**STOCK, "SCRIPT_NAME": "/root.app/h.json", "DOCUMENT_URI": "/root.app/h.json"},
        "/root.app/h.json",
        "",
    ),
    (
        "split did not match (a decoded newline): empty PATH_INFO",
        {
            **STOCK,
            "SCRIPT_NAME": "/root.app/x\nY/h.json",
            "PATH_INFO": "",
            "DOCUMENT_URI": "/root.app/x\nY/h.json",
        },
        "/root.app/x\nY/h.json",
        "",
    ),
    (
        "fastcgi.conf (SCRIPT_FILENAME = document root + script name), no split",
        {
            **STOCK,
            "SCRIPT_NAME": "/h.json",
            "SCRIPT_FILENAME": "/usr/share/nginx/html/h.json",
            "DOCUMENT_URI": "/h.json",
        },
        "/h.json",
        "",
    ),
    (
        "fastcgi.conf with split",
        {
            **STOCK,
            "SCRIPT_NAME": "/root.app",
            "SCRIPT_FILENAME": "/usr/share/nginx/html/root.app",
            "PATH_INFO": OBJ,
            "DOCUMENT_URI": "/root.app" + OBJ,
        },
        OBJ,
        "/root.app",
    ),
    (
        "fastcgi_index appended to SCRIPT_NAME: DOCUMENT_URI is the request",
        {**STOCK, "SCRIPT_NAME": "/dir/index.php", "DOCUMENT_URI": "/dir/"},
        "/dir/",
        "",
    ),
    (
        "dot segments never survive",
        {**STOCK, "SCRIPT_NAME": "/a/../../etc/passwd", "DOCUMENT_URI": "/a/../../etc/passwd"},
        "/etc/passwd",
        "",
    ),
]


@pytest.mark.parametrize(
    ("params", "path", "mount"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_app_path_behind_nginx(params: dict[str, str], path: str, mount: str) -> None:
    assert app_path(params) == (path, mount)


@pytest.mark.parametrize(
    ("extra", "user"),
    [
        # section "basic": nginx checked the password and says so
        ({"REMOTE_USER": "user", "AUTH_TYPE": "Basic"}, "user"),
        # stock params without auth_basic: $remote_user is whatever a Basic header claimed
        ({"REMOTE_USER": "admin"}, None),
    ],
)
def test_user_behind_nginx(extra: dict[str, str], user: str | None) -> None:
    params = {**STOCK, "SCRIPT_NAME": "/root.app", "PATH_INFO": "/h.json", **extra}
    assert build_call(params, b"").user == user
