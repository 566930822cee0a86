"""Supabase access tokens, HS256 (legacy secret) and RS256/ES256 (JWKS served over loopback by the test)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts import jwks
from accounts.models import User
from accounts.tests.supabase_fakes import HS_SECRET, SigningKey, claims, hs256_token, raw_token
from testkit import concurrently

pytestmark = pytest.mark.django_db


def me(token: str) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get("/auth/me")


def assert_refused(response, fragment: str = "") -> None:
    assert response.status_code == 401, response.content
    body = response.json()
    assert body["success"] is False and body["error"].startswith("Invalid token"), body
    assert fragment.lower() in body["error"].lower(), body["error"]
    assert response["WWW-Authenticate"].startswith("Bearer")


# --- HS256 (legacy secret) ----------------------------------------------------------------------------------


def test_it_provisions_a_user_from_the_first_hs256_token(supabase_hs):
    sub = uuid.uuid4()
    response = me(hs256_token(claims(sub, email="new.person@example.com")))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["user_id"] == str(sub) and body["email"] == "new.person@example.com" and body["tier"] == "free"
    user = User.objects.get(pk=sub)
    assert (user.email, user.username, user.has_usable_password()) == (
        "new.person@example.com",
        "new.person@example.com",
        False,
    )


def test_it_reuses_the_provisioned_user_on_later_tokens(supabase_hs):
    sub = uuid.uuid4()
    assert me(hs256_token(claims(sub))).status_code == 200
    assert me(hs256_token(claims(sub))).status_code == 200
    assert User.objects.filter(pk=sub).count() == 1 and User.objects.count() == 1


def test_it_falls_back_to_the_uuid_as_username_when_the_email_is_taken(supabase_hs, alice):
    sub = uuid.uuid4()
    assert me(hs256_token(claims(sub, email="ALICE"))).status_code == 200  # not an email: none stored
    user = User.objects.get(pk=sub)
    assert (user.username, user.email) == (str(sub), "")

    other = uuid.uuid4()
    User.objects.create_user(username="taken@example.com", password="x")
    assert me(hs256_token(claims(other, email="taken@example.com"))).status_code == 200
    assert User.objects.get(pk=other).username == str(other)


def test_it_lets_the_extension_save_and_search_with_a_supabase_token(supabase_hs):
    sub = uuid.uuid4()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {hs256_token(claims(sub))}")

    saved = client.post(
        "/save-prompt", {"user_id": str(sub), "prompt": "I keep bees.", "provider": "claude"}, format="json"
    )
    assert saved.status_code == 201, saved.content
    found = client.get(f"/context/{sub}", {"query": "bees"})
    assert found.status_code == 200 and found.json()["count"] == 1


def test_it_still_accepts_locally_issued_tokens(supabase_hs, alice):
    response = me(str(AccessToken.for_user(alice)))
    assert response.status_code == 200 and response.json()["user_id"] == str(alice.pk)


def test_it_refuses_supabase_tokens_when_no_key_source_is_configured(settings):
    settings.SUPABASE_JWT_SECRET = ""
    settings.SUPABASE_JWKS_URL = ""
    response = me(hs256_token(claims()))
    assert response.status_code == 401 and response.json()["success"] is False
    assert User.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"exp": int(time.time()) - 60}, "expired"),
        ({"exp": None}, "exp"),
        ({"aud": "anon"}, "audience"),
        ({"aud": None}, "aud"),
        ({"role": "anon"}, "role 'anon'"),
        ({"role": "service_role"}, "role 'service_role'"),
        ({"role": None}, "role"),
        ({"sub": None}, "sub"),
        ({"sub": "not-a-uuid"}, "uuid"),
        ({"sub": 12345}, "sub"),
        ({"nbf": int(time.time()) + 600}, "not yet valid"),
    ],
)
def test_it_refuses_tokens_with_bad_claims_and_creates_no_user(supabase_hs, overrides, fragment):
    assert_refused(me(hs256_token(claims(**overrides))), fragment)
    assert User.objects.count() == 0


def test_it_refuses_the_legacy_anon_and_service_role_keys(supabase_hs):
    iat = int(time.time())
    for role in ("anon", "service_role"):
        key = hs256_token({"iss": "supabase", "ref": "example-project", "role": role, "iat": iat, "exp": iat + 10**8})
        assert_refused(me(key))
    assert User.objects.count() == 0


def test_it_accepts_a_configured_audience(supabase_hs, settings):
    settings.SUPABASE_JWT_AUDIENCE = "extension"
    assert me(hs256_token(claims(aud="extension"))).status_code == 200
    assert_refused(me(hs256_token(claims(aud="authenticated"))), "audience")


def test_it_checks_the_issuer_only_when_configured(supabase_hs, settings):
    settings.SUPABASE_JWT_ISSUER = "https://example-project.supabase.co/auth/v1"
    assert me(hs256_token(claims())).status_code == 200
    assert_refused(me(hs256_token(claims(iss="https://other-project.supabase.co/auth/v1"))), "issuer")


def test_it_refuses_a_token_signed_with_another_secret(supabase_hs):
    assert_refused(me(hs256_token(claims(), secret="another-projects-secret-of-enough-length!!")), "signature")


def test_it_refuses_a_tampered_token(supabase_hs, alice):
    genuine = hs256_token(claims())
    header, _, signature = genuine.split(".")
    forged_payload = raw_token({"alg": "HS256"}, claims(alice.pk)).split(".")[1]
    assert_refused(me(f"{header}.{forged_payload}.{signature}"), "signature")


def test_it_refuses_alg_none(supabase_hs):
    assert_refused(me(raw_token({"alg": "none", "typ": "JWT"}, claims())), "'none'")
    assert_refused(me(raw_token({"alg": "None", "typ": "JWT"}, claims())), "not accepted")
    assert User.objects.count() == 0


@pytest.mark.parametrize("alg", ["HS384", "HS512", "RS512", "ES384", "PS256", "EdDSA"])
def test_it_refuses_algorithms_that_are_not_pinned(supabase_hs, alg):
    token = raw_token({"alg": alg, "typ": "JWT", "kid": "k"}, claims(), mac_key=HS_SECRET.encode())
    assert_refused(me(token), "not accepted")


def test_it_refuses_a_malformed_bearer_value(supabase_hs):
    for value in ("not-a-jwt", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30"):
        response = me(value)
        assert response.status_code == 401 and response.json()["success"] is False


def test_it_refuses_an_inactive_user(supabase_hs):
    sub = uuid.uuid4()
    assert me(hs256_token(claims(sub))).status_code == 200
    User.objects.filter(pk=sub).update(is_active=False)
    response = me(hs256_token(claims(sub)))
    assert response.status_code == 401 and "inactive" in response.json()["error"].lower()


# --- RS256 / ES256 via JWKS ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key_name", ["rs_key", "es_key"])
def test_it_accepts_asymmetric_tokens_from_the_jwks(supabase_jwks, request, key_name):
    key: SigningKey = request.getfixturevalue(key_name)
    sub = uuid.uuid4()
    response = me(key.token(claims(sub)))
    assert response.status_code == 200, response.content
    assert response.json()["user_id"] == str(sub)


def test_it_refuses_hs256_keyed_with_the_public_key(supabase_jwks, rs_key, es_key):
    # The classic confusion: alg switched to HS256 and the MAC keyed with the published public key.
    for key in (rs_key, es_key):
        pem = key.public_pem()
        assert_refused(me(raw_token({"alg": "HS256", "kid": key.kid}, claims(), mac_key=pem)), "HS256")
    assert User.objects.count() == 0


def test_it_refuses_hs256_keyed_with_the_public_key_even_with_a_secret_configured(supabase_jwks, settings, rs_key):
    settings.SUPABASE_JWT_SECRET = HS_SECRET
    token = raw_token({"alg": "HS256", "kid": rs_key.kid}, claims(), mac_key=rs_key.public_pem())
    assert_refused(me(token), "signature")


def test_it_refuses_a_token_whose_alg_does_not_match_its_key(supabase_jwks, rs_key, es_key):
    # An ES256 header naming the RSA key's kid: the key's type decides, not the header.
    token = es_key.token(claims(), kid=rs_key.kid)
    assert_refused(me(token), "not a ES256 key")


def test_it_refuses_a_token_signed_by_a_key_not_in_the_jwks(supabase_jwks, rs_key):
    impostor = SigningKey("RS256", kid=rs_key.kid)  # same kid, different key
    assert_refused(me(impostor.token(claims())), "signature")


def test_it_refuses_an_unknown_kid(supabase_jwks):
    stranger = SigningKey("ES256", kid="unknown-kid")
    assert_refused(me(stranger.token(claims())), "unknown-kid")


def test_it_refuses_a_token_without_kid(supabase_jwks, es_key):
    import jwt

    token = jwt.encode(claims(), es_key.private_key, algorithm="ES256")
    assert_refused(me(token), "kid")


def test_it_never_fetches_keys_from_urls_in_the_token(supabase_jwks, rs_key):
    other = SigningKey("RS256")
    from accounts.tests.supabase_fakes import JWKSServer

    attacker = JWKSServer([other])
    try:
        token = other.token(claims(), jku=attacker.url, x5u=attacker.url)
        assert_refused(me(token))
        assert attacker.fetches == 0
    finally:
        attacker.close()


@pytest.mark.parametrize("kind", ["status_500", "not_json", "no_keys", "timeout", "unreachable"])
def test_it_answers_401_not_500_when_the_jwks_cannot_be_fetched(supabase_jwks, settings, rs_key, kind):
    if kind == "status_500":
        supabase_jwks.status = 500
    elif kind == "not_json":
        supabase_jwks.document = b"<html>gateway error</html>"
    elif kind == "no_keys":
        supabase_jwks.document = {"error": "nope"}
    elif kind == "timeout":
        settings.SUPABASE_JWKS_TIMEOUT_SECONDS = 0.2
        supabase_jwks.delay = 1.0
    else:
        settings.SUPABASE_JWKS_URL = "http://127.0.0.1:9/jwks.json"
    response = me(rs_key.token(claims()))
    assert response.status_code == 401, response.content
    assert response.json()["success"] is False
    assert User.objects.count() == 0


def test_it_caches_the_jwks_and_refetches_on_an_unknown_kid(supabase_jwks, rs_key):
    assert me(rs_key.token(claims())).status_code == 200
    assert me(rs_key.token(claims())).status_code == 200
    assert supabase_jwks.fetches == 1

    rotated = SigningKey("ES256")
    supabase_jwks.publish(rs_key, rotated)
    assert me(rotated.token(claims())).status_code == 200  # new kid: one refetch, no waiting for expiry
    assert supabase_jwks.fetches == 2


def test_it_limits_refetches_caused_by_made_up_kids(supabase_jwks, settings, rs_key):
    settings.SUPABASE_JWKS_UNKNOWN_KID_COOLDOWN_SECONDS = 10
    assert me(rs_key.token(claims())).status_code == 200
    for i in range(5):
        assert_refused(me(rs_key.token(claims(), kid=f"made-up-{i}")))
    assert supabase_jwks.fetches == 2  # the first fetch, and one refetch for the first unknown kid
    assert me(rs_key.token(claims())).status_code == 200  # known keys keep working


def test_it_keeps_the_known_keys_when_an_unknown_kid_refetch_fails(supabase_jwks, rs_key):
    assert me(rs_key.token(claims())).status_code == 200
    supabase_jwks.status = 503
    assert_refused(me(rs_key.token(claims(), kid="rotated-in")), "could not be fetched")
    assert me(rs_key.token(claims())).status_code == 200


def test_it_keeps_keys_at_most_ten_minutes(supabase_jwks, settings, monkeypatch, rs_key):
    settings.SUPABASE_JWKS_CACHE_SECONDS = 3600  # asking for longer is capped at 600
    clock = [1000.0]
    monkeypatch.setattr(jwks.time, "monotonic", lambda: clock[0])

    assert me(rs_key.token(claims())).status_code == 200
    clock[0] += 599
    assert me(rs_key.token(claims())).status_code == 200
    assert supabase_jwks.fetches == 1

    clock[0] += 2  # 601 s after the fetch
    assert me(rs_key.token(claims())).status_code == 200
    assert supabase_jwks.fetches == 2


def test_it_stops_accepting_a_revoked_key_once_the_cache_expires(supabase_jwks, monkeypatch, rs_key, es_key):
    clock = [1000.0]
    monkeypatch.setattr(jwks.time, "monotonic", lambda: clock[0])
    assert me(rs_key.token(claims())).status_code == 200

    supabase_jwks.publish(es_key)  # rs_key revoked
    clock[0] += 601
    assert_refused(me(rs_key.token(claims())), rs_key.kid)


def test_it_does_not_serve_stale_keys_when_the_refetch_fails(supabase_jwks, monkeypatch, rs_key):
    clock = [1000.0]
    monkeypatch.setattr(jwks.time, "monotonic", lambda: clock[0])
    assert me(rs_key.token(claims())).status_code == 200

    supabase_jwks.status = 500
    clock[0] += 601
    assert_refused(me(rs_key.token(claims())), "could not be fetched")


def test_it_ignores_symmetric_and_unusable_keys_in_the_jwks(supabase_jwks, rs_key):
    supabase_jwks.document = {
        "keys": [
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"},
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            {**rs_key.jwk(), "use": "enc"},
            "not-an-object",
        ]
    }
    hmac_token = raw_token({"alg": "HS256", "kid": "hmac"}, claims(), mac_key=b"secret")
    assert_refused(me(hmac_token), "HS256")
    assert_refused(me(rs_key.token(claims())), rs_key.kid)


def test_it_refuses_a_jwks_url_that_is_not_http(settings, rs_key):
    settings.SUPABASE_JWKS_URL = "file:///etc/passwd"
    assert_refused(me(rs_key.token(claims())), "http(s)")


def test_it_provisions_even_if_someone_registered_the_uuid_as_a_username(supabase_hs):
    sub = uuid.uuid4()
    User.objects.create_user(username=str(sub), password="x")
    assert me(hs256_token(claims(sub, email="not an email"))).status_code == 200
    assert User.objects.get(pk=sub).username.startswith("user-")


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_requests_provision_one_user(supabase_hs):
    sub = uuid.uuid4()
    token = hs256_token(claims(sub))

    statuses = concurrently(6, lambda _: me(token).status_code)
    assert statuses == [200] * 6
    assert User.objects.filter(pk=sub).count() == 1
