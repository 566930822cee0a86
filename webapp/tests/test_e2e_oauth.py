"""The consent page in a real browser (Debian's Chromium, Playwright), at 1280 and 390 px: a registered app sends
the person to /app/oauth/authorize/, they sign in, choose read and write, allow, and the browser lands on the app's
loopback callback with a code (the page's CSP lets the form's answer redirect there, and nowhere else); the app
is then listed under "Where you're signed in" and disconnected there. Screenshots:
test-artifacts/oauth-consent-<screen>.png."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from accounts.models import AppConnection
from testkit import make_user
from testkit import oauth as dance
from testkit.browser import CHROMIUM
from webapp.tests.test_e2e_browser import ARTIFACTS, SCREENS, _fits

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed: run `make browser`"),
]


class _Callback(BaseHTTPRequestHandler):
    received: list[str] = []

    def do_GET(self) -> None:  # http.server's name
        type(self).received.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"You can close this window.")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def callback() -> Iterator[tuple[str, list[str]]]:
    """The app's loopback callback (as a native MCP client runs one, on a port the OS picks): its redirect URI and
    the paths the browser lands on."""
    _Callback.received = []
    server = HTTPServer(("127.0.0.1", 0), _Callback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/callback", _Callback.received
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("screen", list(SCREENS))
def test_consent_in_a_real_browser_lands_on_the_apps_callback(transactional_db, live_server, browser, callback, screen):
    user = make_user(f"connecting-{screen}")
    base, (redirect_uri, landed_on) = live_server.url, callback
    registered = httpx2.post(
        f"{base}/oauth/register/",
        json={"client_name": "Claude", "redirect_uris": [redirect_uri], "token_endpoint_auth_method": "none"},
    )
    assert registered.status_code == 201, registered.text
    cid, pair = registered.json()["client_id"], dance.pkce()
    url = base + dance.authorize_url(cid, pair.challenge, redirect_uri=redirect_uri, resource=f"{base}/mcp")
    problems: list[str] = []
    page = browser.new_context(viewport=SCREENS[screen]).new_page()  # type: ignore[arg-type]
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(url)  # not signed in: the sign-in form first, then back to the consent page
    page.fill("#id_login", user.username)
    page.fill("#id_password", f"pw-{user.username}")
    with page.expect_navigation():
        page.click("button:has-text('Sign in')")
    assert "Connect “Claude” to your memories?" in page.inner_text("[data-consent]")
    assert page.is_checked("[data-access='write'] input")
    _fits(page, screen)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"oauth-consent-{screen}.png"), full_page=True)

    page.check("[data-access='read'] input")
    with page.expect_navigation(url=lambda u: u.startswith(redirect_uri)):
        page.click("button:has-text('Allow')")
    landed = [path for path in landed_on if path.startswith("/callback?")]  # not the browser's /favicon.ico
    query = parse_qs(urlsplit(landed[0]).query)
    assert query["state"] == ["st4te"] and query["code"][0]
    assert query["iss"] == [base]  # RFC 9207
    assert AppConnection.objects.get(user=user).scope == "read"

    tokens = httpx2.post(
        f"{base}/oauth/token/",
        data={
            "grant_type": "authorization_code",
            "client_id": cid,
            "code": query["code"][0],
            "code_verifier": pair.verifier,
            "redirect_uri": redirect_uri,
            "resource": f"{base}/mcp",
        },
    )
    assert tokens.status_code == 200 and tokens.json()["scope"] == "read"

    page.goto(f"{base}/app/account/sessions/")
    assert "Claude (read; Personal)" in page.inner_text("[data-connected-apps]")
    with page.expect_navigation():
        page.click("[data-connected-app] button:has-text('Disconnect')")
    assert "Disconnected “Claude”" in page.inner_text("body")
    assert not AppConnection.objects.filter(user=user).exists()
    assert problems == []
