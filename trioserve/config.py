"""The ``trioserve serve --config FILE`` file: TOML read into a checked :class:`ServeConfig`.

Pure: :func:`parse_config` takes the file's text, its name (for messages) and its folder
(relative paths are relative to it); only :func:`read_config` touches the disk. Every
mistake is a :class:`~trioserve.errors.ConfigFileError` that names the file and the key, so a
deployment that starts with a typo stops at once instead of serving something else:

* an unknown key, with "did you mean" when one is close (``engins`` -> ``engines``);
* a value of the wrong type, with the type expected;
* an engine spec that does not parse, named by its place (``engines[1]``).

What needs the disk or the program (files exist, the APP imports, the port is free) is
checked when the server is built, by :mod:`trioserve.launch`, which names the key too.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trioserve.errors import ConfigFileError, SpecError
from trioserve.spec import parse_engine_spec

__all__ = [
    "LIMITS",
    "LOG_LEVELS",
    "AuthConfig",
    "LocationConfig",
    "ServeConfig",
    "parse_config",
    "read_config",
]

#: engine options a ``[limits]`` table may set for every engine that takes them
LIMITS = (
    "max_connections",
    "max_websockets",
    "max_peer_connections",
    "max_header_bytes",
    "max_url_length",
    "max_body",
    "max_params",
    "header_timeout",
    "keepalive_timeout",
    "body_timeout",
    "write_timeout",
    "idle_timeout",
    "grace",
)

LOG_LEVELS = ("debug", "info", "warning", "error")

_TOP_KEYS = (
    "app",
    "engines",
    "top_name",
    "readonly",
    "cors",
    "cors_credentials",
    "jsroot",
    "default_page",
    "max_age",
    "nocache",
    "restrict",
    "locations",
    "auth",
    "limits",
    "log",
)
_AUTH_KEYS = ("file", "realm", "secret_file")
_LOCATION_KEYS = ("path", "dirlisting", "dotfiles", "follow_symlinks")
_LOG_KEYS = ("level", "access")


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Digest authentication for every HTTP and unix-socket engine (``[auth]``)."""

    file: str
    realm: str
    secret_file: str | None = None


@dataclass(frozen=True, slots=True)
class LocationConfig:
    """One ``[locations]`` entry: files of ``directory`` served under ``prefix``."""

    prefix: str
    directory: str
    options: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """What ``trioserve serve`` runs. ``None`` means "not given": the server's default stays.

    ``sources`` says where each given value came from (``trioserve.toml: jsroot`` or
    ``--jsroot``), so a later error about it can name the key the user wrote.
    """

    app: str | None = None
    engines: tuple[str, ...] | None = None
    top_name: str | None = None
    readonly: bool | None = None
    cors: str | None = None
    cors_credentials: str | None = None
    jsroot: str | None = None
    default_page: str | None = None
    max_age: int | None = None
    nocache: bool | None = None
    restrict: tuple[tuple[str, str], ...] = ()
    locations: tuple[LocationConfig, ...] = ()
    auth: AuthConfig | None = None
    limits: Mapping[str, int | float] = field(default_factory=dict)
    log_level: str | None = None
    access_log: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict)

    def source(self, name: str) -> str:
        """Where ``name`` was set, for messages: ``FILE: key``, ``--option`` or ``name``."""
        return self.sources.get(name, name)


def read_config(path: str) -> ServeConfig:
    """Read and check the TOML file at ``path``; paths in it are relative to its folder."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ConfigFileError(path, None, "no such file") from None
    except IsADirectoryError:
        raise ConfigFileError(path, None, "is a directory, not a TOML file") from None
    except OSError as exc:
        raise ConfigFileError(path, None, f"cannot be read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigFileError(path, None, "is not UTF-8 text") from None
    return parse_config(text, path, os.path.dirname(os.path.abspath(path)))


def parse_config(text: str, path: str, base_dir: str) -> ServeConfig:
    """Check the TOML ``text`` of the file named ``path``; relative paths join ``base_dir``."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(path, None, f"not valid TOML: {exc}") from None
    reader = _Reader(path, base_dir)
    return reader.read(doc)


class _Reader:
    def __init__(self, path: str, base_dir: str) -> None:
        self.path = path
        self.base_dir = base_dir
        self.sources: dict[str, str] = {}

    def error(self, key: str, message: str) -> ConfigFileError:
        return ConfigFileError(self.path, key, message)

    def read(self, doc: dict[str, Any]) -> ServeConfig:
        self.check_keys(doc, _TOP_KEYS, "")
        values: dict[str, Any] = {}
        for key in ("app", "top_name", "cors"):
            if key in doc:
                values[key] = self.string(doc, key)
        for key in ("jsroot", "default_page"):
            if key in doc:
                values[key] = self.path_value(doc, key)
        for key in ("readonly", "nocache"):
            if key in doc:
                values[key] = self.boolean(doc, key)
        if "cors_credentials" in doc:
            value = doc["cors_credentials"]
            if isinstance(value, bool):
                values["cors_credentials"] = "true" if value else None
            else:
                values["cors_credentials"] = self.string(doc, "cors_credentials")
        if "max_age" in doc:
            values["max_age"] = self.integer(doc, "max_age", minimum=0)
        if "engines" in doc:
            values["engines"] = self.engines(doc["engines"])
        if "restrict" in doc:
            values["restrict"] = self.restrict(self.table(doc, "restrict"))
        if "locations" in doc:
            values["locations"] = self.locations(self.table(doc, "locations"))
        if "auth" in doc:
            values["auth"] = self.auth(self.table(doc, "auth"))
        if "limits" in doc:
            values["limits"] = self.limits(self.table(doc, "limits"))
        if "log" in doc:
            log = self.table(doc, "log")
            self.check_keys(log, _LOG_KEYS, "log.")
            if "level" in log:
                level = self.string(log, "level", "log.").lower()
                if level not in LOG_LEVELS:
                    raise self.error(
                        "log.level", f"{level!r} is not one of {', '.join(LOG_LEVELS)}"
                    )
                values["log_level"] = level
                self.sources["log_level"] = f"{self.path}: log.level"
            if "access" in log:
                values["access_log"] = self.path_value(log, "access", "log.")
                if "&" in values["access_log"]:  # it becomes an engine option, like auth.file
                    raise self.error("log.access", "a path with '&' cannot be used")
                self.sources["access_log"] = f"{self.path}: log.access"
        for key in values:
            self.sources.setdefault(key, f"{self.path}: {key}")
        return ServeConfig(**values, sources=self.sources)

    # -- the shapes -----------------------------------------------------------------------
    def check_keys(self, table: Mapping[str, Any], known: tuple[str, ...], prefix: str) -> None:
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = (
                    f"did you mean {close[0]!r}?" if close else f"the keys are {', '.join(known)}"
                )
                raise self.error(f"{prefix}{key}", f"unknown key; {hint}")

    def value_error(self, key: str, expected: str, value: Any) -> ConfigFileError:
        return self.error(key, f"expected {expected}, got {_toml_type(value)} {value!r}")

    def string(self, table: Mapping[str, Any], key: str, prefix: str = "") -> str:
        value = table[key]
        if not isinstance(value, str):
            raise self.value_error(prefix + key, "a string", value)
        return value

    def boolean(self, table: Mapping[str, Any], key: str, prefix: str = "") -> bool:
        value = table[key]
        if not isinstance(value, bool):
            raise self.value_error(prefix + key, "true or false", value)
        return value

    def integer(self, table: Mapping[str, Any], key: str, *, minimum: int) -> int:
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.value_error(key, "an integer", value)
        if value < minimum:
            raise self.error(key, f"must be at least {minimum}, got {value}")
        return value

    def table(self, table: Mapping[str, Any], key: str) -> dict[str, Any]:
        value = table[key]
        if not isinstance(value, dict):
            raise self.value_error(key, f"a table ([{key}])", value)
        return value

    def path_value(self, table: Mapping[str, Any], key: str, prefix: str = "") -> str:
        value = self.string(table, key, prefix)
        if not value:
            raise self.error(prefix + key, "must not be empty")
        return os.path.normpath(os.path.join(self.base_dir, os.path.expanduser(value)))

    # -- the keys with structure ------------------------------------------------------------
    def engines(self, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.value_error("engines", "a non-empty list of engine specs", value)
        specs: list[str] = []
        for index, item in enumerate(value):
            key = f"engines[{index}]"
            if not isinstance(item, str):
                raise self.value_error(key, "an engine spec string such as 'http:8080'", item)
            try:
                parse_engine_spec(item)
            except SpecError as exc:
                raise self.error(key, str(exc)) from None
            specs.append(item)
        return tuple(specs)

    def restrict(self, table: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        rules: list[tuple[str, str]] = []
        for path, options in table.items():
            if not isinstance(options, str):
                raise self.value_error(
                    f"restrict.{path!r}", "a string of options such as 'visible=admin'", options
                )
            rules.append((path, options))
        return tuple(rules)

    def locations(self, table: dict[str, Any]) -> tuple[LocationConfig, ...]:
        found: list[LocationConfig] = []
        for prefix, value in table.items():
            key = f"locations.{prefix!r}"
            if isinstance(value, str):
                entry: Mapping[str, Any] = {"path": value}
            elif isinstance(value, dict):
                entry = value
                self.check_keys(entry, _LOCATION_KEYS, key + ".")
                if "path" not in entry:
                    raise self.error(key, "a location table needs path = DIRECTORY")
            else:
                raise self.value_error(key, "a directory or a table with path = DIRECTORY", value)
            options = {
                name: self.boolean(entry, name, key + ".") for name in entry if name != "path"
            }
            directory = self.path_value(entry, "path", key + ".")
            found.append(LocationConfig(prefix, directory, options))
        return tuple(found)

    def auth(self, table: dict[str, Any]) -> AuthConfig:
        self.check_keys(table, _AUTH_KEYS, "auth.")
        for key in ("file", "realm"):
            if key not in table:
                raise self.error(f"auth.{key}", "missing: [auth] needs file and realm")
        realm = self.string(table, "realm", "auth.")
        if not realm:
            raise self.error("auth.realm", "must not be empty")
        values = {"file": self.path_value(table, "file", "auth.")}
        if "secret_file" in table:
            values["secret_file"] = self.path_value(table, "secret_file", "auth.")
        for name, value in values.items():
            if "&" in value:  # it becomes an engine option, where & separates options
                raise self.error(f"auth.{name}", f"a path with '&' cannot be used: {value!r}")
        return AuthConfig(realm=realm, **values)

    def limits(self, table: dict[str, Any]) -> dict[str, int | float]:
        self.check_keys(table, LIMITS, "limits.")
        limits: dict[str, int | float] = {}
        for name, value in table.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise self.value_error(f"limits.{name}", "a positive number", value)
            limits[name] = value
        return limits


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__
