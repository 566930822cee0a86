"""Capture health per site and layout over 24 h and 7 days, and the flag on a falling answer-capture rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from extension_api.selectors import capture_health
from extension_api.tests.factories import capture_row

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)


def _row(site: str, layout: str, hours_ago: int, seen: int, captured: int, missing: int = 0, fallbacks: int = 0):
    capture_row(site, layout, NOW - timedelta(hours=hours_ago), seen, captured, missing=missing, fallbacks=fallbacks)


def _site(name: str) -> dict:
    return next(entry for entry in capture_health(now=NOW) if entry["site"] == name)


def test_it_sums_each_site_and_layout_over_24_hours_and_7_days():
    _row("claude", "hub", 1, 10, 9, 1, 2)
    _row("claude", "classic", 3, 10, 10)
    _row("claude", "hub", 48, 30, 30)
    _row("claude", "hub", 24 * 8, 500, 0)  # older than 7 days: not counted

    claude = _site("claude")

    assert claude["last_24h"] == {
        "prompts_seen": 20,
        "answers_captured": 19,
        "answers_missing": 1,
        "fallbacks_used": 2,
        "capture_rate": 0.95,
    }
    assert claude["last_7d"]["prompts_seen"] == 50 and claude["last_7d"]["answers_captured"] == 49
    assert [layout["layout"] for layout in claude["layouts"]] == ["classic", "hub"]
    hub = claude["layouts"][1]
    assert hub["last_24h"]["prompts_seen"] == 10 and hub["last_7d"]["prompts_seen"] == 40
    assert claude["flagged"] is False and claude["flag_reason"] is None


def test_it_flags_a_site_whose_24_hour_rate_is_under_the_floor(settings):
    settings.EXTENSION_HEALTH_MIN_RATE = 0.8
    _row("chatgpt", "thread", 2, 30, 3, 27)
    _row("chatgpt", "app", 2, 30, 30)

    chatgpt = _site("chatgpt")

    assert chatgpt["last_24h"]["capture_rate"] == 0.55
    assert chatgpt["flagged"] is True
    assert chatgpt["flag_reason"] == "24 h capture rate 55% is below 80%"
    layouts = {layout["layout"]: layout for layout in chatgpt["layouts"]}
    assert layouts["thread"]["flagged"] is True and layouts["app"]["flagged"] is False


def test_it_flags_a_drop_against_the_six_days_before(settings):
    settings.EXTENSION_HEALTH_MIN_RATE = 0.5
    settings.EXTENSION_HEALTH_MAX_DROP = 0.15
    _row("grok", "app", 30, 100, 99)
    _row("grok", "app", 2, 40, 30)

    grok = _site("grok")

    assert grok["flagged"] is True
    assert grok["flag_reason"] == "24 h capture rate 75% is 24 points under the previous 6 days' 99%"


def test_a_small_sample_is_never_flagged(settings):
    settings.EXTENSION_HEALTH_MIN_PROMPTS = 20
    _row("gemini", "app", 1, 19, 0, 19)
    _row("gemini", "app", 40, 100, 100)
    assert _site("gemini")["flagged"] is False


def test_a_drop_needs_a_baseline_with_enough_prompts(settings):
    settings.EXTENSION_HEALTH_MIN_RATE = 0.5
    _row("grok", "app", 30, 5, 5)
    _row("grok", "app", 2, 40, 30)
    assert _site("grok")["flagged"] is False


def test_without_prompts_the_rate_is_unknown_not_zero():
    _row("gemini", "app", 30, 0, 0)
    gemini = _site("gemini")
    assert gemini["last_24h"]["capture_rate"] is None and gemini["flagged"] is False


def test_nothing_reported_means_no_sites():
    assert capture_health(now=NOW) == []


def test_a_site_that_broke_in_the_last_hours_is_flagged_before_its_24_hour_rate_falls(settings):
    settings.EXTENSION_HEALTH_RECENT_HOURS = 3
    _row("claude", "hub", 20, 200, 200)  # a good day so far ...
    _row("claude", "hub", 1, 25, 2)  # ... then the site changed its page

    claude = _site("claude")

    assert claude["last_24h"]["capture_rate"] == 0.8978  # still above the 80% floor
    assert claude["flag_reason"] == "last 3 h capture rate 8% is below 80%"
