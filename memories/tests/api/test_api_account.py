"""DELETE /me: the caller's account, with their password (and two-factor code); never with an access token."""

from __future__ import annotations

import pyotp
import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from rest_framework.test import APIClient

from accounts import second_factor, services
from accounts.models import AccountDeletion, User
from memories.models import Memory
from memories.tests.factories import save
from testkit import assert_error, client_for

pytestmark = pytest.mark.django_db


def delete_me(client: APIClient, body: dict | None = None, path: str = "/me"):
    return client.delete(path, body if body is not None else {}, format="json")


@pytest.mark.parametrize("path", ["/me", "/api/v1/me/"])
def test_it_deletes_my_account_with_my_password(alice, alice_client, bob, path):
    save(alice, "I live in Lyon.")
    save(bob, "Bob lives in Ghent.")

    response = delete_me(alice_client, {"confirm": True, "password": "pw-alice"}, path)

    assert response.status_code == 200, response.content
    assert response.json()["success"] is True and response.json()["deleted_at"]
    assert not User.objects.filter(pk=alice.pk).exists() and not Memory.objects.filter(user_id=alice.pk).exists()
    assert Memory.objects.filter(user=bob).count() == 1
    assert AccountDeletion.objects.get().via == "api"
    # the same token now belongs to nobody
    assert alice_client.get("/auth/me").status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"password": "pw-alice"}, 400, "confirm"),
        ({"confirm": False, "password": "pw-alice"}, 400, "confirm"),
        ({"confirm": True}, 403, "not your password"),
        ({"confirm": True, "password": "wrong"}, 403, "not your password"),
        ({"confirm": True, "password": "pw-bob"}, 403, "not your password"),
    ],
)
def test_it_refuses_without_confirmation_or_the_right_password_and_deletes_nothing(
    alice, alice_client, bob, body, status, fragment
):
    assert_error(delete_me(alice_client, body), status, fragment)
    assert User.objects.filter(pk=alice.pk).exists() and not AccountDeletion.objects.exists()


def test_a_body_that_is_not_an_object_is_refused(alice, alice_client):
    response = alice_client.delete("/me", [1, 2], format="json")
    assert_error(response, 400, "JSON object")
    assert User.objects.filter(pk=alice.pk).exists()


@pytest.mark.parametrize("scope", ["read", "write"])
def test_a_personal_access_token_cannot_delete_the_account_whatever_its_scope(alice, scope):
    secret = services.access_token_create(user=alice, name="script", scope=scope).secret
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    response = delete_me(client, {"confirm": True, "password": "pw-alice"})

    assert response.status_code == 403 and response.json()["success"] is False
    assert User.objects.filter(pk=alice.pk).exists()


def test_without_a_token_it_is_401_and_other_methods_are_405(alice, anon_client, alice_client):
    assert_error(delete_me(anon_client, {"confirm": True, "password": "pw-alice"}), 401, "")
    assert alice_client.get("/me").status_code == 405
    assert alice_client.post("/me", {"confirm": True, "password": "pw-alice"}, format="json").status_code == 405
    assert User.objects.filter(pk=alice.pk).exists()


def test_an_account_without_a_password_confirms_only(alice):
    alice.set_unusable_password()  # made from a Supabase token: there is no password to ask for
    alice.save()
    assert delete_me(client_for(alice), {"confirm": True}).status_code == 200
    assert not User.objects.filter(pk=alice.pk).exists()


def test_it_with_two_factor_on_asks_for_a_right_code(alice, alice_client):
    secret = generate_totp_secret()
    TOTP.activate(alice, secret)  # as after /app/'s "turn on two-factor sign-in"
    body = {"confirm": True, "password": "pw-alice"}

    assert_error(delete_me(alice_client, body), 400, "two-factor")
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    assert_error(delete_me(alice_client, {**body, "code": wrong}), 403, "code is not right")
    assert User.objects.filter(pk=alice.pk).exists()
    assert delete_me(alice_client, {**body, "code": pyotp.TOTP(secret).now()}).status_code == 200
    assert not User.objects.filter(pk=alice.pk).exists()


def test_it_asks_no_code_of_an_account_without_a_second_factor(alice):
    assert second_factor.second_factor_required(user=alice) is False
    assert second_factor.second_factor_verify(user=alice, code="123456") is False


def test_password_guesses_are_rate_limited(alice, alice_client, settings):
    settings.RATELIMIT_AUTH_RATE = "2/m"
    for _ in range(2):
        delete_me(alice_client, {"confirm": True, "password": "guess"})
    assert_error(delete_me(alice_client, {"confirm": True, "password": "pw-alice"}), 429, "")
    assert User.objects.filter(pk=alice.pk).exists()


def test_the_extensions_refresh_token_is_refused_once_the_account_is_gone(alice, alice_client):
    from django.test import Client

    tokens = (
        Client()
        .post("/auth/token/", {"username": "alice", "password": "pw-alice"}, content_type="application/json")
        .json()
    )
    assert delete_me(alice_client, {"confirm": True, "password": "pw-alice"}).status_code == 200

    refreshed = Client().post("/auth/token/refresh/", {"refresh": tokens["refresh"]}, content_type="application/json")

    assert_error(refreshed, 401, "")


def test_a_bad_expired_or_refresh_token_is_401_and_malformed_json_is_400(alice):
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

    expired = AccessToken.for_user(alice)
    expired.set_exp(lifetime=-timedelta(seconds=1))
    for bearer in ("not-a-jwt", str(expired), str(RefreshToken.for_user(alice))):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {bearer}")
        assert_error(delete_me(client, {"confirm": True, "password": "pw-alice"}), 401, "")
    broken = client_for(alice).generic("DELETE", "/me", '{"confirm": true,', content_type="application/json")
    assert_error(broken, 400, "")
    assert User.objects.filter(pk=alice.pk).exists()
