"""A person's account in a real browser: headless Chromium (Debian's) with the extension loaded, driven by Playwright
against pytest-django's live server, at 1280 and 390 px.

Sign up on /app/ → verify the address from the mail file (Django's file-based backend, as `make run` writes to
var/mail/, here a temporary folder) → sign the extension in on its options page → turn on two-factor sign-in with an
authenticator app (codes computed with pyotp, as an app does) → sign out → sign in with a code → the extension asks
for the code too → reset the password by email (every sign-in ends, the extension's too). A second test adds a
passkey with Chromium's virtual authenticator (CDP WebAuthn domain) and signs in with it as the second factor.
Screenshots land in test-artifacts/accounts-<screen>-<step>.png.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from django.conf import settings
from django.db import connections
from playwright.sync_api import BrowserContext, Page, sync_playwright
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import User
from testkit.browser import CHROMIUM
from testkit.processes import wait_for

EXTENSION = Path(settings.BASE_DIR) / "extension"
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
SCREENS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
PASSWORD = "a long and memorable passphrase 7"
NEW_PASSWORD = "another long passphrase, changed 8"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed: run `make browser`"),
]


class Chromium:
    """A Chromium profile with extension/ loaded; ``extension_id`` from its service worker."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        worker = context.service_workers[0] if context.service_workers else context.wait_for_event("serviceworker")
        self.extension_id = worker.url.split("/")[2]

    def options(self) -> Page:
        page = self.context.new_page()
        page.goto(f"chrome-extension://{self.extension_id}/options.html")
        page.wait_for_selector("body[data-ready=true]")
        return page


@pytest.fixture
def mail_dir(tmp_path: Path, settings: Any) -> Path:
    """Mail as `make run` sends it: one file per message (here in a temporary folder instead of var/mail/)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    return tmp_path / "mail"


@pytest.fixture
def chromium(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Chromium]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop in this thread; the ORM is sync
    screen = getattr(request, "param", "desktop")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=False,
            args=[
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                f"--disable-extensions-except={EXTENSION}",
                f"--load-extension={EXTENSION}",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
            viewport=SCREENS[screen],  # type: ignore[arg-type]
        )
        yield Chromium(context)
        context.close()
        # The ORM calls made while Playwright's loop ran used connections apart from the test's own: give them back
        # here, inside that context, or the test database could not be dropped at the end.
        connections.close_all()


@pytest.fixture
def server(live_server: Any, chromium: Chromium, mail_dir: Path, settings: Any) -> str:
    """The live server as production runs it for people: verification mandatory, the extension allowed by CORS
    (a headless browser cannot grant it host access), and one TOTP step of tolerance (a phone's clock drifts)."""
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    settings.CORS_ALLOWED_ORIGIN_REGEXES = [rf"^chrome-extension://{chromium.extension_id}$"]
    settings.MFA_TOTP_TOLERANCE = 1
    settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True  # http://localhost: a secure context for the browser
    return str(live_server.url)


def shot(page: Page, screen: str, step: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"accounts-{screen}-{step}.png"), full_page=True)


def mail_link(mail_dir: Path, pattern: str, *, after: int = 0) -> str:
    """The first link matching ``pattern`` in the mails written since ``after`` files existed."""

    def link() -> str | None:
        for message in sorted(mail_dir.glob("*.log"))[after:] if mail_dir.exists() else []:
            found = re.search(rf"http://localhost:\d+(/app/{pattern}\S*)", message.read_text())
            if found:
                return found.group(1)
        return None

    found = wait_for(link, timeout=10, what=f"a mail with a link to /app/{pattern}")
    assert found is not None
    return found


def mail_count(mail_dir: Path) -> int:
    return len(list(mail_dir.glob("*.log"))) if mail_dir.exists() else 0


class Authenticator:
    """What an authenticator app shows: the code of the current 30-second step, or a neighbouring one that the
    server also accepts (tolerance 1) when the current one was used already (a code is accepted only once)."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.used: set[str] = set()

    def code(self) -> str:
        now = time.time()
        for at in (now, now + 30, now - 30):
            code = self.totp.at(at)
            if code not in self.used:
                self.used.add(code)
                return code
        raise AssertionError("three codes used in one minute")


def sign_up_and_verify(page: Page, base: str, mail_dir: Path, screen: str, email: str) -> None:
    page.goto(f"{base}/app/")
    page.click("text=Create an account")
    page.fill("#id_email", email)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    shot(page, screen, "1-signup")
    page.click("button:has-text('Create my account')")
    page.wait_for_url(re.compile(r"/app/confirm-email/$"))
    assert "Verify your email" in page.content() or "verification" in page.content().lower()
    page.goto(f"{base}/app/")
    assert "/app/login/" in page.url  # mandatory: nobody gets in before verifying
    page.goto(base + mail_link(mail_dir, "confirm-email/"))
    shot(page, screen, "2-verify")
    page.click("button:has-text('Confirm')")
    page.wait_for_url(f"{base}/app/")


def sign_in_extension(
    chromium: Chromium, base: str, login: str, password: str, otp: Authenticator | None, screen: str = ""
) -> Page:
    page = chromium.options()
    assert not page.is_visible("#otp")  # asked for only when the server wants it
    page.fill("#base-url", base)
    page.fill("#username", login)
    page.fill("#password", password)
    page.click("#sign-in")
    if otp is not None:
        page.wait_for_selector("#otp", state="visible")
        assert "two-factor" in (page.text_content("#sign-in-result") or "")
        shot(page, screen, "6-extension-asks")
        page.fill("#otp", otp.code())
        page.click("#sign-in")
    page.wait_for_function("() => document.getElementById('sign-in-result').textContent.startsWith('Signed in as')")
    return page


def sign_in_app(page: Page, base: str, login: str, password: str) -> None:
    page.goto(f"{base}/app/login/")
    page.fill("#id_login", login)
    page.fill("#id_password", password)
    page.click("button:has-text('Sign in')")


def sign_out_app(page: Page, base: str) -> None:
    page.click("button:has-text('Sign out')")
    page.wait_for_url(re.compile(r"/app/login/"))


def reauthenticate_if_asked(page: Page, password: str) -> None:
    if "/reauthenticate/" in page.url:
        page.fill("#id_password", password)
        page.click("button:has-text('Confirm')")
        page.wait_for_load_state()


@pytest.mark.parametrize("chromium", list(SCREENS), indirect=True)
def test_a_person_signs_up_turns_on_two_factor_and_resets_the_password(
    transactional_db: None, chromium: Chromium, server: str, mail_dir: Path, request: pytest.FixtureRequest
) -> None:
    screen = request.node.callspec.params["chromium"]
    base, email = server, f"{screen}.person@example.com"
    problems: list[str] = []
    page = chromium.context.new_page()
    page.on("pageerror", lambda e: problems.append(str(e)))

    # Sign up, verify the address from the mail.
    sign_up_and_verify(page, base, mail_dir, screen, email)
    person = User.objects.get(email=email)
    assert person.username == f"{screen}.person" or person.username.startswith(screen)

    # The extension signs in with the address and password (no second factor yet).
    options = sign_in_extension(chromium, base, email, PASSWORD, otp=None)
    assert options.get_attribute("#create-account", "href") == f"{base}/app/signup/"
    assert options.get_attribute("#forgot-password", "href") == f"{base}/app/password/reset/"
    options.close()

    # Turn on two-factor sign-in: scan (read) the secret, type the app's code; recovery codes are shown.
    page.click("nav >> text=Account")
    page.wait_for_url(f"{base}/app/account/")
    shot(page, screen, "2b-account")
    page.click("text=Manage email addresses")
    page.wait_for_url(f"{base}/app/email/")
    assert email in page.content() and "Verified" in page.content()
    shot(page, screen, "2c-email")
    page.go_back()
    page.click("text=Turn on two-factor sign-in")
    page.wait_for_url(f"{base}/app/2fa/")
    shot(page, screen, "2d-two-factor")
    page.click("a:has-text('Activate')")
    reauthenticate_if_asked(page, PASSWORD)
    page.wait_for_url(re.compile(r"/app/2fa/totp/activate/"))
    app = Authenticator(page.input_value("#authenticator_secret"))
    page.fill("#id_code", app.code())
    shot(page, screen, "3-totp")
    page.click("button:has-text('Activate')")
    page.wait_for_url(re.compile(r"/app/2fa/recovery-codes/"))
    recovery = page.input_value("#recovery_codes").split()
    assert len(recovery) == 10
    shot(page, screen, "4-recovery-codes")

    # Sign out; signing in asks for a code after the password.
    sign_out_app(page, base)
    sign_in_app(page, base, email, PASSWORD)
    page.wait_for_url(re.compile(r"/app/2fa/authenticate/"))
    page.fill("#id_code", "000000" if app.totp.now() != "000000" else "111111")
    page.click("button:has-text('Sign In')")
    assert "Incorrect code" in page.content()
    page.fill("#id_code", app.code())
    shot(page, screen, "5-code")
    page.click("button:has-text('Sign In')")
    page.wait_for_url(f"{base}/app/")

    # The extension asks for the code too, then signs in.
    options = sign_in_extension(chromium, base, email, PASSWORD, otp=app, screen=screen)
    assert not options.is_visible("#otp")
    shot(options, screen, "6-extension-signed-in")
    options.close()
    assert OutstandingToken.objects.filter(user=person).count() == 2

    # Forgot the password: a link by mail, a new password; every sign-in ends, the extension's too.
    sign_out_app(page, base)
    page.click("text=Forgot your password?")
    page.fill("#id_email", email)
    sent = mail_count(mail_dir)
    page.click("button:has-text('Reset')")
    page.wait_for_url(re.compile(r"/app/password/reset/done/"))
    page.goto(base + mail_link(mail_dir, "password/reset/key/", after=sent))
    page.fill("#id_password1", NEW_PASSWORD)
    page.fill("#id_password2", NEW_PASSWORD)
    shot(page, screen, "7-reset")
    page.click("button:has-text('Change Password')")
    page.wait_for_url(re.compile(r"/app/password/reset/key/done/"))
    live = OutstandingToken.objects.filter(user=person, blacklistedtoken__isnull=True)
    assert not live.exists()
    sign_in_app(page, base, email, NEW_PASSWORD)
    page.wait_for_url(re.compile(r"/app/2fa/authenticate/"))
    page.fill("#id_code", recovery[0])  # a recovery code works as the second factor
    page.click("button:has-text('Sign In')")
    page.wait_for_url(f"{base}/app/")
    shot(page, screen, "8-signed-in")
    assert problems == []


def test_a_passkey_is_a_second_factor(transactional_db: None, chromium: Chromium, server: str, mail_dir: Path) -> None:
    base, email = server, "passkey.person@example.com"
    page = chromium.context.new_page()
    # Chromium's virtual authenticator answers the WebAuthn prompts (CDP's WebAuthn domain).
    cdp = chromium.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    sign_up_and_verify(page, base, mail_dir, "passkey", email)

    page.goto(f"{base}/app/2fa/webauthn/add/")
    reauthenticate_if_asked(page, PASSWORD)
    page.wait_for_url(re.compile(r"/app/2fa/webauthn/add/"))
    page.fill("#id_name", "Virtual key")
    page.click("#mfa_webauthn_add")
    page.wait_for_url(re.compile(r"/app/2fa/"), wait_until="load")
    page.wait_for_function("() => !location.pathname.endsWith('/webauthn/add/')")
    shot(page, "desktop", "9-passkey-added")
    person = User.objects.get(email=email)
    assert person.authenticator_set.filter(type="webauthn").count() == 1  # type: ignore[attr-defined]

    sign_out_app(page, base)
    sign_in_app(page, base, email, PASSWORD)
    page.wait_for_url(re.compile(r"/app/2fa/authenticate/"))
    page.click("#mfa_webauthn_authenticate")
    page.wait_for_url(f"{base}/app/")
    shot(page, "desktop", "10-passkey-signed-in")
