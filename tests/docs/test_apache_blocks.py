"""Every Apache snippet in the docs that proxies to FastCGI carries the settings that matter.

``config/apache-fastcgi.conf`` is run against real Apache by ``tests/frontends/``; the docs
repeat its ``proxy`` section for other prefixes (several programs, a balancer, websockets
beside FastCGI), and a copy that drops a line silently costs the reader: without
``SetEnv ap_trust_cgilike_cl 1`` Apache re-chunks every reply, without ``flushpackets=on``
it holds small writes back, without the redirect ``/prefix`` is a 403. So each
``ProxyPass`` to ``fcgi://``, ``unix:…|fcgi://`` or ``balancer://`` in an ```apache block
must come with those three for its prefix, in the same block.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs.blocks import doc_files, fences

ROOT = Path(__file__).resolve().parents[2]

_PROXYPASS = re.compile(r'^\s*ProxyPass\s+"(?P<prefix>[^"]+)"\s+"(?P<target>[^"]+)"(?P<opts>.*)$')
_LOCATION = re.compile(r'<Location\s+"(?P<prefix>[^"]+)">(?P<body>.*?)</Location>', re.DOTALL)
_MEMBER = re.compile(r"^\s*BalancerMember\s+(?P<rest>.*)$", re.MULTILINE)


def _apache_blocks() -> list[tuple[str, str]]:
    found = []
    for path in doc_files(ROOT):
        relative = path.relative_to(ROOT).as_posix()
        for fence in fences(path.read_text(encoding="utf-8"), relative):
            if fence.lang == "apache":
                found.append((f"{relative}:{fence.line}", fence.text))
    return found


def problems(text: str) -> list[str]:
    """What a block's FastCGI ``ProxyPass`` lines lack (empty: nothing)."""
    trusted = {
        m["prefix"] for m in _LOCATION.finditer(text) if "SetEnv ap_trust_cgilike_cl 1" in m["body"]
    }
    out = []
    for line in text.splitlines():
        proxy = _PROXYPASS.match(line)
        if proxy is None or proxy["target"].startswith(("ws:", "wss:", "http:", "https:")):
            continue
        prefix, target = proxy["prefix"], proxy["target"]
        if prefix not in trusted:
            out.append(f'{prefix}: no <Location "{prefix}"> with SetEnv ap_trust_cgilike_cl 1')
        bare = prefix.rstrip("/")
        if not re.search(rf'RedirectMatch 301 "\^{re.escape(bare)}\$" "{re.escape(prefix)}"', text):
            out.append(f"{prefix}: no RedirectMatch from {bare} to {prefix}")
        if target.startswith("balancer://"):
            members = [m["rest"] for m in _MEMBER.finditer(text)]
            if not members or not all("flushpackets=on" in m for m in members):
                out.append(f"{prefix}: a BalancerMember without flushpackets=on")
        elif "flushpackets=on" not in proxy["opts"]:
            out.append(f"{prefix}: ProxyPass without flushpackets=on")
    return out


BLOCKS = [(where, text) for where, text in _apache_blocks() if "ProxyPass" in text]


@pytest.mark.parametrize(("where", "text"), BLOCKS, ids=[w for w, _ in BLOCKS])
def test_fastcgi_proxypass_has_the_settings_that_matter(where: str, text: str) -> None:
    assert problems(text) == [], f"{where}:\n{text}"


def test_the_check_finds_what_is_missing() -> None:
    bare = 'ProxyPass "/mon/" "unix:/run/mon/app.sock|fcgi://localhost/" enablereuse=on\n'
    assert problems(bare) == [
        '/mon/: no <Location "/mon/"> with SetEnv ap_trust_cgilike_cl 1',
        "/mon/: no RedirectMatch from /mon to /mon/",
        "/mon/: ProxyPass without flushpackets=on",
    ]
    websocket = 'ProxyPass "/a/x/root.websocket" "ws://127.0.0.1:8080/x/root.websocket"\n'
    assert problems(websocket) == []


def test_the_config_files_proxy_section_passes() -> None:
    """The tested snippet itself, with its placeholders filled, is what the check expects."""
    text = (ROOT / "config" / "apache-fastcgi.conf").read_text(encoding="utf-8")
    section = text.split("# === section: proxy ===", 1)[1].split("# === section:", 1)[0]
    filled = section.replace("@PREFIX@", "/root.app").replace("@BACKEND@", "fcgi://h:9000/")
    assert "ProxyPass" in filled and problems(filled) == []
