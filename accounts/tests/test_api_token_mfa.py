"""POST /auth/token/ (the extension's password sign-in) for an account with two-factor sign-in: ``otp`` asked for
in the envelope with ``"mfa_required": true``, a TOTP code or a recovery code accepted, nothing made when refused."""

from __future__ import annotations

import pyotp
import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from testkit import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_totp(alice) -> pyotp.TOTP:
    """alice with an authenticator app and recovery codes, as after /app/'s "turn on two-factor sign-in"."""
    secret = generate_totp_secret()
    TOTP.activate(alice, secret)
    RecoveryCodes.activate(alice)
    return pyotp.TOTP(secret)


def obtain(client, **body):
    return client.post("/auth/token/", {"username": "alice", "password": "pw-alice", **body}, format="json")


def test_it_asks_for_the_second_factor_when_none_is_sent(alice_totp, anon_client):
    response = obtain(anon_client)
    assert_error(response, 401, "two-factor code required")
    assert response.json()["mfa_required"] is True
    assert not OutstandingToken.objects.exists()


def test_it_issues_tokens_with_a_current_code_that_work_on_the_api(alice, alice_totp, anon_client):
    response = obtain(anon_client, otp=alice_totp.now())
    assert response.status_code == 200 and set(response.json()) == {"access", "refresh"}
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert anon_client.get(f"/context/{alice.pk}", {"query": "x"}).status_code == 200
    assert Authenticator.objects.get(user=alice, type="totp").last_used_at is not None


def test_it_refuses_a_wrong_code_and_the_same_code_twice(alice_totp, anon_client):
    wrong = obtain(anon_client, otp="000000" if alice_totp.now() != "000000" else "111111")
    assert_error(wrong, 401, "two-factor code refused")
    assert wrong.json()["mfa_required"] is True
    code = alice_totp.now()
    assert obtain(anon_client, otp=code).status_code == 200
    assert_error(obtain(anon_client, otp=code), 401, "two-factor code refused")  # a replayed code
    assert OutstandingToken.objects.count() == 1


def test_it_accepts_a_recovery_code_once(alice, alice_totp, anon_client):
    codes = RecoveryCodes(Authenticator.objects.get(user=alice, type="recovery_codes")).get_unused_codes()
    assert obtain(anon_client, otp=codes[0]).status_code == 200
    assert_error(obtain(anon_client, otp=codes[0]), 401, "refused")
    assert obtain(anon_client, otp=codes[1]).status_code == 200


def test_it_checks_the_password_before_the_code(alice_totp, anon_client):
    response = anon_client.post("/auth/token/", {"username": "alice", "password": "nope"}, format="json")
    assert response.status_code == 401 and "mfa_required" not in response.json()


def test_it_limits_wrong_codes_per_account(alice_totp, anon_client, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login_failed": "3/m/key"}
    for _ in range(3):
        assert_error(obtain(anon_client, otp="12345"), 401, "incorrect code")
    limited = obtain(anon_client, otp=alice_totp.now())  # even the right code, until the window ends
    assert_error(limited, 401, "too many")
    assert not OutstandingToken.objects.exists()


@pytest.mark.parametrize("otp", [123456, ["123456"], {"code": "1"}, "x" * 65])
def test_it_refuses_an_otp_that_is_not_a_short_string(alice_totp, anon_client, otp):
    response = obtain(anon_client, otp=otp)
    assert_error(response, 400, "otp")
    assert not OutstandingToken.objects.exists()


def test_an_account_without_two_factor_ignores_an_otp(alice, anon_client):
    assert obtain(anon_client, otp="123456").status_code == 200
    assert obtain(anon_client).status_code == 200
