"""/dashboard/: staff only, true figures, charts drawn server-side, nothing fetched from the internet."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import space_default
from core.dates import utc_today
from memories.models import Memory
from testkit import client_for

pytestmark = pytest.mark.django_db

CHARTS = ["memories-per-day", "calls-per-day", "latency-per-day", "provider-mix", "tier-mix"]


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/dashboard/"


def test_a_signed_in_non_staff_user_gets_403(client, alice):
    client.force_login(alice)
    response = client.get("/dashboard/")
    assert response.status_code == 403
    assert "staff only" in response.content.decode()
    assert "<svg" not in response.content.decode()


def test_a_bearer_token_does_not_open_the_dashboard(alice):
    response = client_for(alice).get("/dashboard/")
    assert response.status_code == 302  # session login only


def _kpi(html: str, name: str) -> str:
    match = re.search(rf'data-kpi="{name}"><span class="k">[^<]*</span><span class="v[^"]*">([^<]*)</span>', html)
    assert match, name
    return match.group(1).strip()


def test_staff_see_the_databases_figures_and_every_chart(client, seeded):
    alice = seeded["alice"]
    client_for(alice).get(f"/context/{alice.pk}", {"query": "Lyon"})
    client.force_login(seeded["staff"])

    response = client.get("/dashboard/")

    assert response.status_code == 200
    html = response.content.decode()
    assert _kpi(html, "total_users") == "4"
    assert _kpi(html, "total_memories") == str(Memory.objects.count()) == "4"
    assert _kpi(html, "api_calls_today") == "1"
    assert _kpi(html, "active_users_today") == "1"
    assert _kpi(html, "memories_stored_today") == "4"
    assert _kpi(html, "rate_limited_today") == "0"
    for chart in CHARTS:
        assert f'data-chart="{chart}"' in html, chart
    assert "<title>claude: 2</title>" in html and "<title>chatgpt: 1</title>" in html
    assert "<title>free: 2</title>" in html and "<title>enterprise: 1</title>" in html
    today = utc_today()
    assert f"<title>memories {today:%Y-%m-%d}: 4</title>" in html
    assert f"<title>context {today:%Y-%m-%d}: 1</title>" in html
    assert re.search(rf"<title>p95 {today:%Y-%m-%d}: \d+</title>", html)
    assert '>alice</a></td><td>free</td><td class="num">3</td>' in html


def test_the_page_needs_nothing_from_the_internet_and_fits_a_phone(client, staff):
    client.force_login(staff)
    html = client.get("/dashboard/").content.decode()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "/static/dashboard/dashboard.css" in html
    assert "<script" not in html


def test_a_label_from_the_data_is_escaped_in_the_svg(client, staff):
    from accounts.models import User

    User.objects.create_user(username="x<script>", password="pw-x-long-enough")
    Memory.objects.create(
        user=staff, space=space_default(user=staff), kind="prompt", provider="<b>evil</b>", text="t", content_hash="h"
    )
    client.force_login(staff)
    html = client.get("/dashboard/").content.decode()
    assert "<b>evil</b>" not in html and "&lt;b&gt;evil&lt;/b&gt;" in html


def _capture_row(html: str, key: str) -> str:
    match = re.search(rf'<tr class="[^"]*" data-capture="{re.escape(key)}".*?</tr>', html, re.S)
    assert match, key
    return match.group(0)


def test_staff_see_capture_health_per_site_and_layout_with_the_falling_site_flagged(client, staff, settings):
    from extension_api.tests.factories import ADAPTER_FIXTURES, capture_row

    settings.EXTENSION_ADAPTERS_DIR = str(ADAPTER_FIXTURES)
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    for site, layout, seen, captured in [
        ("chatgpt", "app", 30, 30),
        ("chatgpt", "thread", 30, 2),
        ("claude", "hub", 25, 24),
    ]:
        capture_row(site, layout, hour, seen, captured)
    client.force_login(staff)

    html = client.get("/dashboard/").content.decode()

    assert 'id="capture-health"' in html
    chatgpt = _capture_row(html, "chatgpt")
    assert 'data-flagged="true"' in chatgpt
    assert '<td class="num">60</td><td class="num">32</td><td class="num rate">53%</td>' in chatgpt
    assert "24 h capture rate 53% is below 80%" in chatgpt
    assert 'data-flagged="true"' in _capture_row(html, "chatgpt/thread")
    assert 'data-flagged="false"' in _capture_row(html, "chatgpt/app")
    claude = _capture_row(html, "claude")
    assert 'data-flagged="false"' in claude and "<td>bundled</td>" in claude and ">96%<" in claude
    assert "no reports in the last 7 days" in _capture_row(html, "grok")  # an adapter, but silent
