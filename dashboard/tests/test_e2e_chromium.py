"""End to end in headless Chromium: the staff dashboard as a browser draws it, saved as screenshots.

Chromium comes from Debian (`make test-e2e` installs it when missing); without it this test is skipped, and says
so. The page is fetched as the logged-in staff user through Django's test client (the session login is the one
the admin uses), saved with its stylesheet, and opened by Chromium from disk: no network, like a site offline.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.utils import timezone

from extension_api.tests.factories import ADAPTER_FIXTURES, capture_row
from testkit import client_for

pytestmark = [pytest.mark.django_db, pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM
    # The timeout only stops a hung browser from hanging the suite; nothing is measured.
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _main(html: str) -> str:
    match = re.search(r"<main>.*</main>", html, re.S)
    assert match
    return match.group(0)[len("<main>") : -len("</main>")]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: run `make test-e2e` (installs it)")
def _capture_health_reported() -> None:
    """Two sites as their extensions would report them: ChatGPT's thread layout losing its answers."""
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    for site, layout, seen, captured, fallbacks in [
        ("chatgpt", "app", 40, 39, 0),
        ("chatgpt", "thread", 35, 3, 4),
        ("claude", "hub", 28, 27, 1),
        ("claude", "classic", 12, 12, 0),
    ]:
        capture_row(site, layout, hour, seen, captured, fallbacks=fallbacks)


def test_it_draws_the_charts_in_a_real_browser_and_saves_screenshots(client, seeded, tmp_path, settings):
    settings.EXTENSION_ADAPTERS_DIR = str(ADAPTER_FIXTURES)
    alice = seeded["alice"]
    client_for(alice).get(f"/context/{alice.pk}", {"query": "Lyon"})
    _capture_health_reported()
    client.force_login(seeded["staff"])
    html = client.get("/dashboard/").content.decode()
    css = Path(str(finders.find("dashboard/dashboard.css")))
    ARTIFACTS.mkdir(exist_ok=True)
    page = ARTIFACTS / "dashboard.html"
    page.write_text(html.replace("/static/dashboard/dashboard.css", css.as_uri()))
    # The capture-health section alone, in the page's own frame and stylesheet: its own screenshot.
    section = re.search(r'<section class="panel" id="capture-health".*?</section>', html, re.S)
    assert section
    capture_page = ARTIFACTS / "dashboard-capture-health.html"
    capture_page.write_text(page.read_text().replace(_main(html), section.group(0)))

    dom = _chromium("--dump-dom", page.as_uri(), profile=tmp_path / "p1")
    shots = {}
    views = (("desktop", 1280, 2000, page), ("phone", 390, 3200, page), ("capture-health", 1280, 520, capture_page))
    for name, width, height, source in views:
        shot = ARTIFACTS / f"dashboard-{name}.png"
        shot.unlink(missing_ok=True)
        run = _chromium(
            f"--screenshot={shot}", f"--window-size={width},{height}", source.as_uri(), profile=tmp_path / name
        )
        assert run.returncode == 0, run.stderr[-2000:]
        shots[name] = shot

    assert dom.returncode == 0, dom.stderr[-2000:]
    drawn = dom.stdout
    for chart in ("memories-per-day", "calls-per-day", "latency-per-day", "provider-mix", "tier-mix"):
        svg = re.search(rf'<svg[^>]*data-chart="{chart}".*?</svg>', drawn, re.S)
        assert svg, chart
        assert re.search(r"<(rect|circle)\b", svg.group(0)), f"{chart} has no marks"
    capture = re.search(r'<section class="panel" id="capture-health".*?</section>', drawn, re.S)
    assert capture
    flagged = re.findall(r'data-capture="([^"]+)" data-flagged="true"', capture.group(0))
    assert flagged == ["chatgpt", "chatgpt/thread"]
    assert "24 h capture rate 56% is below 80%" in capture.group(0)
    for shot in shots.values():
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a blank page compresses to a few KB
