"""``auth_secret_file=``: the nonce secret on disk, created when missing, refused when unsafe,
never logged; and the engine option that reads it."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from tests.auth.test_auth_digest import T0, authorization
from trioserve.auth import DigestAuthenticator, make_authenticator
from trioserve.auth import secret_file as secret_file_module
from trioserve.auth.htdigest import format_entries
from trioserve.auth.secret_file import SecretFileError, load_secret_file
from trioserve.errors import SpecError
from trioserve.spec import parse_engine_spec

GOOD = "7d1c0b2a9e8f" * 6  # 72 characters


def test_missing_file_is_created_0600_and_read_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "nonce.secret"
    old_umask = os.umask(0)  # even a permissive umask gives 0600
    try:
        with caplog.at_level(logging.DEBUG, logger="trioserve.auth"):
            first = load_secret_file(path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert len(first) == 64 and text == first.decode() + "\n"
    int(first, 16)  # hex digits: easy to copy to the other machines of a balancer
    assert load_secret_file(path) == first  # a restart reads the same secret
    assert "created the secret file" in caplog.text
    assert first.decode() not in caplog.text
    assert [p.name for p in tmp_path.iterdir()] == ["nonce.secret"]  # no temporary left


def test_concurrent_creation_keeps_the_first_secret(tmp_path: Path) -> None:
    path = str(tmp_path / "nonce.secret")
    assert secret_file_module._create(path) is True
    first = Path(path).read_bytes()
    assert secret_file_module._create(path) is False  # a second process lost the race
    assert Path(path).read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nonce.secret"]


def test_creation_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(src: str, dst: str) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "nonce.secret"
    secret = load_secret_file(path)
    assert len(secret) == 64 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_file_module._create(str(path)) is False
    assert load_secret_file(path) == secret


def test_surrounding_whitespace_is_not_part_of_the_secret(tmp_path: Path) -> None:
    with_newline, without = tmp_path / "a", tmp_path / "b"
    with_newline.write_text(GOOD + "\n")
    without.write_text("  " + GOOD)
    with_newline.chmod(0o600)
    without.chmod(0o600)
    assert load_secret_file(with_newline) == load_secret_file(without) == GOOD.encode()


def test_symlinks_are_followed(tmp_path: Path) -> None:
    """Mounted secrets (Kubernetes, Docker) are symlinks to the real file."""
    real = tmp_path / "real"
    real.write_text(GOOD)
    real.chmod(0o400)
    link = tmp_path / "link"
    link.symlink_to(real)
    assert load_secret_file(link) == GOOD.encode()


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path, 0o600)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d / "f").write_text("short") and d / "f", "fewer than 32 bytes"),
        (lambda d: (d / "f").write_text(" \n\n ") and d / "f", "fewer than 32 bytes"),
        (lambda d: (d / "f").write_text("x" * 5000) and d / "f", "larger than 4096 bytes"),
        (lambda d: d, "not a regular file"),
        (_fifo, "not a regular file"),
        (lambda d: d / "missing-dir" / "f", "cannot be created"),
    ],
    ids=["short", "blank", "huge", "directory", "fifo", "no directory"],
)
def test_unusable_files_are_refused(tmp_path: Path, make: object, message: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    if path.is_file():
        path.chmod(0o600)
    with pytest.raises(SecretFileError, match=message):
        load_secret_file(path)


def test_dangling_symlink_is_refused_not_created(tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(SecretFileError, match="No such file"):
        load_secret_file(link)
    assert not (tmp_path / "elsewhere").exists()


def test_world_writable_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text(GOOD)
    path.chmod(0o602)
    with pytest.raises(SecretFileError, match="writable by everyone"):
        load_secret_file(path)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_group_or_other_access_is_a_warning(
    tmp_path: Path, mode: int, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "f"
    path.write_text(GOOD)
    path.chmod(mode)
    with caplog.at_level(logging.WARNING, logger="trioserve.auth"):
        assert load_secret_file(path) == GOOD.encode()
    assert f"mode {mode:04o}" in caplog.text and GOOD not in caplog.text


# ---- the engine option ----------------------------------------------------------------------


@pytest.fixture
def htdigest(tmp_path: Path) -> Path:
    path = tmp_path / "auth.txt"
    path.write_text("\n".join(format_entries("admin", "root", "admin")) + "\n")
    return path


def _authenticator(options: str) -> DigestAuthenticator:
    auth = make_authenticator(parse_engine_spec(f"http:8080?{options}"))
    assert isinstance(auth, DigestAuthenticator)
    return auth


def test_option_shares_nonces_between_authenticators(tmp_path: Path, htdigest: Path) -> None:
    secret = tmp_path / "nonce.secret"
    options = f"auth_file={htdigest}&auth_domain=root&auth_secret_file={secret}"
    first, second = _authenticator(options), _authenticator(options)  # created, then read
    assert secret.exists() and first.verifier.opaque == second.verifier.opaque
    header = authorization(first.verifier, T0, uri="/h.json")
    assert second.verifier.verify("GET", "/h.json", header, T0 + 1).__class__.__name__ == "Ok"
    alone = _authenticator(f"auth_file={htdigest}&auth_domain=root")
    assert alone.verifier.opaque != first.verifier.opaque


def test_option_is_accepted_by_http_and_socket_engines_only() -> None:
    assert "auth_secret_file" in parse_engine_spec("http:0?auth_secret_file=/x").options
    assert "auth_secret_file" in parse_engine_spec("socket:/tmp/a.sock?auth_secret_file=/x").options
    with pytest.raises(SpecError):
        parse_engine_spec("fastcgi:0?auth_secret_file=/x")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("auth_secret_file={secret}", "is for digest authentication"),
        ("auth_file={htdigest}&auth_secret_file={secret}", "auth_domain is missing"),
        ("auth_file={htdigest}&auth_domain=root&auth_secret_file=", "needs a path"),
        ("auth_file={htdigest}&auth_domain=root&auth_secret_file", "needs a path"),
        ("auth_file={htdigest}&auth_domain=root&auth_secret_file={short}", "fewer than 32"),
    ],
)
def test_option_errors_stop_the_server(
    tmp_path: Path, htdigest: Path, options: str, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    short = tmp_path / "short"
    short.write_text("s3cr3t-bits")
    short.chmod(0o600)
    text = options.format(htdigest=htdigest, secret=tmp_path / "s", short=short)
    with caplog.at_level(logging.DEBUG), pytest.raises(SpecError, match=message) as info:
        make_authenticator(parse_engine_spec(f"http:8080?{text}"))
    assert "s3cr3t-bits" not in str(info.value) and "s3cr3t-bits" not in caplog.text
    assert not (tmp_path / "s").exists()  # nothing created for a spec that is refused
