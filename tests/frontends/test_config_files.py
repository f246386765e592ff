"""The snippet files in config/ carry the settings docs/deployment.md explains, and every
section renders completely. (That they work is what the other tests in this directory prove:
they run real front-ends on configs rendered from these very files.)"""

from __future__ import annotations

import re

import pytest

from tests.frontends import harness

ALL_VALUES = {
    "PREFIX": "/root.app",
    "BACKEND": "fcgi://127.0.0.1:9000/",
    "MEMBER1": "fcgi://10.0.0.1:9000",
    "MEMBER2": "fcgi://10.0.0.2:9000",
    "MODULES": "/usr/lib/apache2/modules",
    "HTDIGEST": "/etc/trioserve/htdigest",
    "REALM": "root",
    "HOST": "127.0.0.1",
    "PORT": 9000,
    "HOST2": "10.0.0.2",
    "PORT2": 9000,
    "SOCKET": "/run/trioserve/app.sock",
    "UPSTREAM": "trioserve",
    "PREFIX_RE": harness.PREFIX_RE,
    "HTPASSWD": "/etc/trioserve/htpasswd",
}


@pytest.mark.parametrize(
    "path", [harness.APACHE_SNIPPETS, harness.LIGHTTPD_SNIPPETS, harness.NGINX_SNIPPETS]
)
def test_every_section_renders_completely(path: object) -> None:
    found = harness.sections(path)  # type: ignore[arg-type]
    assert len(found) >= 4
    for name in found:
        text = harness.render(path, name, **ALL_VALUES)  # type: ignore[arg-type]
        assert "@" not in re.sub(r"#.*", "", text), name


def test_render_refuses_a_missing_placeholder() -> None:
    with pytest.raises(ValueError, match="@BACKEND@"):
        harness.render(harness.APACHE_SNIPPETS, "proxy", PREFIX="/x")


def _code(text: str) -> str:
    """The directives only, without comments."""
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def test_apache_sections_have_the_needed_settings() -> None:
    s = {k: _code(v) for k, v in harness.sections(harness.APACHE_SNIPPETS).items()}
    # the user guide's line, untouched
    assert s["userguide"].strip() == 'ProxyPass "@PREFIX@/" "@BACKEND@" enablereuse=on'
    # keep Content-Length; flush small writes; reuse connections
    for name in ("proxy", "balancer"):
        assert "SetEnv ap_trust_cgilike_cl 1" in s[name]
        assert "flushpackets=on" in s[name]
        assert "enablereuse=on" in s[name]
        assert 'RedirectMatch 301 "^@PREFIX@$" "@PREFIX@/"' in s[name]
    assert "ProxyFCGIBackendType GENERIC" in s["generic"]
    for directive in ("AuthType Digest", "AuthDigestProvider file", "Require valid-user"):
        assert directive in s["digest"]
    assert "balancer://trioserve" in s["balancer"] and s["balancer"].count("BalancerMember") == 2
    for module in ("proxy_fcgi", "auth_digest", "authn_file", "proxy_balancer", "slotmem_shm"):
        assert f"mod_{module}.so" in s["modules"]


def test_lighttpd_sections_have_the_needed_settings() -> None:
    s = {k: _code(v) for k, v in harness.sections(harness.LIGHTTPD_SNIPPETS).items()}
    for name in ("fastcgi-tcp", "fastcgi-unix", "balance"):
        assert '"check-local" => "disable"' in s[name]  # otherwise all 404
        assert "server.stream-response-body = 2" in s[name]  # stream, notice gone clients
        assert '"@PREFIX@" =>' in s[name]  # no trailing slash
    assert s["modules"].index('"mod_auth"') < s["modules"].index('"mod_fastcgi"')
    assert 'auth.backend = "htdigest"' in s["digest"]
    assert '"method"  => "digest"' in s["digest"]


SPLIT = (
    "include fastcgi_params;",
    "fastcgi_split_path_info ^(@PREFIX_RE@)(/.*)$;",
    "fastcgi_param PATH_INFO $fastcgi_path_info;",
    "fastcgi_param SCRIPT_NAME $fastcgi_script_name;",
)


def test_nginx_sections_have_the_needed_settings() -> None:
    s = {k: _code(v) for k, v in harness.sections(harness.NGINX_SNIPPETS).items()}
    for name in ("upstream-tcp", "upstream-unix"):
        assert "upstream @UPSTREAM@ {" in s[name]
        assert "keepalive " in s[name]  # idle connections kept for fastcgi_keep_conn
    assert "server @HOST@:@PORT@;" in s["upstream-tcp"]
    assert "server unix:@SOCKET@;" in s["upstream-unix"]
    for name in ("location", "basic", "usual"):
        assert "location @PREFIX@/ {" in s[name]  # the slash: nginx redirects @PREFIX@ itself
        for line in SPLIT:
            assert line in s[name], (name, line)
    for name in ("location", "basic", "root"):
        assert "fastcgi_pass @UPSTREAM@;" in s[name]
        assert "fastcgi_keep_conn on;" in s[name]  # reuse the upstream's connections
        assert "fastcgi_buffering off;" in s[name]  # stream replies, notice gone clients
        assert "client_max_body_size 20m;" in s[name]  # above trioserve's 16 MiB max_body
    # the user from nginx's check, and AUTH_TYPE only where auth_basic guards the location
    for line in ('auth_basic "@REALM@";', "auth_basic_user_file @HTPASSWD@;"):
        assert line in s["basic"]
    assert "fastcgi_param REMOTE_USER $remote_user;" in s["basic"]
    assert "fastcgi_param AUTH_TYPE Basic;" in s["basic"]
    assert all("AUTH_TYPE" not in s[name] for name in s if name != "basic")
    assert "fastcgi_pass @HOST@:@PORT@;" in s["usual"]
