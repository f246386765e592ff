"""htdigest files: parsing, re-reading on change, the `trioserve htdigest` command, Apache."""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trioserve.auth.htdigest import (
    Credentials,
    PasswordFile,
    format_entries,
    ha1,
    main,
    parse_htdigest,
    userhash,
)

ADMIN_MD5 = "admin:root:8486674942d143032d947e29d2fa1f1f"
GUEST_MD5 = "guest:root:a437ab679eeaf8b9be222f88b00bf4e8"


def test_parse_apache_lines_and_comments() -> None:
    creds = parse_htdigest(f"# comment\n\n:# civetweb comment\n{ADMIN_MD5}\r\n  {GUEST_MD5}  \n")
    assert creds.ha1("root", "admin", "MD5") == "8486674942d143032d947e29d2fa1f1f"
    assert creds.ha1("root", "guest", "MD5") == ha1("MD5", "guest", "root", "")
    assert creds.ha1("root", "admin", "SHA-256") is None
    assert creds.ha1("other", "admin", "MD5") is None
    assert creds.algorithms("root") == frozenset({"MD5"})
    assert creds.algorithms("other") == frozenset()
    assert creds.users("root") == {"admin", "guest"}


def test_parse_sha256_forms() -> None:
    lines = format_entries("admin", "root", "admin")
    assert lines[0] == ADMIN_MD5  # MD5 first, exactly Apache's line
    sha = ha1("SHA-256", "admin", "root", "admin")
    assert lines[1].startswith(f"admin:root:SHA-256:{sha}:")
    creds = parse_htdigest("\n".join(lines))
    assert creds.ha1("root", "admin", "SHA-256") == sha
    assert creds.algorithms("root") == frozenset({"MD5", "SHA-256"})
    # lighttpd's convention: a plain 64-hex third field is SHA-256
    creds = parse_htdigest(f"bob:root:{ha1('SHA-256', 'bob', 'root', 'pw').upper()}")
    assert creds.ha1("root", "bob", "SHA-256") == ha1("SHA-256", "bob", "root", "pw")
    # a SHA-256 line without binding stands alone
    creds = parse_htdigest(f"carol:root:SHA-256:{ha1('SHA-256', 'carol', 'root', 'pw')}")
    assert creds.ha1("root", "carol", "SHA-256") is not None


BAD_LINES = [
    ("just-one-field", "expected user:realm:HA1"),
    ("a:b:c:d:e:f", "expected user:realm:HA1"),
    ("admin:root:xyz", "not a hex SHA-256 digest"),
    ("admin:root:" + "g" * 32, "not a hex MD5 digest"),
    (":root:8486674942d143032d947e29d2fa1f1f", "empty user or realm"),
    ("admin::8486674942d143032d947e29d2fa1f1f", "empty user or realm"),
    ("admin:root:SHA-512:" + "0" * 64, "unknown algorithm"),
    ("admin:root:SHA-256:" + "0" * 64 + ":nothex", "bad binding field"),
    ("anonymous:root:" + "0" * 32, "reserved"),
]


@pytest.mark.parametrize(("line", "why"), BAD_LINES)
def test_bad_lines_are_logged_not_fatal(
    line: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="trioserve.auth"):
        creds = parse_htdigest(f"{GUEST_MD5}\n{line}\n", "pw.txt")
    assert creds.ha1("root", "guest", "MD5") is not None  # the good line still counts
    assert "pw.txt line 2 ignored" in caplog.text and why in caplog.text
    assert line not in caplog.text or len(line) < 20  # hashes are never logged
    assert "0" * 32 not in caplog.text


def test_first_duplicate_wins(caplog: pytest.LogCaptureFixture) -> None:
    other = "admin:root:" + ha1("MD5", "admin", "root", "other")
    with caplog.at_level(logging.WARNING, logger="trioserve.auth"):
        creds = parse_htdigest(f"{ADMIN_MD5}\n{other}\n")
    assert creds.ha1("root", "admin", "MD5") == ADMIN_MD5.rsplit(":", 1)[1]
    assert "second MD5 entry" in caplog.text


def test_stale_sha256_line_is_ignored(caplog: pytest.LogCaptureFixture) -> None:
    """Apache's htdigest replaced the MD5 line: the old SHA-256 line must not let the old
    password in."""
    lines = format_entries("admin", "root", "old")
    lines[0] = "admin:root:" + ha1("MD5", "admin", "root", "new")
    with caplog.at_level(logging.WARNING, logger="trioserve.auth"):
        creds = parse_htdigest("\n".join(lines))
    assert creds.ha1("root", "admin", "SHA-256") is None
    assert creds.ha1("root", "admin", "MD5") == ha1("MD5", "admin", "root", "new")
    assert "does not belong" in caplog.text
    # MD5 line removed altogether: the bound SHA-256 line goes too
    assert parse_htdigest(lines[1]).ha1("root", "admin", "SHA-256") is None


def test_userhash_lookup() -> None:
    creds = Credentials.from_passwords("root", {"admin": "admin"})
    for alg in ("MD5", "SHA-256"):
        assert creds.user_for_hash("root", alg, userhash(alg, "admin", "root")) == "admin"
        assert creds.user_for_hash("root", alg, userhash(alg, "admin", "root").upper()) == "admin"
        assert creds.user_for_hash("other", alg, userhash(alg, "admin", "root")) is None
    md5_only = Credentials.from_passwords("root", {"admin": "admin"}, ("MD5",))
    assert md5_only.user_for_hash("root", "SHA-256", userhash("SHA-256", "admin", "root")) is None


# ---- re-reading -------------------------------------------------------------------------------


class FakeDisk:
    """An injectable file: the text and a change signature, no clock, no sleeps."""

    def __init__(self, text: str | None) -> None:
        self.text = text
        self.version = 0
        self.reads = 0
        self.fail_read = False
        self.fail_stat = False

    def write(self, text: str | None) -> None:
        self.text = text
        self.version += 1

    def stat(self, path: str) -> object | None:
        if self.fail_stat:
            raise PermissionError(13, "Permission denied")
        return None if self.text is None else (self.version, len(self.text))

    def read(self, path: str) -> str:
        if self.fail_read:
            raise PermissionError(13, "Permission denied")
        self.reads += 1
        assert self.text is not None
        return self.text


def test_password_file_rereads_only_on_change(caplog: pytest.LogCaptureFixture) -> None:
    disk = FakeDisk(GUEST_MD5)
    pf = PasswordFile("pw.txt", stat=disk.stat, read=disk.read)
    assert pf.exists and pf.reloads == 1
    assert pf.ha1("root", "guest", "MD5") is not None
    assert pf.ha1("root", "admin", "MD5") is None
    assert disk.reads == 1  # unchanged: not read again
    disk.write(ADMIN_MD5)
    assert pf.ha1("root", "admin", "MD5") is not None
    assert pf.ha1("root", "guest", "MD5") is None
    assert pf.algorithms("root") == frozenset({"MD5"})
    assert pf.user_for_hash("root", "MD5", userhash("MD5", "admin", "root")) == "admin"
    assert disk.reads == 2
    with caplog.at_level(logging.WARNING, logger="trioserve.auth"):
        disk.write(None)  # deleted: fail closed
        assert pf.ha1("root", "admin", "MD5") is None
        assert pf.ha1("root", "admin", "MD5") is None
        assert not pf.exists
    assert caplog.text.count("is missing") == 1  # logged once, not per request
    disk.write(ADMIN_MD5)
    assert pf.ha1("root", "admin", "MD5") is not None
    disk.fail_read = True
    disk.write(GUEST_MD5)
    with caplog.at_level(logging.WARNING, logger="trioserve.auth"):
        assert pf.ha1("root", "guest", "MD5") is None
    assert "cannot be read" in caplog.text
    disk.fail_read = False
    disk.fail_stat = True
    with caplog.at_level(logging.WARNING, logger="trioserve.auth"):
        assert pf.ha1("root", "guest", "MD5") is None
    assert "cannot be examined" in caplog.text


def test_password_file_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text(GUEST_MD5 + "\n")
    pf = PasswordFile(path)
    assert pf.ha1("root", "guest", "MD5") is not None
    path.write_text(GUEST_MD5 + "\n" + ADMIN_MD5 + "\n")  # size changes
    assert pf.ha1("root", "admin", "MD5") is not None
    path.unlink()
    assert pf.ha1("root", "admin", "MD5") is None


# ---- the command ----------------------------------------------------------------------------


def run_main(monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(argv)


def test_main_creates_and_updates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "auth.txt"
    f = str(path)
    assert run_main(monkeypatch, [f, "root", "guest", "--password-stdin"], "\n") == 0
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert run_main(monkeypatch, [f, "root", "admin", "--password-stdin"], "admin\n") == 0
    text = path.read_text()
    assert text.splitlines()[0] == GUEST_MD5
    assert ADMIN_MD5 in text.splitlines()
    creds = parse_htdigest(text)
    assert creds.ha1("root", "admin", "SHA-256") == ha1("SHA-256", "admin", "root", "admin")
    # a comment and another realm survive; an update replaces in place
    path.write_text("# keep me\n" + text + "admin:other:" + "0" * 32 + "\n")
    assert run_main(monkeypatch, [f, "root", "guest", "--password-stdin"], "g2\r\n") == 0
    lines = path.read_text().splitlines()
    assert lines[0] == "# keep me"
    assert lines[1] == "guest:root:" + ha1("MD5", "guest", "root", "g2")
    assert lines[2].startswith("guest:root:SHA-256:")
    assert ADMIN_MD5 in lines and "admin:other:" + "0" * 32 in lines
    assert len(lines) == 6
    # --md5-only, -c and --delete
    assert run_main(monkeypatch, ["-c", "--md5-only", f, "root", "x", "--password-stdin"], "p") == 0
    assert path.read_text() == "x:root:" + ha1("MD5", "x", "root", "p") + "\n"
    assert run_main(monkeypatch, ["--delete", f, "root", "x"]) == 0
    assert path.read_text() == ""
    assert run_main(monkeypatch, ["--delete", f, "root", "x"]) == 1


@pytest.mark.parametrize(
    ("realm", "user"), [("root", "a:b"), ("ro:ot", "a"), ("root", "anonymous"), ("", "a")]
)
def test_main_refuses_bad_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, realm: str, user: str
) -> None:
    path = tmp_path / "auth.txt"
    assert run_main(monkeypatch, [str(path), realm, user, "--password-stdin"], "pw") == 2
    assert not path.exists()


def test_main_with_getpass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["pw", "pw", "a", "b"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    monkeypatch.setattr("trioserve.auth.htdigest._has_terminal", lambda: True)
    path = tmp_path / "auth.txt"
    assert main([str(path), "root", "u"]) == 0
    assert parse_htdigest(path.read_text()).ha1("root", "u", "MD5") == ha1("MD5", "u", "root", "pw")
    assert main([str(path), "root", "v"]) == 1  # mismatch
    assert parse_htdigest(path.read_text()).ha1("root", "v", "MD5") is None

    def interrupted(prompt: str = "") -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr("getpass.getpass", interrupted)
    assert main([str(path), "root", "w"]) == 1


def test_main_keeps_existing_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "auth.txt"
    path.write_text(GUEST_MD5 + "\n")
    path.chmod(0o640)
    assert run_main(monkeypatch, [str(path), "root", "admin", "--password-stdin"], "admin") == 0
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["auth.txt"]  # no temp file left


# ---- Apache's own htdigest ------------------------------------------------------------------


def _apache_htdigest(path: Path, realm: str, user: str, password: str, create: bool) -> None:
    argv = ["htdigest", *(["-c"] if create else []), str(path), realm, user]
    # without a controlling terminal getpass() falls back to stdin
    subprocess.run(
        argv,
        input=f"{password}\n{password}\n".encode(),
        capture_output=True,
        start_new_session=True,
        timeout=10,
        check=True,
    )


@pytest.fixture
def apache_htdigest() -> None:
    if shutil.which("htdigest") is None:
        message = (
            "htdigest (apache2-utils) not installed: Apache interop of htdigest files UNTESTED"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.usefixtures("apache_htdigest")
@pytest.mark.parametrize("password", ["admin", "", "pässwort with spaces"])
def test_apache_htdigest_writes_the_same_md5_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, password: str
) -> None:
    apache = tmp_path / "apache.txt"
    ours = tmp_path / "ours.txt"
    _apache_htdigest(apache, "root", "admin", password, create=True)
    assert run_main(monkeypatch, [str(ours), "root", "admin", "--password-stdin"], password) == 0
    assert ours.read_text().splitlines()[0] == apache.read_text().strip()


@pytest.mark.usefixtures("apache_htdigest")
def test_apache_htdigest_updates_our_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Apache's tool keeps our lines, and changing a password with it retires our SHA-256
    line instead of leaving the old password valid."""
    path = tmp_path / "auth.txt"
    assert run_main(monkeypatch, [str(path), "root", "admin", "--password-stdin"], "old") == 0
    _apache_htdigest(path, "root", "guest", "", create=False)  # adds a user
    creds = parse_htdigest(path.read_text())
    assert creds.ha1("root", "guest", "MD5") == ha1("MD5", "guest", "root", "")
    assert creds.ha1("root", "admin", "SHA-256") == ha1("SHA-256", "admin", "root", "old")
    _apache_htdigest(path, "root", "admin", "new", create=False)  # changes admin's password
    creds = parse_htdigest(path.read_text())
    assert creds.ha1("root", "admin", "MD5") == ha1("MD5", "admin", "root", "new")
    assert creds.ha1("root", "admin", "SHA-256") is None


def test_main_leaves_no_temp_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "auth.txt"
    path.write_text(GUEST_MD5 + "\n")

    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", fail)
    assert run_main(monkeypatch, [str(path), "root", "admin", "--password-stdin"], "admin") == 2
    assert capsys.readouterr().err == (
        f"trioserve htdigest: cannot write {path}: No space left on device\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["auth.txt"]
    assert path.read_text() == GUEST_MD5 + "\n"


# ---- one-line errors and --mode, as a real process ------------------------------------------


def htdigest(
    *args: str, stdin: str | None = None, new_session: bool = True
) -> subprocess.CompletedProcess[str]:
    """``trioserve htdigest ARGS`` in a new session: no controlling terminal, as under cron,
    ssh without -t or a provisioning script."""
    return subprocess.run(
        [sys.executable, "-m", "trioserve.cli", "htdigest", *args],
        input=stdin,
        capture_output=True,
        text=True,
        start_new_session=new_session,
        timeout=60,
    )


def test_command_errors_are_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    cases = [
        (
            [str(missing / "auth"), "root", "admin", "--password-stdin"],
            f"the directory {missing} does not exist: create it first (mkdir -p {missing})",
        ),
        (
            [str(tmp_path), "root", "admin", "--password-stdin"],
            f"{tmp_path} is a directory: give the path of a file in it, e.g. "
            f"{tmp_path / 'auth.htdigest'}",
        ),
        (
            [str(tmp_path / "auth"), "root", "admin"],
            "no terminal to ask for the password: pipe it in with --password-stdin",
        ),
        (
            [str(tmp_path / "auth"), "root", "admin", "--mode", "0999", "--password-stdin"],
            "--mode 0999 is not an octal file mode such as 0640",
        ),
        (
            [str(tmp_path / "auth"), "root", "a:b", "--password-stdin"],
            "user must not contain ':' or control characters",
        ),
    ]
    for args, message in cases:
        result = htdigest(*args, stdin="pw\n")
        assert (result.returncode, result.stdout, result.stderr) == (
            2,
            "",
            f"trioserve htdigest: {message}\n",
        ), args
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_unreadable_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "auth"
    path.write_bytes(b"\xff\xfe not text\n")
    result = htdigest(str(path), "root", "admin", "--password-stdin", stdin="pw\n")
    assert (result.returncode, result.stderr) == (
        2,
        f"trioserve htdigest: cannot read {path}: it is not UTF-8 text\n",
    )


@pytest.mark.parametrize(("args", "mode"), [([], 0o600), (["--mode", "0640"], 0o640)])
def test_mode_option(tmp_path: Path, args: list[str], mode: int) -> None:
    path = tmp_path / "auth"
    result = htdigest(str(path), "root", "admin", "--password-stdin", *args, stdin="admin\n")
    assert (result.returncode, result.stderr) == (0, "")
    assert os.stat(path).st_mode & 0o777 == mode
    assert path.read_text().splitlines()[0] == ADMIN_MD5
    # an update keeps the mode unless --mode says otherwise
    assert htdigest(str(path), "root", "guest", "--password-stdin", stdin="\n").returncode == 0
    assert os.stat(path).st_mode & 0o777 == mode
    result = htdigest(str(path), "root", "guest", "--delete", "--mode", "644")
    assert result.returncode == 0 and os.stat(path).st_mode & 0o777 == 0o644
