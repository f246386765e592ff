"""The ``--config`` file: what it accepts, and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from trioserve.config import LIMITS, AuthConfig, ServeConfig, parse_config, read_config
from trioserve.errors import ConfigFileError
from trioserve.launch import engine_specs, with_overrides
from trioserve.spec import ENGINE_OPTIONS, parse_engine_spec

ROOT = Path(__file__).resolve().parents[2]
BASE = "/srv/app"


def parse(text: str) -> ServeConfig:
    return parse_config(text, "app.toml", BASE)


def test_the_example_config_parses() -> None:
    config = read_config(str(ROOT / "config" / "trioserve.toml"))
    assert config.app == "examples.daq_app:build"
    assert config.engines == ("http:127.0.0.1:8080", "fastcgi:127.0.0.1:9000")
    assert config.auth == AuthConfig(str(ROOT / "config" / "example.htdigest"), "root")
    assert [(loc.prefix, loc.directory) for loc in config.locations] == [
        ("docs/", str(ROOT / "docs"))
    ]
    assert config.restrict == (("/Objects/daq/readout", "visible=admin"),)
    assert config.source("app") == f"{ROOT / 'config' / 'trioserve.toml'}: app"


def test_every_key() -> None:
    config = parse(
        """
        app = "pkg.mod:build"
        engines = ["http:8080", "socket:/run/a.sock"]
        top_name = "top"
        readonly = false
        cors = "https://example.org"
        cors_credentials = true
        jsroot = "node_modules/jsroot"
        default_page = "/abs/page.htm"
        max_age = 0
        nocache = true
        [restrict]
        "/Objects/secret" = "visible=admin"
        "*/log" = "allow_method=Select"
        [locations]
        "files/" = "www"
        "raw/" = { path = "../raw", dirlisting = true, dotfiles = false }
        [auth]
        file = "auth.htdigest"
        realm = "root"
        secret_file = "/var/lib/app/secret"
        [limits]
        max_connections = 10
        header_timeout = 2.5
        [log]
        level = "DEBUG"
        access = "logs/access.log"
        """
    )
    assert config == ServeConfig(
        app="pkg.mod:build",
        engines=("http:8080", "socket:/run/a.sock"),
        top_name="top",
        readonly=False,
        cors="https://example.org",
        cors_credentials="true",
        jsroot="/srv/app/node_modules/jsroot",
        default_page="/abs/page.htm",
        max_age=0,
        nocache=True,
        restrict=(("/Objects/secret", "visible=admin"), ("*/log", "allow_method=Select")),
        locations=config.locations,
        auth=AuthConfig("/srv/app/auth.htdigest", "root", "/var/lib/app/secret"),
        limits={"max_connections": 10, "header_timeout": 2.5},
        log_level="debug",
        access_log="/srv/app/logs/access.log",
        sources=config.sources,
    )
    files, raw = config.locations
    assert (files.prefix, files.directory, dict(files.options)) == ("files/", "/srv/app/www", {})
    assert (raw.directory, dict(raw.options)) == (
        "/srv/raw",
        {"dirlisting": True, "dotfiles": False},
    )
    assert config.source("log_level") == "app.toml: log.level"
    assert config.source("readonly") == "app.toml: readonly"


BAD = [
    ("engins = []", "app.toml: engins: unknown key; did you mean 'engines'?"),
    (
        "flavour = 1",
        "app.toml: flavour: unknown key; the keys are app, engines, top_name, "
        "readonly, cors, cors_credentials, jsroot, default_page, max_age, nocache, restrict, "
        "locations, auth, limits, log",
    ),
    ("app = 3", "app.toml: app: expected a string, got an integer 3"),
    ("readonly = 'yes'", "app.toml: readonly: expected true or false, got a string 'yes'"),
    ("max_age = 1.5", "app.toml: max_age: expected an integer, got a float 1.5"),
    ("max_age = true", "app.toml: max_age: expected an integer, got a boolean True"),
    ("max_age = -1", "app.toml: max_age: must be at least 0, got -1"),
    (
        "engines = 'http:8080'",
        "app.toml: engines: expected a non-empty list of engine specs, got a string 'http:8080'",
    ),
    (
        "engines = []",
        "app.toml: engines: expected a non-empty list of engine specs, got an array []",
    ),
    (
        "engines = ['http:8080', 8081]",
        "app.toml: engines[1]: expected an engine spec string "
        "such as 'http:8080', got an integer 8081",
    ),
    (
        "engines = ['http:8080', 'htp:1']",
        "app.toml: engines[1]: unknown engine kind 'htp' in "
        "'htp:1'; expected http, https, socket or fastcgi",
    ),
    (
        "engines = ['http:70000']",
        "app.toml: engines[0]: 'http:70000': port 70000 is out of range: "
        "use 0-65535 (0 picks a free port)",
    ),
    ("restrict = 'x'", "app.toml: restrict: expected a table ([restrict]), got a string 'x'"),
    (
        "[restrict]\n'/a' = 1",
        "app.toml: restrict.'/a': expected a string of options such as "
        "'visible=admin', got an integer 1",
    ),
    (
        "[locations]\n'f/' = 1",
        "app.toml: locations.'f/': expected a directory or a table "
        "with path = DIRECTORY, got an integer 1",
    ),
    (
        "[locations]\n'f/' = {dirlisting = true}",
        "app.toml: locations.'f/': a location table needs path = DIRECTORY",
    ),
    (
        "[locations]\n'f/' = {path = 'x', listing = true}",
        "app.toml: locations.'f/'.listing: unknown key; did you mean 'dirlisting'?",
    ),
    ("[auth]\nfile = 'a'", "app.toml: auth.realm: missing: [auth] needs file and realm"),
    (
        "[auth]\nfile = 'a'\nrealm = 'r'\nrelam = 'r'",
        "app.toml: auth.relam: unknown key; did you mean 'realm'?",
    ),
    (
        "[auth]\nfile = 'a&b'\nrealm = 'r'",
        "app.toml: auth.file: a path with '&' cannot be used: '/srv/app/a&b'",
    ),
    ("[auth]\nfile = ''\nrealm = 'r'", "app.toml: auth.file: must not be empty"),
    (
        "[limits]\nmax_conections = 3",
        "app.toml: limits.max_conections: unknown key; did you mean 'max_connections'?",
    ),
    (
        "[limits]\nmax_body = 0",
        "app.toml: limits.max_body: expected a positive number, got an integer 0",
    ),
    (
        "[log]\nlevel = 'loud'",
        "app.toml: log.level: 'loud' is not one of debug, info, warning, error",
    ),
    (
        "top_name = \nreadonly = true",
        "app.toml: not valid TOML: Invalid value (at line 1, column 12)",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_errors_name_the_file_and_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigFileError) as info:
        parse(text)
    assert str(info.value) == message


def test_read_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match=r"nope\.toml: no such file$"):
        read_config(str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigFileError, match=r"is a directory, not a TOML file$"):
        read_config(str(tmp_path))
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b"top_name = '\xe9'\n")
    with pytest.raises(ConfigFileError, match=r"latin\.toml: is not UTF-8 text$"):
        read_config(str(latin))


def test_limits_are_engine_options() -> None:
    for name in LIMITS:
        assert any(name in options for options in ENGINE_OPTIONS.values()), name


def test_engine_specs_take_auth_limits_and_the_access_log() -> None:
    config = parse(
        """
        engines = ["http:8080", "fastcgi:9000", "http:8081?auth_file=/own&auth_domain=x&max_body=5"]
        [auth]
        file = "/etc/auth"
        realm = "root"
        [limits]
        max_body = 100
        max_header_bytes = 4096
        idle_timeout = 30
        [log]
        access = "/var/log/access.log"
        """
    )
    assert engine_specs(config) == [
        "http:8080?auth_file=/etc/auth&auth_domain=root&max_body=100&max_header_bytes=4096"
        "&log=/var/log/access.log",
        "fastcgi:9000?max_body=100&idle_timeout=30&log=/var/log/access.log",
        "http:8081?auth_file=/own&auth_domain=x&max_body=5&max_header_bytes=4096"
        "&log=/var/log/access.log",
    ]
    for text in engine_specs(config):
        parse_engine_spec(text)  # every merged spec is valid
    assert engine_specs(ServeConfig()) == ["http:127.0.0.1:8080"]


def test_command_line_overrides_the_file() -> None:
    config = parse('app = "a:b"\nengines = ["http:8080"]\ntop_name = "t"\nreadonly = true')
    merged = with_overrides(
        config,
        engines=(("http:9999",), "--spec"),
        readonly=(False, "--readonly/--rw"),
        top_name=(None, "--top"),
    )
    assert (merged.app, merged.engines, merged.top_name, merged.readonly) == (
        "a:b",
        ("http:9999",),
        "t",
        False,
    )
    assert (
        merged.source("engines") == "--spec" and merged.source("top_name") == "app.toml: top_name"
    )
