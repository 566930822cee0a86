"""Personal access tokens: POST/GET/DELETE /me/tokens, and the tokens themselves on the rest of the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import PersonalAccessToken, TokenScope
from testkit import assert_error, client_for

pytestmark = pytest.mark.django_db


def token_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def make_token(user, scope: str = TokenScope.READ, **kwargs) -> services.CreatedToken:
    return services.access_token_create(user=user, name=f"{scope} token", scope=scope, **kwargs)


# --- /me/tokens -------------------------------------------------------------------------------------------


def test_it_makes_a_token_shows_it_once_and_stores_only_its_hash(alice, alice_client):
    answer = alice_client.post("/me/tokens", {"name": "Claude Desktop", "scope": "write"}, format="json")

    assert answer.status_code == 201
    body = answer.json()
    secret = body["token"]
    assert secret.startswith("mlk_") and len(secret) >= 40
    assert body["name"] == "Claude Desktop" and body["scope"] == "write"
    assert body["prefix"] == secret[:10] and body["revoked_at"] is None and body["expires_at"] is None
    row = PersonalAccessToken.objects.get(user=alice)
    assert row.token_hash == services.access_token_hash(secret) and row.token_hash != secret
    assert secret not in str(PersonalAccessToken.objects.filter(pk=row.pk).values().get())
    listed = alice_client.get("/me/tokens").json()
    assert [t["id"] for t in listed] == [row.pk] and "token" not in listed[0]


def test_a_new_token_is_read_only_unless_asked_and_may_expire(alice, alice_client):
    later = (timezone.now() + timedelta(days=30)).isoformat()
    body = alice_client.post("/api/v1/me/tokens", {"name": "script", "expires_at": later}, format="json").json()
    assert body["scope"] == "read" and body["expires_at"] is not None


def test_the_list_holds_only_my_tokens_newest_first_revoked_ones_too(alice, bob, alice_client):
    first, second = make_token(alice), make_token(alice, TokenScope.WRITE)
    make_token(bob)
    services.access_token_revoke(user=alice, token_id=first.token.pk)

    listed = alice_client.get("/me/tokens").json()

    assert [t["id"] for t in listed] == [second.token.pk, first.token.pk]
    assert listed[1]["revoked_at"] is not None and listed[0]["revoked_at"] is None


def test_revoking_refuses_the_token_from_the_next_request_on(alice, alice_client):
    created = make_token(alice)
    assert token_client(created.secret).get("/memories/").status_code == 200

    answer = alice_client.delete(f"/me/tokens/{created.token.pk}")

    assert answer.status_code == 200 and answer.json()["revoked_at"] is not None
    assert_error(token_client(created.secret).get("/memories/"), 401, "revoked")
    assert alice_client.delete(f"/me/tokens/{created.token.pk}").status_code == 200  # again: no change


def test_another_persons_token_is_not_found_and_stays_valid(alice, bob, alice_client):
    bobs = make_token(bob)

    assert_error(alice_client.delete(f"/me/tokens/{bobs.token.pk}"), 404, "not found")
    assert_error(alice_client.delete("/me/tokens/999999999999"), 404, "not found")
    assert token_client(bobs.secret).get("/memories/").status_code == 200


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "name: This field is required"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": 12}, "name: Not a valid string"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "scope": "admin"}, "scope"),
        ({"name": "ok", "scope": True}, "scope"),
        ({"name": "ok", "expires_at": "tomorrow"}, "expires_at"),
        ({"name": "ok", "expires_at": "2020-01-01T00:00:00Z"}, "expires_at: must be in the future"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_made(alice, alice_client, body, fragment):
    assert_error(alice_client.post("/me/tokens", body, format="json"), 400, fragment)
    assert not PersonalAccessToken.objects.exists()


def test_a_body_that_is_not_an_object_is_refused(alice_client):
    assert_error(alice_client.post("/me/tokens", ["name"], format="json"), 400, "JSON object")


def test_wrong_methods_are_refused(alice_client):
    assert_error(alice_client.put("/me/tokens", {"name": "x"}, format="json"), 405, "not allowed")
    assert_error(alice_client.delete("/me/tokens"), 405, "not allowed")
    assert_error(alice_client.post("/me/tokens/1", {}, format="json"), 405, "not allowed")


def test_without_a_token_it_answers_401(db):
    assert_error(APIClient().get("/me/tokens"), 401, "Authentication required")
    assert_error(APIClient().post("/me/tokens", {"name": "x"}, format="json"), 401, "Authentication required")


def test_a_personal_token_cannot_manage_tokens_nor_open_the_web_page(alice):
    writer = token_client(make_token(alice, TokenScope.WRITE).secret)

    assert_error(writer.get("/me/tokens"), 403, "personal access token cannot be used here")
    assert_error(writer.post("/me/tokens", {"name": "more"}, format="json"), 403, "cannot be used here")
    assert_error(writer.post("/auth/web-login-link"), 403, "cannot be used here")
    assert PersonalAccessToken.objects.count() == 1


def test_the_web_session_works_with_its_csrf_token_only(alice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)

    refused = browser.post("/me/tokens", {"name": "x"}, content_type="application/json")
    assert_error(refused, 403, "CSRF")
    browser.get("/app/")  # sets the CSRF cookie, as the page does
    csrf = browser.cookies["csrftoken"].value
    made = browser.post("/me/tokens", {"name": "x"}, content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
    assert made.status_code == 201 and browser.get("/me/tokens").json()[0]["name"] == "x"


def test_a_person_has_at_most_fifty_live_tokens(alice, alice_client, monkeypatch):
    monkeypatch.setattr(services, "MAX_ACCESS_TOKENS", 2)
    make_token(alice), make_token(alice)
    assert_error(alice_client.post("/me/tokens", {"name": "third"}, format="json"), 400, "revoke one first")


def test_expired_unknown_and_malformed_tokens_are_refused_with_401(alice):
    expired = make_token(alice, expires_at=timezone.now() + timedelta(seconds=1))
    PersonalAccessToken.objects.filter(pk=expired.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert_error(token_client(expired.secret).get("/auth/me"), 401, "expired")
    assert_error(token_client("mlk_" + "x" * 43).get("/auth/me"), 401, "unknown personal access token")
    assert_error(token_client("not-a-token").get("/auth/me"), 401, "invalid token")
    assert client_for(alice).get("/auth/me").status_code == 200  # JWTs still work beside them


def test_an_inactive_persons_token_is_refused(alice):
    created = make_token(alice)
    alice.is_active = False
    alice.save()
    assert_error(token_client(created.secret).get("/auth/me"), 401, "inactive")


def test_a_read_token_cannot_change_the_settings(alice):
    reader = token_client(make_token(alice).secret)
    assert reader.get("/me/settings").status_code == 200
    assert_error(reader.patch("/me/settings", {"capture": False}, format="json"), 403, "read-only")
    assert reader.get("/me/settings").json()["capture"] is True


def test_last_used_is_written_at_most_once_a_minute(alice):
    reader = token_client(make_token(alice).secret)

    reader.get("/auth/me")
    first = PersonalAccessToken.objects.get().last_used_at
    assert first is not None
    reader.get("/auth/me")
    assert PersonalAccessToken.objects.get().last_used_at == first  # within the minute: no write
    PersonalAccessToken.objects.update(last_used_at=timezone.now() - timedelta(minutes=2))
    reader.get("/auth/me")
    latest = PersonalAccessToken.objects.get().last_used_at
    assert latest is not None and latest > first
