from __future__ import annotations

import pytest

from accounts import services
from accounts.models import Tier

pytestmark = pytest.mark.django_db


def test_it_describes_the_user_and_todays_usage(alice, alice_client):
    alice_client.get(f"/context/{alice.pk}", {"query": "x"})
    response = alice_client.get("/auth/me")

    assert response.status_code == 200
    body = response.json()
    usage = body.pop("usage")
    assert body == {"user_id": str(alice.pk), "username": "alice", "email": "alice@example.com", "tier": "free"}
    assert (usage["used"], usage["limit"], usage["remaining"]) == (1, 100, 99)
    assert usage["reset_at"].endswith("T00:00:00Z")
    assert "X-RateLimit-Remaining" not in response  # /auth/me itself is not counted
    assert alice_client.get("/auth/me/").json()["usage"]["used"] == 1


def test_it_shows_unlimited_as_null(alice, alice_client):
    services.user_set_tier(user=alice, tier=Tier.ENTERPRISE)
    usage = alice_client.get("/auth/me").json()["usage"]
    assert (usage["limit"], usage["remaining"], usage["used"]) == (None, None, 0)


def test_it_requires_a_token(anon_client):
    response = anon_client.get("/auth/me")
    assert response.status_code == 401 and response.json()["success"] is False
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_it_lets_no_one_change_their_own_tier(alice, alice_client, method):
    response = getattr(alice_client, method)("/auth/me", {"tier": "enterprise"}, format="json")
    assert response.status_code == 405 and response.json()["success"] is False
    alice.refresh_from_db()
    assert alice.tier == "free"


def test_it_ignores_a_tier_in_a_save_body(alice, alice_client):
    response = alice_client.post("/save-prompt", {"prompt": "x", "tier": "enterprise", "is_staff": True}, format="json")
    assert response.status_code == 201
    alice.refresh_from_db()
    assert (alice.tier, alice.is_staff) == ("free", False)
    assert response["X-RateLimit-Limit"] == "100"


def test_it_is_burst_limited_per_user(alice_client, settings):
    settings.RATELIMIT_API_RATE = "2/m"
    assert [alice_client.get("/auth/me").status_code for _ in range(3)] == [200, 200, 429]
