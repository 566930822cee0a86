from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_it_issues_and_refreshes_tokens_that_work_on_the_api(alice, anon_client):
    response = anon_client.post("/auth/token/", {"username": "alice", "password": "pw-alice"}, format="json")
    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}

    refreshed = anon_client.post("/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 200 and "access" in refreshed.json()

    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
    assert anon_client.get(f"/context/{alice.pk}", {"query": "x"}).status_code == 200


def test_it_refuses_a_wrong_password_with_the_envelope(alice, anon_client):
    response = anon_client.post("/auth/token/", {"username": "alice", "password": "nope"}, format="json")
    assert response.status_code == 401
    assert response.json()["success"] is False and response.json()["error"]


def test_it_refuses_a_refresh_token_used_as_an_access_token(alice, anon_client):
    refresh = anon_client.post("/auth/token/", {"username": "alice", "password": "pw-alice"}, format="json").json()[
        "refresh"
    ]
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {refresh}")
    response = anon_client.get(f"/context/{alice.pk}", {"query": "x"})
    assert response.status_code == 401 and response.json()["success"] is False


def test_it_names_missing_credentials(anon_client):
    response = anon_client.post("/auth/token/", {}, format="json")
    assert response.status_code == 400
    assert "username" in response.json()["error"] and "password" in response.json()["error"]


def obtain(client, username="alice", password="pw-alice", **extra):
    return client.post("/auth/token/", {"username": username, "password": password}, format="json", **extra)


def test_it_logs_out_by_blacklisting_the_refresh_token(alice, anon_client):
    tokens = obtain(anon_client).json()

    response = anon_client.post("/auth/token/blacklist/", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 200

    refused = anon_client.post("/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert refused.status_code == 401
    assert refused.json() == {"success": False, "error": "Token is blacklisted", "code": "token_not_valid"}
    again = anon_client.post("/auth/token/blacklist/", {"refresh": tokens["refresh"]}, format="json")
    assert again.status_code == 401 and again.json()["success"] is False


def test_it_refuses_to_blacklist_garbage_or_nothing(anon_client):
    assert anon_client.post("/auth/token/blacklist/", {"refresh": "nope"}, format="json").status_code == 401
    missing = anon_client.post("/auth/token/blacklist/", {}, format="json")
    assert missing.status_code == 400 and "refresh" in missing.json()["error"]


def test_it_limits_token_requests_per_ip(alice, anon_client, settings):
    settings.RATELIMIT_AUTH_RATE = "10/m"
    statuses = [obtain(anon_client, password="wrong").status_code for _ in range(10)]
    assert statuses == [401] * 10

    blocked = obtain(anon_client)  # even the right password: guessing is slowed down per address
    assert blocked.status_code == 429
    assert blocked.json()["success"] is False and "10 per minute" in blocked.json()["error"]
    assert 1 <= int(blocked["Retry-After"]) <= 60

    assert obtain(anon_client, REMOTE_ADDR="203.0.113.9").status_code == 200  # another address


def test_it_limits_refresh_and_blacklist_per_ip_in_their_own_buckets(alice, anon_client, settings):
    settings.RATELIMIT_AUTH_RATE = "2/m"
    refresh = obtain(anon_client).json()["refresh"]
    codes = [
        anon_client.post("/auth/token/refresh/", {"refresh": refresh}, format="json").status_code for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    assert anon_client.post("/auth/token/blacklist/", {"refresh": refresh}, format="json").status_code == 200


def test_it_ignores_a_tier_sent_to_the_token_endpoint(alice, anon_client):
    response = anon_client.post(
        "/auth/token/", {"username": "alice", "password": "pw-alice", "tier": "enterprise"}, format="json"
    )
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.tier == "free"
