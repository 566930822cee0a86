"""End to end in headless Chromium: the staff dashboard as a browser draws it, saved as screenshots.

Chromium comes from Debian (`make test-e2e` installs it when missing); without it this test is skipped, and says
so. The page is fetched as the logged-in staff user through Django's test client (the session login is the one
the admin uses), saved with its stylesheet, and opened by Chromium from disk: no network, like a site offline.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

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


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: run `make test-e2e` (installs it)")
def test_it_draws_the_charts_in_a_real_browser_and_saves_screenshots(client, seeded, tmp_path):
    alice = seeded["alice"]
    client_for(alice).get(f"/context/{alice.pk}", {"query": "Lyon"})
    client.force_login(seeded["staff"])
    html = client.get("/dashboard/").content.decode()
    css = Path(str(finders.find("dashboard/dashboard.css")))
    ARTIFACTS.mkdir(exist_ok=True)
    page = ARTIFACTS / "dashboard.html"
    page.write_text(html.replace("/static/dashboard/dashboard.css", css.as_uri()))

    dom = _chromium("--dump-dom", page.as_uri(), profile=tmp_path / "p1")
    shots = {}
    for name, width, height in (("desktop", 1280, 2000), ("phone", 390, 3200)):
        shot = ARTIFACTS / f"dashboard-{name}.png"
        shot.unlink(missing_ok=True)
        run = _chromium(
            f"--screenshot={shot}", f"--window-size={width},{height}", page.as_uri(), profile=tmp_path / name
        )
        assert run.returncode == 0, run.stderr[-2000:]
        shots[name] = shot

    assert dom.returncode == 0, dom.stderr[-2000:]
    drawn = dom.stdout
    for chart in ("memories-per-day", "calls-per-day", "latency-per-day", "provider-mix", "tier-mix"):
        svg = re.search(rf'<svg[^>]*data-chart="{chart}".*?</svg>', drawn, re.S)
        assert svg, chart
        assert re.search(r"<(rect|circle)\b", svg.group(0)), f"{chart} has no marks"
    for shot in shots.values():
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a blank page compresses to a few KB
