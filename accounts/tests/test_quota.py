"""The daily quota on /save-prompt, /save-response and /context, and the per-user burst limit."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from unittest import mock

import pytest
from rest_framework.test import APIClient

from accounts import services
from accounts.models import DailyUsage, Tier
from memories.models import Memory
from testkit import client_for, concurrently, make_user

pytestmark = pytest.mark.django_db


def context(client: APIClient, user, query: str = "anything") -> Any:
    return client.get(f"/context/{user.pk}", {"query": query})


def today() -> date:
    return datetime.now(UTC).date()


def used(user, day: date | None = None) -> int:
    return DailyUsage.objects.filter(user=user, day=day or today()).values_list("count", flat=True).first() or 0


def set_used(user, count: int, day: date | None = None) -> None:
    DailyUsage.objects.update_or_create(user=user, day=day or today(), defaults={"count": count})


def midnight_after(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) + 86400


def test_it_counts_each_endpoint_and_sends_the_headers(alice, alice_client):
    responses = [
        alice_client.post("/save-prompt", {"prompt": "first"}, format="json"),
        alice_client.post("/save-response", {"prompt": "q", "response": "a"}, format="json"),
        context(alice_client, alice),
    ]

    assert [r.status_code for r in responses] == [201, 201, 200]
    assert [r["X-RateLimit-Remaining"] for r in responses] == ["99", "98", "97"]
    assert all(r["X-RateLimit-Limit"] == "100" for r in responses)
    assert all(r["X-RateLimit-Reset"] == str(midnight_after(today())) for r in responses)
    assert used(alice) == 3


def test_it_answers_the_101st_request_of_a_free_user_with_429(alice, alice_client):
    set_used(alice, 99)
    assert context(alice_client, alice).status_code == 200

    response = alice_client.post("/save-prompt", {"prompt": "one too many"}, format="json")

    assert response.status_code == 429
    body = response.json()
    assert body["success"] is False
    assert body["error"] == "Daily limit of 100 requests reached for the free tier"
    assert body["tier"] == "free" and body["limit"] == 100 and body["reset_at"].endswith("T00:00:00Z")
    retry_after = int(response["Retry-After"])
    expected = midnight_after(today()) - datetime.now(UTC).timestamp()
    assert 0 < retry_after <= 86400 and abs(retry_after - expected) <= 2
    assert (response["X-RateLimit-Limit"], response["X-RateLimit-Remaining"]) == ("100", "0")
    assert response["X-RateLimit-Reset"] == str(midnight_after(today()))
    assert used(alice) == 100 and Memory.objects.count() == 0  # refused before any work


def test_it_keeps_refusing_without_counting_past_the_limit(alice, alice_client):
    set_used(alice, 100)
    for _ in range(3):
        assert context(alice_client, alice).status_code == 429
    assert used(alice) == 100


@pytest.mark.parametrize(("tier", "limit"), [(Tier.FREE, 100), (Tier.PRO, 1000)])
def test_it_applies_the_tier_limits(alice, alice_client, tier, limit):
    services.user_set_tier(user=alice, tier=tier)
    set_used(alice, limit - 1)
    ok = context(alice_client, alice)
    assert ok.status_code == 200 and ok["X-RateLimit-Limit"] == str(limit) and ok["X-RateLimit-Remaining"] == "0"
    refused = context(alice_client, alice)
    assert refused.status_code == 429
    assert refused.json()["error"] == f"Daily limit of {limit} requests reached for the {tier} tier"


def test_it_never_limits_enterprise_but_still_counts(alice, alice_client):
    services.user_set_tier(user=alice, tier=Tier.ENTERPRISE)
    set_used(alice, 1_000_000)
    response = context(alice_client, alice)
    assert response.status_code == 200
    assert (response["X-RateLimit-Limit"], response["X-RateLimit-Remaining"]) == ("unlimited", "unlimited")
    assert used(alice) == 1_000_001


def test_it_applies_a_tier_change_on_the_next_request(alice, alice_client, settings):
    set_used(alice, 100)
    assert context(alice_client, alice).status_code == 429

    services.user_set_tier(user=alice, tier=Tier.PRO)
    response = context(alice_client, alice)
    assert response.status_code == 200 and response["X-RateLimit-Remaining"] == "899"

    services.user_set_tier(user=alice, tier=Tier.FREE)  # a downgrade below today's usage refuses at once
    assert context(alice_client, alice).status_code == 429
    assert used(alice) == 101


def test_it_reads_limits_from_settings(alice, alice_client, settings):
    settings.QUOTA_DAILY_LIMITS = {"free": 2, "pro": 5, "enterprise": None}
    assert [context(alice_client, alice).status_code for _ in range(3)] == [200, 200, 429]
    settings.QUOTA_DAILY_LIMITS = {"free": 0, "pro": 5, "enterprise": None}
    assert context(alice_client, alice).status_code == 429
    assert used(alice) == 2


def test_it_keeps_each_users_quota_apart(alice, alice_client, bob, bob_client):
    set_used(alice, 100)
    assert context(alice_client, alice).status_code == 429
    response = context(bob_client, bob)
    assert response.status_code == 200 and response["X-RateLimit-Remaining"] == "99"


def test_it_counts_the_token_user_whatever_the_body_says(alice, alice_client, bob):
    response = alice_client.post("/save-prompt", {"user_id": str(bob.pk), "prompt": "x"}, format="json")
    assert response.status_code == 403
    assert used(bob) == 0 and used(alice) == 0


# --- What is not counted ------------------------------------------------------------------------------------


def test_it_does_not_count_unauthenticated_or_badly_authenticated_requests(alice, anon_client):
    assert context(anon_client, alice).status_code == 401
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert anon_client.post("/save-prompt", {"prompt": "x"}, format="json").status_code == 401
    assert DailyUsage.objects.count() == 0


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/save-prompt", {"prompt": ""}, 400),
        ("post", "/save-prompt", {"prompt": "x", "provider": "bing"}, 400),
        ("post", "/save-response", {"response": "no prompt"}, 400),
        ("post", "/save-prompt", {"prompt": "x", "user_id": "00000000-0000-0000-0000-000000000000"}, 403),
        ("get", "/save-prompt", None, 405),
        ("put", "/save-response", {}, 405),
        ("get", "/context/{me}", {"top_k": 0, "query": "x"}, 400),
        ("get", "/context/00000000-0000-0000-0000-000000000000", {"query": "x"}, 403),
    ],
)
def test_it_refunds_requests_that_are_refused(alice, alice_client, method, path, body, status):
    set_used(alice, 10)
    response = getattr(alice_client, method)(
        path.format(me=alice.pk), body, **({"format": "json"} if method != "get" else {})
    )
    assert response.status_code == status, response.content
    assert used(alice) == 10
    assert response["X-RateLimit-Remaining"] == "90"


def test_it_refunds_a_request_refused_for_a_malformed_body(alice, alice_client):
    response = alice_client.post("/save-prompt", "{bad", content_type="application/json")
    assert response.status_code == 400 and used(alice) == 0


def test_it_refunds_a_server_error(alice, alice_client):
    with mock.patch("memories.services.memory_save", side_effect=RuntimeError("boom")):
        response = alice_client.post("/save-prompt", {"prompt": "x"}, format="json")
    assert response.status_code == 500 and response.json()["success"] is False
    assert used(alice) == 0


def test_it_counts_a_duplicate_save_that_succeeds(alice, alice_client):
    alice_client.post("/save-prompt", {"prompt": "same"}, format="json")
    again = alice_client.post("/save-prompt", {"prompt": "same"}, format="json")
    assert again.status_code == 200 and used(alice) == 2


def test_it_does_not_count_options(alice, alice_client):
    response = alice_client.options("/save-prompt")
    assert response.status_code == 200 and "X-RateLimit-Remaining" not in response
    assert used(alice) == 0


def test_a_request_refused_at_the_limit_does_not_free_a_slot(alice, alice_client):
    set_used(alice, 100)
    assert alice_client.post("/save-prompt", {"prompt": ""}, format="json").status_code == 429
    assert used(alice) == 100


# --- The UTC day --------------------------------------------------------------------------------------------


def frozen(moment: datetime):
    return mock.patch("django.utils.timezone.now", return_value=moment)


def test_it_resets_at_midnight_utc(alice, alice_client):
    day = date(2030, 1, 1)
    set_used(alice, 100, day)

    with frozen(datetime(2030, 1, 1, 23, 59, 59, 500_000, tzinfo=UTC)):
        refused = context(alice_client, alice)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"
    assert refused["X-RateLimit-Reset"] == str(midnight_after(day))

    with frozen(datetime(2030, 1, 2, 0, 0, 0, tzinfo=UTC)):
        allowed = context(alice_client, alice)
        me = alice_client.get("/auth/me").json()["usage"]
    assert allowed.status_code == 200
    assert allowed["X-RateLimit-Remaining"] == "99"
    assert allowed["X-RateLimit-Reset"] == str(midnight_after(date(2030, 1, 2)))
    assert me == {"day": "2030-01-02", "used": 1, "limit": 100, "remaining": 99, "reset_at": "2030-01-03T00:00:00Z"}
    assert used(alice, day) == 100 and used(alice, date(2030, 1, 2)) == 1


def test_it_uses_the_utc_day_whatever_the_local_time_zone(alice, alice_client, settings):
    settings.TIME_ZONE = "Pacific/Kiritimati"  # UTC+14
    with frozen(datetime(2030, 6, 30, 23, 0, tzinfo=UTC)):
        response = context(alice_client, alice)
    assert response.status_code == 200
    assert used(alice, date(2030, 6, 30)) == 1 and used(alice, date(2030, 7, 1)) == 0


def test_it_refunds_on_the_day_it_counted_even_after_midnight(alice):
    with frozen(datetime(2030, 1, 1, 23, 59, 59, tzinfo=UTC)):
        usage = services.usage_consume(user=alice)
    with frozen(datetime(2030, 1, 2, 0, 0, 1, tzinfo=UTC)):
        services.usage_refund(user=alice, usage=usage)
    assert used(alice, date(2030, 1, 1)) == 0 and used(alice, date(2030, 1, 2)) == 0


# --- Exact under concurrency --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_it_is_exact_for_thirty_concurrent_requests_with_twenty_left():
    user = make_user("racer")
    set_used(user, 80)
    clients = [client_for(user) for _ in range(30)]

    statuses = concurrently(30, lambda i: context(clients[i], user, "race").status_code)

    assert sorted(statuses) == [200] * 20 + [429] * 10
    assert used(user) == 100


@pytest.mark.django_db(transaction=True)
def test_the_counter_is_exact_across_concurrent_connections():
    user = make_user("counter")

    def consume(_: int) -> list[bool]:
        return [services.usage_consume(user=user).allowed for _ in range(25)]

    results = [allowed for batch in concurrently(8, consume) for allowed in batch]

    assert results.count(True) == 100 and results.count(False) == 100
    assert used(user) == 100


# --- Burst limit (per user per minute) ----------------------------------------------------------------------


def test_it_limits_bursts_per_user_without_using_the_daily_quota(alice, alice_client, bob, bob_client, settings):
    settings.RATELIMIT_API_RATE = "3/m"
    assert [context(alice_client, alice).status_code for _ in range(3)] == [200, 200, 200]

    burst = context(alice_client, alice)
    assert burst.status_code == 429
    assert burst.json()["success"] is False and "3 per minute" in burst.json()["error"]
    assert 1 <= int(burst["Retry-After"]) <= 60
    assert used(alice) == 3

    assert context(bob_client, bob).status_code == 200  # a bucket per user, not one shared bucket


def test_it_keys_the_burst_limit_on_the_authenticated_user_not_the_ip(alice, bob, settings):
    settings.RATELIMIT_API_RATE = "2/m"
    clients = [client_for(alice), client_for(bob)]
    statuses = [context(c, u).status_code for c, u in zip(clients * 2, [alice, bob] * 2, strict=True)]
    assert statuses == [200, 200, 200, 200]


def test_it_lets_requests_through_when_the_limiter_cache_is_down(alice, alice_client, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    settings.RATELIMIT_API_RATE = "1/m"
    assert [context(alice_client, alice).status_code for _ in range(2)] == [200, 200]
    assert used(alice) == 2


def test_it_keeps_the_error_answer_when_the_refund_fails(alice, alice_client):
    from django.db import OperationalError

    with mock.patch("accounts.services.usage_refund", side_effect=OperationalError("gone")):
        response = alice_client.post("/save-prompt", {"prompt": ""}, format="json")
    assert response.status_code == 400 and response.json()["success"] is False
    assert used(alice) == 1  # not refunded: one request lost, no 500
