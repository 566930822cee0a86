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
