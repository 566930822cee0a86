"""GET /admin/dashboard: who may read it, and that every figure is the database's."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from dashboard.models import RequestMetric, UserActivity
from dashboard.tests.conftest import ADMIN_KEY
from extension_api.tests.factories import health_report
from memories.models import Chunk, Memory
from testkit import client_for

pytestmark = pytest.mark.django_db

URLS = ["/admin/dashboard", "/api/v1/admin/dashboard"]


def test_it_answers_the_seeds_shape_with_the_key_in_the_header(client, admin_key, seeded):
    response = client.get("/admin/dashboard", HTTP_X_ADMIN_KEY=admin_key)

    assert response.status_code == 200
    body = response.json()
    assert body["system"] == {
        "total_users": User.objects.count(),
        "total_memories": Memory.objects.count(),
        "health_score": body["health"]["score"],
    }
    assert body["system"]["total_users"] == 4 and body["system"]["total_memories"] == 4
    assert 0 <= body["system"]["health_score"] <= 100
    assert set(body) == {
        "system",
        "health",
        "usage",
        "users_per_tier",
        "memories_per_provider",
        "search_index",
        "capture_health",
        "timestamp",
    }


@pytest.mark.parametrize("url", URLS)
def test_it_accepts_the_key_as_the_seeds_query_parameter(client, admin_key, url):
    response = client.get(f"{url}?admin_key={admin_key}")
    assert response.status_code == 200
    assert set(response.json()["system"]) == {"total_users", "total_memories", "health_score"}


def test_the_figures_match_the_database_for_a_seeded_scenario(client, admin_key, seeded, settings):
    alice, bob = seeded["alice"], seeded["bob"]
    settings.QUOTA_DAILY_LIMITS = {**settings.QUOTA_DAILY_LIMITS, "free": 1}
    alice_client, bob_client = client_for(alice), client_for(bob)
    ok = alice_client.get(f"/context/{alice.pk}", {"query": "where do I live"})
    limited = alice_client.get(f"/context/{alice.pk}", {"query": "where do I live"})
    saved = bob_client.post("/api/v1/save-prompt", {"prompt": "Bob plays chess.", "provider": "grok"}, format="json")
    assert (ok.status_code, limited.status_code, saved.status_code) == (200, 429, 201)

    body = client.get("/admin/dashboard", HTTP_X_ADMIN_KEY=admin_key).json()

    assert body["users_per_tier"] == {"free": 2, "pro": 1, "enterprise": 1}  # alice and staff are free
    assert body["memories_per_provider"] == {"claude": 2, "chatgpt": 1, "gemini": 1, "grok": 1}
    assert body["usage"] == {
        "day": timezone.now().astimezone(UTC).date().isoformat(),
        "api_calls_today": 3,  # the dashboard call itself is counted after its answer is built
        "memories_stored_today": 5,
        "active_users_today": 2,
        "rate_limited_today": 1,
    }
    index = body["search_index"]
    assert index["backend"] == "pgvector" and index["serving"] == "pgvector"
    assert index["stored_rows"] == Chunk.objects.count()
    assert abs(datetime.fromisoformat(body["timestamp"]) - timezone.now()) < timedelta(minutes=5)
    assert UserActivity.objects.filter(user=alice).get().requests == 2
    assert RequestMetric.objects.get(endpoint="context", status_class="429").count == 1


def test_a_staff_users_token_works_without_the_key(admin_key, staff):
    response = client_for(staff).get("/api/v1/admin/dashboard")
    assert response.status_code == 200
    assert response.json()["system"]["total_users"] == 1


def test_a_non_staff_token_is_forbidden(alice_client, admin_key):
    response = alice_client.get("/admin/dashboard")
    assert response.status_code == 403
    assert response.json() == {
        "success": False,
        "error": "Staff only: send the admin key (X-Admin-Key) or a staff user's token",
    }


def test_a_service_role_claim_does_not_make_a_user_staff(alice, admin_key):
    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(alice)
    token["role"] = "service_role"
    token["is_staff"] = True
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/admin/dashboard").status_code == 403


def test_it_asks_for_credentials_when_none_are_sent(client, admin_key):
    response = client.get("/admin/dashboard")
    assert response.status_code == 401
    assert response.json()["success"] is False


@pytest.mark.parametrize(
    "key", ["wrong", "", ADMIN_KEY[:-1], ADMIN_KEY + "x", ADMIN_KEY.upper(), " " + ADMIN_KEY], ids=repr
)
def test_it_refuses_wrong_empty_and_prefix_keys(client, admin_key, key):
    for response in (
        client.get("/admin/dashboard", HTTP_X_ADMIN_KEY=key),
        client.get("/admin/dashboard", {"admin_key": key}),
    ):
        assert response.status_code == 401
        assert response.json() == {"success": False, "error": "Invalid admin key"}


@pytest.mark.parametrize("configured", ["", None])
def test_with_no_key_configured_every_key_is_refused(client, settings, configured):
    settings.ADMIN_API_KEY = configured
    for key in ("", "admin-key-2025", "None"):
        assert client.get("/admin/dashboard", HTTP_X_ADMIN_KEY=key).status_code == 401


def test_a_wrong_key_is_refused_even_next_to_a_staff_token(admin_key, staff):
    response = client_for(staff).get("/admin/dashboard", HTTP_X_ADMIN_KEY="wrong")
    assert response.status_code == 401


@pytest.fixture
def one_ratelimit_window(monkeypatch):
    """django-ratelimit counts in fixed windows; a test straddling a window edge would start counting again."""
    import types

    import django_ratelimit.core

    now = float(int(time.time()))
    monkeypatch.setattr(django_ratelimit.core, "time", types.SimpleNamespace(time=lambda: now))


def test_it_locks_out_an_address_that_keeps_guessing(client, admin_key, settings, one_ratelimit_window):
    settings.ADMIN_KEY_FAILURE_RATE = "3/m"
    statuses = [client.get("/admin/dashboard", HTTP_X_ADMIN_KEY=f"guess-{i}").status_code for i in range(3)]
    locked = client.get("/admin/dashboard", HTTP_X_ADMIN_KEY=admin_key)
    other_address = client.get("/admin/dashboard", HTTP_X_ADMIN_KEY=admin_key, REMOTE_ADDR="10.9.9.9")

    assert statuses == [401, 401, 401]
    assert locked.status_code == 429 and int(locked["Retry-After"]) >= 1
    assert locked.json()["error"].startswith("Too many wrong admin keys from this address")
    assert other_address.status_code == 200


def test_it_stays_locked_out_in_the_last_second_of_the_window(client, admin_key, settings, monkeypatch):
    """django-ratelimit's window for an address ends ``crc32(address) % period`` seconds past the minute: at that
    very second its time_left is 0 (the suite once ran there, and the right key got 200)."""
    import types
    import zlib

    import django_ratelimit.core

    settings.ADMIN_KEY_FAILURE_RATE = "3/m"
    # The value django-ratelimit hashes for the window: the client's address (key="ip", the test client's).
    minute = float(int(time.time()) // 60 * 60)
    last_second = minute + zlib.crc32(b"127.0.0.1") % 60
    monkeypatch.setattr(django_ratelimit.core, "time", types.SimpleNamespace(time=lambda: last_second))

    statuses = [client.get("/admin/dashboard", HTTP_X_ADMIN_KEY=f"guess-{i}").status_code for i in range(3)]
    locked = client.get("/admin/dashboard", HTTP_X_ADMIN_KEY=admin_key)

    assert statuses == [401, 401, 401]
    assert locked.status_code == 429 and int(locked["Retry-After"]) == 1


def test_it_compares_the_key_in_constant_time(admin_key, monkeypatch):
    from dashboard.api import authentication

    calls = []
    real = authentication.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(authentication.hmac, "compare_digest", spy)
    assert authentication.key_matches("wrong") is False
    assert calls == [(b"wrong", ADMIN_KEY.encode())]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_other_methods_are_refused_with_the_envelope(client, admin_key, method):
    response = getattr(client, method)("/admin/dashboard", HTTP_X_ADMIN_KEY=admin_key)
    assert response.status_code == 405
    assert response.json()["success"] is False


@pytest.fixture
def all_logs() -> Iterator[io.StringIO]:
    """Everything any logger writes at DEBUG and above, through the configured (redacting) handler."""
    from core.logs import RedactingFilter

    root = logging.getLogger()
    handler = next(h for h in root.handlers if any(isinstance(f, RedactingFilter) for f in h.filters))
    stream = io.StringIO()
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    levels = {name: logging.getLogger(name).level for name in ("", "django", "django.request", "django.server")}
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    django_logger = logging.getLogger("django")
    django_logger.addHandler(handler)
    try:
        yield stream
    finally:
        django_logger.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        handler.setStream(previous)  # type: ignore[attr-defined]


def test_the_key_never_reaches_the_logs_or_the_metrics(client, admin_key, all_logs, settings, one_ratelimit_window):
    wrong = "sentinel-wrong-key-93ab1f"
    settings.ADMIN_KEY_FAILURE_RATE = "2/m"
    responses = [
        client.get("/admin/dashboard", HTTP_X_ADMIN_KEY=admin_key),
        client.get(f"/admin/dashboard?admin_key={admin_key}"),
        client.post(f"/admin/dashboard?admin_key={admin_key}"),  # 405
        client.get(f"/api/v1/admin/dashboard/?admin_key={wrong}"),  # 401: logged by django.request
        client.get("/admin/dashboard", HTTP_X_ADMIN_KEY=wrong),
        client.get(f"/admin/dashboard?admin_key={wrong}"),  # 429: locked out
    ]

    assert [r.status_code for r in responses] == [200, 200, 405, 401, 401, 429]
    logs = all_logs.getvalue()
    assert "Unauthorized: /api/v1/admin/dashboard/" in logs  # the 4xx lines were written, and captured
    assert admin_key not in logs and wrong not in logs
    stored = repr(list(RequestMetric.objects.values())) + repr(list(UserActivity.objects.values()))
    assert admin_key not in stored and wrong not in stored


def test_it_reports_capture_health_per_site_and_layout(client, admin_key, alice, settings):
    settings.EXTENSION_HEALTH_MIN_PROMPTS = 5
    report = health_report(site="claude", layout="hub", prompts_seen=10, answers_captured=4, answers_missing=6)
    report["fallbacks_used"] = 1
    assert client_for(alice).post("/extension/health", {"reports": [report]}, format="json").status_code == 200

    body = client.get("/admin/dashboard", HTTP_X_ADMIN_KEY=admin_key).json()

    window = {"prompts_seen": 10, "answers_captured": 4, "answers_missing": 6, "fallbacks_used": 1, "capture_rate": 0.4}
    assert body["capture_health"] == [
        {
            "site": "claude",
            "last_24h": window,
            "last_7d": window,
            "flagged": True,
            "flag_reason": "24 h capture rate 40% is below 80%",
            "layouts": [
                {
                    "layout": "hub",
                    "last_24h": window,
                    "last_7d": window,
                    "flagged": True,
                    "flag_reason": "24 h capture rate 40% is below 80%",
                }
            ],
        }
    ]
