"""Spec strings: ROOT's forms parse; anything unknown is an error, never ignored."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from trioserve.errors import SpecError
from trioserve.spec import parse_engine_spec, parse_server_string


@pytest.mark.parametrize(
    ("text", "kind", "host", "port", "path"),
    [
        ("http:8080", "http", "127.0.0.1", 8080, None),
        ("http:127.0.0.1:8081", "http", "127.0.0.1", 8081, None),
        ("http:0.0.0.0:8080", "http", "0.0.0.0", 8080, None),
        ("http:[::1]:8080", "http", "::1", 8080, None),
        ("http:8080?loopback&thrds=2", "http", "127.0.0.1", 8080, None),
        ("http:8080/none?top=x", "http", "127.0.0.1", 8080, None),
        (":9999", "http", "127.0.0.1", 9999, None),
        ("http:8080?bind=10.0.0.5", "http", "10.0.0.5", 8080, None),
        ("socket:/tmp/app.socket", "socket", "127.0.0.1", 0, "/tmp/app.socket"),
        ("fastcgi:9000", "fastcgi", "127.0.0.1", 9000, None),
        ("fastcgi:0.0.0.0:9000", "fastcgi", "0.0.0.0", 9000, None),
        ("fastcgi:/run/app.sock", "fastcgi", "127.0.0.1", 0, "/run/app.sock"),
    ],
)
def test_engine_specs(text: str, kind: str, host: str, port: int, path: str | None) -> None:
    spec = parse_engine_spec(text)
    assert (spec.kind, spec.host, spec.port, spec.path) == (kind, host, port, path)


def test_options_keep_raw_values() -> None:
    spec = parse_engine_spec(
        "http:8080?loopback&thrds=2&top=Name&debug&cors=https://x.org&max_age=0"
    )
    assert spec.options == {
        "loopback": "",
        "thrds": "2",
        "top": "Name",
        "debug": "",
        "cors": "https://x.org",
        "max_age": "0",
    }
    assert spec.flag("debug") and spec.flag("loopback") and not spec.flag("nocache")
    assert spec.int_option("thrds", 10) == 2
    assert spec.int_option("max_age", 3600) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ftp:21", "unknown engine kind 'ftp'"),
        ("http:8080?lopback", "unknown option(s) lopback"),
        ("http:8080?socket_mode=0600", "socket_mode"),
        ("fastcgi:9000?cors", "unknown option(s) cors"),
        ("http:eighty", "port 'eighty' is not a number"),
        ("http:70000", "out of range"),
        ("socket:", "needs a path"),
        ("readwrite-ish", "neither a server option"),
        ("http:8080?=1", "empty option name"),
    ],
)
def test_bad_specs_are_errors(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_server_string(text)


def test_integer_option_error_names_the_option() -> None:
    with pytest.raises(SpecError, match="thrds='many'"):
        parse_engine_spec("http:8080?thrds=many").int_option("thrds", 1)


def test_server_string_splits_server_options_and_engines() -> None:
    parsed = parse_server_string(
        "http:8080?loopback;rw;cors=https://a.org;noglobal;socket:/tmp/x.socket"
    )
    assert parsed.readonly is False
    assert parsed.cors == "https://a.org"
    assert [e.kind for e in parsed.engines] == ["http", "socket"]
    assert parse_server_string("http:1;ro").readonly is True
    assert parse_server_string("http:1;cors").cors == "*"
    assert parse_server_string("http:1").readonly is None


def test_leading_zero_is_octal_like_a_file_mode() -> None:
    spec = parse_engine_spec("socket:/tmp/x.sock?socket_mode=0660")
    assert spec.int_option("socket_mode", 0o600) == 0o660
    assert parse_engine_spec("http:1?max_age=0").int_option("max_age", 5) == 0


@pytest.mark.parametrize(
    ("text", "engines", "logged"),
    [
        ("http:8080;basic_sniffer", [("http", 8080, None)], "basic_sniffer means nothing here"),
        (
            "socket:/tmp/r.sock?socket_mode=0700&thrd=2",
            [("socket", 0, "/tmp/r.sock")],
            "thrd is not an option",
        ),
        ("http:8080/none?rw", [("http", 8080, None)], "make the server read-write with"),
        ("fastcgi:9000?ro", [("fastcgi", 9000, None)], "read-only by default"),
    ],
)
def test_roots_own_spec_strings_are_accepted_with_a_log_line(
    text: str, engines: list[tuple[str, int, str | None]], logged: str, caplog: Any
) -> None:
    with caplog.at_level(logging.INFO, logger="trioserve.spec"):
        parsed = parse_server_string(text)
    assert [(e.kind, e.port, e.path) for e in parsed.engines] == engines
    assert parsed.readonly is None  # "?rw" does not make the server read-write (nor in ROOT)
    assert all("thrd" not in e.options and "rw" not in e.options for e in parsed.engines)
    assert parsed.engines[0].options.get("socket_mode", "0700") == "0700"
    assert [r.name for r in caplog.records] == ["trioserve.spec"]
    assert logged in caplog.records[0].getMessage()
