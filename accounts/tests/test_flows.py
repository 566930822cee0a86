"""The issue's "done when": register, log in, hit the free limit at exactly request 101, get raised a tier.

The same with Supabase-style tokens (HS256, and RS256 via a JWKS served by the test) and no registration.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.tests.supabase_fakes import claims, hs256_token

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def next_midnight() -> datetime:
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)


def call(client: APIClient, user_id: str, i: int):
    # The extension's three calls, in turn, exactly as it makes them.
    if i % 3 == 0:
        return client.post("/save-prompt", {"user_id": user_id, "prompt": f"note {i}"}, format="json")
    if i % 3 == 1:
        body = {"user_id": user_id, "prompt": f"q {i}", "response": f"a {i}", "provider": "claude"}
        return client.post("/save-response", body, format="json")
    return client.get(f"/context/{user_id}", {"query": f"note {i}"})


def hit_the_free_limit(client: APIClient, user_id: str) -> None:
    for i in range(1, 101):
        response = call(client, user_id, i)
        assert response.status_code in (200, 201), (i, response.content)
        assert response["X-RateLimit-Limit"] == "100"
        assert response["X-RateLimit-Remaining"] == str(100 - i)
        assert response["X-RateLimit-Reset"] == str(int(next_midnight().timestamp()))

    refused = call(client, user_id, 101)
    assert refused.status_code == 429
    assert refused.json()["error"] == "Daily limit of 100 requests reached for the free tier"
    assert refused.json()["success"] is False
    seconds_left = (next_midnight() - datetime.now(UTC)).total_seconds()
    assert abs(int(refused["Retry-After"]) - seconds_left) <= 2
    assert (refused["X-RateLimit-Limit"], refused["X-RateLimit-Remaining"]) == ("100", "0")

    me = client.get("/auth/me").json()
    assert (me["tier"], me["usage"]["used"], me["usage"]["remaining"]) == ("free", 100, 0)


def staff_raise_and_retry(client: APIClient, user_id: str, identifier: str) -> None:
    call_command("set_tier", identifier, "pro", stdout=io.StringIO())
    response = call(client, user_id, 102)
    assert response.status_code in (200, 201), response.content
    assert (response["X-RateLimit-Limit"], response["X-RateLimit-Remaining"]) == ("1000", "899")
    assert client.get("/auth/me").json()["tier"] == "pro"


def test_a_registered_user_hits_the_free_limit_at_request_101_until_staff_raise_the_tier(anon_client):
    password = "violet-harbor-kettle-88"
    registered = anon_client.post(
        "/auth/register", {"username": "dana", "email": "dana@example.com", "password": password}, format="json"
    )
    assert registered.status_code == 201
    user_id = registered.json()["user_id"]
    tokens = anon_client.post("/auth/token/", {"username": "dana", "password": password}, format="json").json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")

    hit_the_free_limit(client, user_id)
    staff_raise_and_retry(client, user_id, "dana")


def test_a_supabase_hs256_user_does_the_same_without_registering(supabase_hs):
    sub = str(uuid.uuid4())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {hs256_token(claims(sub, email='erin@example.com'))}")

    hit_the_free_limit(client, sub)
    staff_raise_and_retry(client, sub, sub)


def test_a_supabase_rs256_user_does_the_same_without_registering(supabase_jwks, rs_key):
    sub = str(uuid.uuid4())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {rs_key.token(claims(sub, email='fay@example.com'))}")

    hit_the_free_limit(client, sub)
    staff_raise_and_retry(client, sub, sub)
    assert supabase_jwks.fetches == 1
