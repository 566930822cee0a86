"""Where you're signed in and deleting the account, in a real browser (Debian's Chromium, Playwright), at 1280 and
390 px: sign in through the form, see this browser, a second browser and the extension listed, sign the second
browser out, then delete the account. Screenshots: test-artifacts/account-sessions-<screen>.png and
account-delete-<screen>.png."""

from __future__ import annotations

import os
import re

import pytest

from accounts.models import AccountDeletion, User
from memories.models import Memory
from memories.tests.factories import save
from testkit import make_user
from testkit.browser import CHROMIUM
from webapp.tests.test_e2e_browser import ARTIFACTS, SCREENS, _fits

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed: run `make browser`"),
]


def _sign_in(page, base: str, user: User) -> None:
    page.goto(f"{base}/app/login/")
    page.fill("#id_login", user.username)
    page.fill("#id_password", f"pw-{user.username}")
    with page.expect_navigation():
        page.click("button:has-text('Sign in')")


@pytest.mark.parametrize("screen", list(SCREENS))
def test_sessions_then_deleting_the_account_in_a_real_browser(transactional_db, live_server, browser, screen):
    user = make_user(f"leaving-{screen}")
    save(user, "I keep bees on the roof.")
    bob = make_user(f"staying-{screen}")
    save(bob, "Bob keeps goats.")
    base = live_server.url
    problems: list[str] = []

    other = browser.new_context(viewport=SCREENS["phone"], user_agent="Mozilla/5.0 (Linux; Android 14) Chrome/140.0")
    other_page = other.new_page()
    _sign_in(other_page, base, user)
    extension = other.request.post(
        f"{base}/auth/token/", data={"username": user.username, "password": f"pw-{user.username}"}
    )
    assert extension.ok

    context = browser.new_context(viewport=SCREENS[screen])  # type: ignore[arg-type]
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    _sign_in(page, base, user)

    # Where you're signed in: this browser, the phone, the extension.
    page.click("nav >> text=Where you\N{RIGHT SINGLE QUOTATION MARK}re signed in")
    page.wait_for_url(f"{base}/app/account/sessions/")
    assert page.locator("[data-web-session]").count() == 2
    assert page.locator("[data-extension-sign-in]").count() == 1
    assert "this browser" in page.locator("[data-web-session]").first.inner_text()
    phone = page.locator("[data-web-session]:has-text('Chrome on Android')")
    assert phone.count() == 1
    _fits(page, screen)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"account-sessions-{screen}.png"), full_page=True)

    # Signing the phone out: it is sent to the sign-in page at its next click.
    with page.expect_navigation():
        phone.locator("button:has-text('Sign out')").click()
    assert "Signed out Chrome on Android" in page.locator(".messages").inner_text()
    assert page.locator("[data-web-session]").count() == 1
    other_page.goto(f"{base}/app/")
    assert re.search(r"/app/login/", other_page.url)

    # Deleting the account: the user name typed out, the password.
    page.click("a:has-text('Delete my account')")
    page.wait_for_url(f"{base}/app/account/delete/")
    page.fill("input[name=confirm]", "not me")
    page.fill("input[name=password]", f"pw-{user.username}")
    with page.expect_navigation():
        page.click("button:has-text('Delete my account')")
    assert "Type your user name" in page.inner_text("main")
    assert User.objects.filter(pk=user.pk).exists()
    page.fill("input[name=confirm]", user.username)
    page.fill("input[name=password]", f"pw-{user.username}")
    _fits(page, screen)
    page.screenshot(path=str(ARTIFACTS / f"account-delete-{screen}.png"), full_page=True)
    with page.expect_navigation():
        page.click("button:has-text('Delete my account')")
    assert "Your account is deleted" in page.inner_text("main")
    _fits(page, screen)
    page.screenshot(path=str(ARTIFACTS / f"account-deleted-{screen}.png"), full_page=True)

    assert not User.objects.filter(pk=user.pk).exists() and not Memory.objects.filter(user_id=user.pk).exists()
    assert AccountDeletion.objects.count() == 1 and Memory.objects.filter(user=bob).count() == 1
    page.goto(f"{base}/app/")
    assert re.search(r"/app/login/", page.url)
    refreshed = other.request.post(f"{base}/auth/token/refresh/", data={"refresh": extension.json()["refresh"]})
    assert refreshed.status == 401

    other.close()
    context.close()
    # the refused confirmation answered 400 on purpose; nothing else went wrong (no script error, no CSP violation)
    assert [p for p in problems if "status of 400" not in p] == []
