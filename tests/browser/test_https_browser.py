"""The built-in UI over https in real headless Chromium, trusting the test CA's server
certificate through an SPKI pin (``--ignore-certificate-errors-spki-list``): only that one
key is accepted, so a browser without the pin refuses the same page (checked too).

The server runs the demo on an ``https:`` engine in its own thread
(:class:`tests.browser.conftest.LiveServer`); the page loads, draws from ``h.json`` and
``root.json`` fetched over TLS, and talks to a websocket handler over ``wss://``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import (
    CHROMIUM_FLAGS,
    HANG_GUARD_MS,
    LiveServer,
    _playwright,
    build_ui_demo,
)
from tests.conftest import require_tool
from tests.engines.tls_support import Pki, make_pki

pytestmark = pytest.mark.browser

HSTS_SECONDS = 600


def spki_pin(certificate_pem: Path) -> str:
    """base64 of the SHA-256 of the certificate's SubjectPublicKeyInfo: Chromium's pin."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(certificate_pem.read_bytes())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("browser-pki"))


@pytest.fixture(scope="module")
def tls_server(pki: Pki) -> Iterator[str]:
    """The demo on an https engine; yields its ``https://127.0.0.1:PORT/`` URL."""
    server = LiveServer(
        build=build_ui_demo, spec=f"https:127.0.0.1:0?ssl_cert={pki.combined}&hsts={HSTS_SECONDS}"
    )
    server.start()
    try:
        host, port = server.extra["server"].addresses[0][:2]
        yield f"https://{host}:{port}/"
    finally:
        server.stop()


def _launch(pw: Any, profile: Path, extra_flags: list[str]) -> Any:
    chromium = require_tool("chromium", "/usr/bin/chromium")
    return pw.chromium.launch_persistent_context(
        str(profile),
        executable_path=chromium,
        headless=True,
        args=[*CHROMIUM_FLAGS, *extra_flags],
        viewport={"width": 1100, "height": 700},
        timeout=30_000,
    )


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Any]:
    sync_playwright = _playwright()
    with sync_playwright() as pw:
        yield pw


@pytest.fixture
def pinned_page(
    playwright_driver: Any, pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A tab of a Chromium that trusts exactly the server's key."""
    flag = f"--ignore-certificate-errors-spki-list={spki_pin(pki.chain)}"
    context = _launch(playwright_driver, tmp_path_factory.mktemp("pinned"), [flag])
    try:
        page = context.new_page()
        page.set_default_timeout(HANG_GUARD_MS)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
        page.errors = errors
        yield page
    finally:
        context.close()


def test_the_ui_loads_and_draws_over_https(pinned_page: Any, tls_server: str) -> None:
    page = pinned_page
    first = page.goto(tls_server + "?layout=simple&item=&nomonitoring")
    page.wait_for_selector("#app[data-ready='true']")
    assert first is not None and first.status == 200
    assert first.headers["strict-transport-security"] == f"max-age={HSTS_SECONDS}"
    assert page.evaluate("[location.protocol, window.isSecureContext]") == ["https:", True]
    security = first.security_details()
    assert security is not None and security["protocol"] in ("TLS 1.2", "TLS 1.3")
    # ALPN h2: Chromium speaks HTTP/2 to the engine, for the page and what it loads
    protocols = page.evaluate(
        "performance.getEntries().filter(e => 'nextHopProtocol' in e).map(e => e.nextHopProtocol)"
    )
    assert protocols and set(protocols) == {"h2"}, protocols
    # a histogram: its root.json fetched over TLS, then drawn
    hpx = tls_server + "Objects/hists/hpx/root.json"
    page.locator("li.titem[data-path='Objects/hists'] > .trow > .toggle").first.click()
    with page.expect_response(lambda r: r.url.startswith(hpx)) as fetched:
        page.locator("li.titem[data-path='Objects/hists/hpx'] > .trow > .tname").first.click()
    assert fetched.value.status == 200
    page.wait_for_selector("section.frame[data-item='Objects/hists/hpx'][data-view='hist1d']")
    assert page.errors == []


def test_a_websocket_over_wss_from_the_page(pinned_page: Any, tls_server: str) -> None:
    page = pinned_page
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.goto(tls_server + "Objects/tools/wsdemo/")
    page.wait_for_selector("#ws-page")
    echoed = page.evaluate(
        """() => new Promise((resolve, reject) => {
              const ws = new WebSocket(
                  'wss://' + location.host + '/Objects/tools/wsdemo/root.websocket');
              ws.onopen = () => ws.send('over wss');
              ws.onmessage = (event) => { resolve([ws.url.split(':')[0], event.data]);
                                          ws.close(); };
              ws.onerror = () => reject(new Error('websocket failed'));
           })"""
    )
    assert echoed == ["wss", "over wss"]
    # the handler's bare page has no icon: the browser's favicon request is the only miss
    assert set(failed) <= {tls_server + "favicon.ico"}, failed
    assert all("404" in error for error in page.errors), page.errors


def test_without_the_pin_chromium_refuses_the_certificate(
    playwright_driver: Any, tls_server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    context = _launch(playwright_driver, tmp_path_factory.mktemp("unpinned"), [])
    try:
        page = context.new_page()
        with pytest.raises(Exception, match="ERR_CERT_AUTHORITY_INVALID"):
            page.goto(tls_server, timeout=HANG_GUARD_MS)
    finally:
        context.close()
