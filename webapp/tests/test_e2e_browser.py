"""The page in a real browser: headless Chromium (Debian's) driven by Playwright against pytest-django's live server.

One person per screen size goes through the whole round: sign in through the form, filter the list, preview
/context, pin, delete one memory, export (secrets redacted), turn Grok off in the settings and find it still off
after a reload (and a Grok save skipped). Screenshots land in test-artifacts/ (app-desktop.png, app-phone.png,
and the settings page of each).
"""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Browser, Page

from accounts.models import User, preferences_of
from memories.models import Memory
from memories.tests.factories import save
from testkit import client_for, make_user
from testkit.browser import CHROMIUM

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed: run `make browser`"),
]

SCREENS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def _person(name: str) -> tuple[User, dict[str, Memory]]:
    user = make_user(name)
    now = timezone.now()
    memories = {
        "lyon": save(user, "I live in Lyon and cycle to work along the Rhône.", provider="claude", when=now),
        "dough": save(
            user,
            "Use 00 flour and 65% hydration for the pizza dough.",
            kind="response",
            provider="chatgpt",
            prompt="Best pizza dough?",
            when=now - timedelta(days=2),
        ),
        "cello": save(
            user, "I have played the cello since I was eight.", provider="grok", when=now - timedelta(days=5)
        ),
    }
    # One call from "the extension": the page's second chart counts it.
    assert client_for(user).get(f"/context/{user.pk}", {"query": "where do I live?"}).status_code == 200
    return user, memories


@pytest.mark.parametrize("screen", list(SCREENS))
def test_it_works_in_a_real_browser(transactional_db, live_server, browser, screen):
    user, memories = _person(f"person-{screen}")
    context, page, problems = _open(browser, screen)
    base = live_server.url

    # Signing in through the form.
    _sign_in(page, base, user)
    assert page.locator("[data-memory]").count() == 3
    assert page.locator("svg[data-chart='saves-per-day'] rect.bar").count() == 3  # one bar a day: 0, 2, 5 days ago
    assert page.locator("svg[data-chart='context-calls-per-day'] rect.bar").count() == 1

    # Searching the list, then previewing /context.
    page.fill("input[name=q]", "Lyon")
    page.click("button:has-text('Filter')")
    page.wait_for_url(re.compile(r"q=Lyon"))
    assert page.locator("[data-memory]").count() == 1
    page.fill("input[name=prompt]", "Which city do I live in?")
    page.click("button:has-text('Preview')")
    preview = page.locator("[data-preview]")
    preview.wait_for()
    assert "Lyon" in preview.inner_text() and "Nothing would be added" not in preview.inner_text()

    # Pinning: the page comes back with the filters, the memory marked pinned.
    lyon = page.locator(f"[data-memory='{memories['lyon'].pk}']")
    lyon.locator("button[name=pinned][value=true]").click()
    page.wait_for_load_state()
    assert "q=Lyon" in page.url
    assert "Pinned." in page.locator(".messages").inner_text()
    assert page.locator(f"[data-memory='{memories['lyon'].pk}'] .badge.pin").is_visible()
    assert Memory.objects.get(pk=memories["lyon"].pk).pinned is True

    # Deleting one memory.
    page.click("a:has-text('Clear')")
    page.wait_for_url(re.compile(r"/app/#memories$"))
    page.locator(f"[data-memory='{memories['dough'].pk}'] button:has-text('Delete')").click()
    page.wait_for_load_state()
    assert "Deleted one memory." in page.locator(".messages").inner_text()
    assert page.locator("[data-memory]").count() == 2
    assert not Memory.objects.filter(pk=memories["dough"].pk).exists()
    _fits(page, screen)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"app-{screen}.png"), full_page=True)

    # Export: the download holds what is left, secrets already redacted when they were saved.
    secret = "My OpenAI key is sk-proj-abcDEF1234567890abcdef1234567890XYZ and my card 4242 4242 4242 4242."
    assert client_for(user).post("/save-prompt", {"prompt": secret}, format="json").status_code == 201
    page.reload()
    with page.expect_download() as download:
        page.click("a[download]:has-text('JSON'):not(:has-text('NDJSON'))")
    exported = json.loads(Path(download.value.path()).read_text())
    texts = [m["text"] for m in exported["memories"]]
    assert exported["count"] == 3 and memories["lyon"].text in texts and memories["dough"].text not in texts
    assert "My OpenAI key is [REDACTED:openai_key] and my card [REDACTED:card_number]." in texts
    assert "sk-proj" not in json.dumps(exported) and "4242" not in json.dumps(exported)

    # Settings round trip: Grok off, saved, still off after a reload.
    page.click("nav >> text=Settings")
    page.wait_for_url(f"{base}/app/settings/")
    assert page.is_checked("input[name=provider_grok]")
    page.uncheck("input[name=provider_grok]")
    page.click("button:has-text('Save settings')")
    page.wait_for_url(f"{base}/app/settings/")
    assert "Settings saved." in page.locator(".messages").inner_text()
    page.reload()
    assert not page.is_checked("input[name=provider_grok]")
    assert page.is_checked("input[name=provider_claude]") and page.is_checked("input[name=capture]")
    assert preferences_of(User.objects.get(pk=user.pk)).providers["grok"] is False
    # ...and the server holds to it for any client: a Grok save stores nothing and says why.
    skipped = client_for(user).post("/save-prompt", {"prompt": "Remember my Grok chat", "provider": "grok"},
                                    format="json")  # fmt: skip
    assert skipped.status_code == 200 and skipped.json()["skipped"] == "capture is off for grok"
    assert not Memory.objects.filter(user=user, text="Remember my Grok chat").exists()
    _fits(page, screen)
    page.screenshot(path=str(ARTIFACTS / f"app-settings-{screen}.png"), full_page=True)

    # An access token: made (shown once), then revoked; its page is screenshot as app-tokens-<screen>.png.
    page.click("nav >> text=Access tokens")
    page.wait_for_url(f"{base}/app/tokens/")
    page.fill("#id_name", "Claude Desktop")
    page.select_option("#id_scope", "write")
    with page.expect_navigation():  # the answer is /app/tokens/ again: waiting for the URL would not wait
        page.click("button:has-text('Make token')")
    secret = page.input_value("#new-token")
    assert secret.startswith("mlk_") and user.access_tokens.get().prefix == secret[:10]
    _fits(page, screen)
    page.screenshot(path=str(ARTIFACTS / f"app-tokens-{screen}.png"), full_page=True)
    with page.expect_navigation():
        page.click("button:has-text('Revoke')")
    assert "Revoked “Claude Desktop”" in page.locator(".messages").inner_text()
    assert user.access_tokens.get().revoked_at is not None

    context.close()
    assert problems == []  # no script error, no CSP violation


def _open(browser: Browser, screen: str) -> tuple[Any, Page, list[str]]:
    """A browser context at the screen's size, its page, and the script errors (CSP violations too) it logs."""
    context = browser.new_context(viewport=SCREENS[screen])  # type: ignore[arg-type]
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return context, page, problems


def _sign_in(page: Page, base: str, user: User) -> None:
    """Through the sign-in form, from /app/ (which sends a signed-out person there)."""
    page.goto(f"{base}/app/")
    assert re.search(r"/app/login/\?next=/app/$", page.url)
    page.fill("#id_login", user.username)
    page.fill("#id_password", f"pw-{user.username}")
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{base}/app/")


def _fits(page: Page, screen: str) -> None:
    """Nothing wider than the screen: no sideways scrolling on a phone."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SCREENS[screen]["width"], f"{screen}: the page is {width}px wide"


def test_it_moves_an_imports_progress_bar_without_a_reload(transactional_db, live_server, browser, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from memories.transfer import jobs
    from testkit import run_queued_jobs
    from testkit.chat_exports import write_chatgpt_export

    user = make_user("importer")
    path = tmp_path / "conversations.json"
    write_chatgpt_export(path, 40)
    job = jobs.import_job_create(user=user, upload=SimpleUploadedFile(path.name, path.read_bytes()))
    page = browser.new_context(viewport=SCREENS["desktop"]).new_page()  # type: ignore[arg-type]
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{live_server.url}/app/")
    page.fill("#id_login", user.username)
    page.fill("#id_password", f"pw-{user.username}")
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{live_server.url}/app/")
    row = page.locator(f"tr[data-import='{job.pk}']")
    assert row.locator("[data-field=status]").inner_text() == "queued"
    assert row.locator("[data-field=place]").inner_text() == "next"
    loads: list[str] = []
    page.on("framenavigated", lambda frame: loads.append(frame.url))

    run_queued_jobs()  # the worker's turns, committed: the page's script sees them on its next poll

    page.wait_for_function(
        "row => row.querySelector('[data-field=status]').textContent === 'done'", arg=row.element_handle()
    )
    bar = row.locator("progress")
    assert (bar.get_attribute("max"), bar.evaluate("b => b.value")) == ("40", 40)
    assert row.locator("[data-field=done]").inner_text() == "40 of 40"
    assert loads == [] and problems == []  # moved in place, no reload; no script error, no CSP violation


@pytest.mark.parametrize("screen", list(SCREENS))
def test_it_keeps_spaces_apart_in_a_real_browser(transactional_db, live_server, browser, screen):
    """Make a Work space, move a memory into it, see each space alone (list and preview), export one space and
    everything, then delete Work moving its memories back; screenshots app-spaces-<screen>.png."""
    user, memories = _person(f"spaces-{screen}")
    context, page, problems = _open(browser, screen)
    base = live_server.url
    _sign_in(page, base, user)

    # A new space, from the spaces page.
    page.click("nav >> text=Spaces")
    page.wait_for_url(f"{base}/app/spaces/")
    page.fill("#new-space input[name=name]", "Work")
    with page.expect_navigation():
        page.click("button:has-text('Make space')")
    assert "Made the space “Work”." in page.locator(".messages").inner_text()
    work = user.spaces.get(name="Work")

    # Moving the cello memory into Work from the list.
    page.click("nav >> text=Memories")
    page.wait_for_url(f"{base}/app/")
    page.check(f"[data-memory='{memories['cello'].pk}'] input[name=ids]")
    page.select_option("#move-form select[name=to]", str(work.pk))
    with page.expect_navigation():
        page.click("#move-form button:has-text('Move')")
    assert "Moved 1 memory to “Work”." in page.locator(".messages").inner_text()
    assert page.locator("[data-memory]").count() == 2
    assert Memory.objects.get(pk=memories["cello"].pk).space_id == work.pk

    # The switcher: Work alone, its list and its preview.
    page.select_option("#space-switch", str(work.pk))
    with page.expect_navigation():
        page.click(".space-switch button:has-text('Show')")
    assert page.locator("[data-memory]").count() == 1
    assert page.locator(f"[data-memory='{memories['cello'].pk}']").is_visible()
    page.fill("input[name=prompt]", "Which instrument do I play?")
    page.click("button:has-text('Preview')")
    preview = page.locator("[data-preview]")
    preview.wait_for()
    assert "cello" in preview.inner_text() and "Lyon" not in preview.inner_text()
    assert f"space={work.pk}" in page.url
    _fits(page, screen)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"app-spaces-list-{screen}.png"), full_page=True)

    # Export: this space, or everything.
    with page.expect_download() as download:
        page.click("[data-export=space] a:has-text('JSON'):not(:has-text('NDJSON'))")
    assert [m["text"] for m in json.loads(Path(download.value.path()).read_text())["memories"]] == [
        memories["cello"].text
    ]
    with page.expect_download() as download:
        page.click("[data-export=all] a:has-text('JSON'):not(:has-text('NDJSON'))")
    assert json.loads(Path(download.value.path()).read_text())["count"] == 3

    # Deleting Work, its memories moved back to Personal.
    page.click("nav >> text=Spaces")
    page.wait_for_url(f"{base}/app/spaces/")
    row = page.locator(f"[data-space='{work.pk}']")
    row.locator("summary").click()
    _fits(page, screen)
    page.screenshot(path=str(ARTIFACTS / f"app-spaces-{screen}.png"), full_page=True)
    row.locator("input[name=memories][value=move]").check()
    with page.expect_navigation():
        row.locator("button:has-text('Delete this space')").click()
    assert "its 1 memories are in “Personal” now" in page.locator(".messages").inner_text()
    assert list(user.spaces.values_list("name", flat=True)) == ["Personal"]
    assert Memory.objects.filter(user=user).count() == 3
    context.close()
    assert problems == []  # no script error, no CSP violation
