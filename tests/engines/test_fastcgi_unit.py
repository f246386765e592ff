"""The FastCGI engine's pure parts: path derivation, the Call, the CGI header block, the
debug page. Param sets are the ones FINDINGS.md measured on real Apache and lighttpd."""

from __future__ import annotations

import pytest

from trioserve.call import Response
from trioserve.debugpage import HIDDEN, render_debug_page
from trioserve.debugpage import is_secret_field as is_credential
from trioserve.engines.fastcgi import app_path, build_call, response_head

OBJ = "/Objects/subfolder/obj/root.json"

# (front-end configuration, params subset, expected path, expected mount)
PATH_CASES = [
    (
        "apache default (FPM), TCP",
        {"SCRIPT_NAME": "/root.app" + OBJ, "SCRIPT_FILENAME": "proxy:fcgi://127.0.0.1:9000" + OBJ},
        OBJ,
        "/root.app",
    ),
    (
        "apache default, unix socket",
        {"SCRIPT_NAME": "/root.app" + OBJ, "SCRIPT_FILENAME": "proxy:fcgi://localhost" + OBJ},
        OBJ,
        "/root.app",
    ),
    (
        "apache default, encoded UTF-8",
        {
            "SCRIPT_NAME": "/root.app/Objects/été/root.json",
            "SCRIPT_FILENAME": "proxy:fcgi://127.0.0.1:9000/Objects/%C3%A9t%C3%A9/root.json",
        },
        "/Objects/été/root.json",
        "/root.app",
    ),
    (
        "apache default, mount root",
        {"SCRIPT_NAME": "/root.app/", "SCRIPT_FILENAME": "proxy:fcgi://127.0.0.1:9000/"},
        "/",
        "/root.app",
    ),
    (
        "apache default, worker URL without a path",
        {"SCRIPT_NAME": "/root.app/", "SCRIPT_FILENAME": "proxy:fcgi://127.0.0.1:9000"},
        "/",
        "/root.app",
    ),
    (
        "apache GENERIC",
        {"SCRIPT_NAME": "/root.app" + OBJ, "SCRIPT_FILENAME": OBJ},
        OBJ,
        "/root.app",
    ),
    (
        "apache GENERIC, encoded space",
        {"SCRIPT_NAME": "/root.app/a b/h.json", "SCRIPT_FILENAME": "/a%20b/h.json"},
        "/a b/h.json",
        "/root.app",
    ),
    (
        "apache pathinfo=unescape",
        {
            "SCRIPT_NAME": "/root.app",
            "PATH_INFO": OBJ,
            "SCRIPT_FILENAME": "proxy:fcgi://127.0.0.1:9000" + OBJ,
        },
        OBJ,
        "/root.app",
    ),
    (
        "apache GENERIC + ProxyFCGISetEnvIf",
        {"SCRIPT_NAME": "/root.app", "PATH_INFO": OBJ, "SCRIPT_FILENAME": OBJ},
        OBJ,
        "/root.app",
    ),
    (
        "lighttpd check-local disable",
        {
            "SCRIPT_NAME": "/root.app",
            "PATH_INFO": "/Objects/sub folder/a/b/root.json",
            "SCRIPT_FILENAME": "/root.app",
            "REDIRECT_STATUS": "200",
        },
        "/Objects/sub folder/a/b/root.json",
        "/root.app",
    ),
    (
        "lighttpd /root.app without slash",
        {"SCRIPT_NAME": "/root.app", "SCRIPT_FILENAME": "/root.app", "REDIRECT_STATUS": "200"},
        None,
        "/root.app",
    ),
    ("lighttpd empty PATH_INFO", {"SCRIPT_NAME": "/r", "PATH_INFO": ""}, "/", "/r"),
    ("no path params at all", {}, None, ""),
    (
        "dot segments never survive",
        {"SCRIPT_NAME": "/x", "SCRIPT_FILENAME": "proxy:fcgi://h/a/%2e%2e/../../etc/passwd"},
        "/etc/passwd",
        "/x",
    ),
]


@pytest.mark.parametrize(
    ("params", "path", "mount"), [c[1:] for c in PATH_CASES], ids=[c[0] for c in PATH_CASES]
)
def test_app_path(params: dict[str, str], path: str | None, mount: str) -> None:
    assert app_path(params) == (path, mount)


def test_build_call_from_lighttpd_params() -> None:
    params = {
        "REQUEST_METHOD": "post",
        "SCRIPT_NAME": "/root.app",
        "PATH_INFO": "/multi.json",
        "QUERY_STRING": "number=2&x=%20",
        "CONTENT_LENGTH": "9999",  # never trusted: the body decides
        "HTTP_CONTENT_LENGTH": "9999",
        "CONTENT_TYPE": "text/plain",
        "HTTP_X_DASH": "1",
        "HTTP_ACCEPT_ENCODING": "gzip",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "HTTP_EXPECT": "100-continue",
        "REMOTE_ADDR": "10.0.0.7",
        "REMOTE_USER": "user",
        "AUTH_TYPE": "Digest",
    }
    call = build_call(params, b"abc", top_name="Top", peer="unused")
    assert (call.method, call.path, call.query) == ("POST", "/multi.json", "number=2&x=%20")
    assert (call.item_path, call.file_name) == ("", "multi.json")
    assert call.body == b"abc"
    assert call.user == "user"
    assert (call.engine, call.top_name, call.script_name, call.peer) == (
        "fastcgi",
        "Top",
        "/root.app",
        "10.0.0.7",
    )
    assert sorted(call.headers) == [
        ("accept-encoding", "gzip"),
        ("content-length", "3"),
        ("content-type", "text/plain"),
        ("x-dash", "1"),
    ]
    assert call.accepts_gzip()


@pytest.mark.parametrize(
    ("extra", "user"),
    [
        ({"REMOTE_USER": "user", "AUTH_TYPE": "Digest"}, "user"),
        ({"REMOTE_USER": "user", "AUTH_TYPE": ""}, None),
        ({"REMOTE_USER": "user"}, None),
        ({"AUTH_TYPE": "Digest", "REMOTE_USER": ""}, None),
        ({"REMOTE_USERX": "admin", "AUTH_TYPE": "Basic"}, None),
    ],
)
def test_user_only_when_the_front_end_authenticated(extra: dict, user: str | None) -> None:
    call = build_call({"PATH_INFO": "/", **extra}, b"", peer="p")
    assert call.user == user
    assert call.peer == "p"
    assert call.headers == []  # a GET without CONTENT_LENGTH has no length header


def test_response_head() -> None:
    response = Response(status=404, content_type="application/json", body=b"{}")
    response.headers += [
        ("Content-Length", "999"),
        ("Connection", "close"),
        ("X-Evil", "a\r\nSet-Cookie: x=1"),
        ("Bad:Name", "v"),
        ("Content-Encoding", "gzip"),
    ]
    head = response_head(response, "GET")
    assert head == (
        b"Status: 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
        b"X-Evil: a  Set-Cookie: x=1\r\nBadName: v\r\nContent-Encoding: gzip\r\n\r\n"
    )
    assert response_head(Response(status=299), "HEAD").startswith(b"Status: 299 Unknown\r\n")
    streamed = Response(body=_agen(), content_length=None)
    assert b"Content-Length" not in response_head(streamed, "GET")
    assert (
        response_head(Response(status=304, body=b""), "GET") == b"Status: 304 Not Modified\r\n\r\n"
    )


async def _agen():  # pragma: no cover - never iterated
    yield b""


def test_debug_page_escapes_and_hides_credentials() -> None:
    params = {
        "PATH_INFO": "/<script>alert(1)</script>/h.json",
        "QUERY_STRING": "a=<b>&c='\"",
        "HTTP_AUTHORIZATION": 'Digest username="user", response="abc"',
        "HTTP_COOKIE": "session=s3cr3t",
        "DB_PASSWORD": "pw1",
        "api_token": "tok1",
        "MY_SECRET_KEY": "sk1",
        "HTTP_X_NAME": "<img src=x onerror=alert(2)>",
    }
    call = build_call(params, b"12345")
    response = render_debug_page("FastCGI echo", call, params.items())
    assert response.status == 200
    assert response.content_type.startswith("text/html")
    page = response.body
    assert isinstance(page, bytes)
    text = page.decode()
    for secret in ("abc", "s3cr3t", "pw1", "tok1", "sk1"):
        assert secret not in text
    # five credential params, and the two credential headers derived from them
    assert text.count(HIDDEN) == 7
    assert "<script>" not in text and "<img" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(2)&gt;" in text
    assert "5 bytes" in text and "GET" in text


@pytest.mark.parametrize(
    ("name", "hidden"),
    [
        ("HTTP_AUTHORIZATION", True),
        ("HTTP_PROXY_AUTHORIZATION", True),
        ("HTTP_COOKIE", True),
        ("Authorization", True),
        ("PGPASSWORD", True),
        ("GITHUB_TOKEN", True),
        ("client-secret", True),
        ("HTTP_HOST", False),
        ("REMOTE_USER", False),
        ("HTTP_SET_COOKIE2", False),
    ],
)
def test_is_credential(name: str, hidden: bool) -> None:
    assert is_credential(name) is hidden
