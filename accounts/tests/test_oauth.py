"""The authorization server (django-oauth-toolkit, narrowed by accounts.oauth): registration, metadata, the code
exchange's refusals, and OAuth access tokens on the API under the personal tokens' scope rules."""

from __future__ import annotations

import pytest
from django.test import Client
from oauth2_provider.models import Application

from accounts.models import AppConnection
from accounts.oauth import redirect_uri_allowed
from testkit import assert_error
from testkit import oauth as dance
from testkit.oauth import bearer, signed_in

pytestmark = pytest.mark.django_db


# --- Registration (RFC 7591) ---------------------------------------------------------------------------------


def test_it_registers_a_public_client_without_signing_in():
    answer = dance.register(Client(), name="Claude")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["redirect_uris"] == [dance.REDIRECT_URI]
    assert body["token_endpoint_auth_method"] == "none" and "client_secret" not in body
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    app = Application.objects.get(client_id=body["client_id"])
    assert app.name == "Claude" and app.client_type == "public" and app.user is None


@pytest.mark.parametrize(
    ("uri", "allowed"),
    [
        ("https://claude.ai/api/mcp/auth_callback", True),
        ("https://chatgpt.com/connector_platform_oauth_redirect", True),
        ("http://127.0.0.1:33418/callback", True),
        ("http://localhost:8765/cb", True),
        ("http://[::1]:9000/cb", True),
        ("http://evil.example/cb", False),
        ("https://claude.ai/cb#fragment", False),
        ("javascript:alert(1)", False),
        ("myapp://callback", False),
    ],
)
def test_it_allows_redirect_uris_on_https_or_loopback_only(uri, allowed):
    assert redirect_uri_allowed(uri) is allowed


def test_it_refuses_a_registration_with_a_plain_http_redirect_uri():
    answer = dance.register(Client(), redirect_uri="http://evil.example/callback")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_redirect_uri"
    assert not Application.objects.exists()


@pytest.mark.parametrize(
    "extra",
    [
        {"grant_types": ["client_credentials"]},
        {"grant_types": ["authorization_code", "password"]},
        {"response_types": ["token"]},
        {"redirect_uris": []},
    ],
)
def test_it_refuses_registrations_beyond_the_authorization_code_grant(extra):
    answer = dance.register(Client(), **extra)
    assert answer.status_code == 400
    assert answer.json()["error"] in ("invalid_client_metadata", "invalid_redirect_uri")
    assert not Application.objects.exists()


def test_it_refuses_a_registration_body_that_is_not_json():
    answer = Client().post("/oauth/register/", "{nope", content_type="application/json")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_client_metadata"


# --- Metadata (RFC 8414, RFC 9728) ---------------------------------------------------------------------------


def test_it_publishes_authorization_server_metadata_with_s256_only():
    body = Client().get("/.well-known/oauth-authorization-server").json()
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert body["response_types_supported"] == ["code"]
    assert body["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert body["token_endpoint"] == "http://testserver/oauth/token/"
    assert body["revocation_endpoint"] == "http://testserver/oauth/revoke/"
    assert body["scopes_supported"] == ["read", "write"]
    assert "none" in body["token_endpoint_auth_methods_supported"]
    assert body["authorization_response_iss_parameter_supported"] is True


def test_it_publishes_protected_resource_metadata_for_the_origin_and_for_mcp():
    root = Client().get("/.well-known/oauth-protected-resource").json()
    assert root["resource"] == "http://testserver"
    assert root["scopes_supported"] == ["read", "write"] and root["bearer_methods_supported"] == ["header"]
    assert Client().get("/.well-known/oauth-protected-resource/mcp").json()["resource"] == "http://testserver/mcp"
    assert Client().get("/.well-known/oauth-protected-resource/elsewhere").status_code == 404


# --- Authorization and the code exchange ---------------------------------------------------------------------


def test_it_sends_a_person_who_is_not_signed_in_to_sign_in_first():
    cid = dance.client_id(Client())
    answer = Client().get(dance.authorize_url(cid, dance.pkce().challenge))
    assert answer.status_code == 302 and answer["Location"].startswith("/app/login/?next=")


def test_it_refuses_an_authorization_without_pkce_or_with_the_plain_method(alice):
    browser, cid = signed_in(alice), dance.client_id(Client())
    plain = browser.get(dance.authorize_url(cid, "a" * 43, method="plain"))
    assert plain.status_code == 302 and "error=invalid_request" in plain["Location"]
    no_pkce = browser.get(dance.authorize_url(cid, "").replace("code_challenge=&", ""))
    assert no_pkce.status_code == 302 and "error=invalid_request" in no_pkce["Location"]
    assert not AppConnection.objects.exists()


def test_it_refuses_a_redirect_uri_that_was_not_registered(alice):
    cid = dance.client_id(Client())
    answer = signed_in(alice).get(
        dance.authorize_url(cid, dance.pkce().challenge, redirect_uri="https://evil.example/cb")
    )
    assert answer.status_code == 400  # never redirected to an unregistered address
    assert "evil.example" not in answer.get("Location", "")


def test_it_refuses_the_wrong_verifier(alice):
    client, cid, pair = Client(), dance.client_id(Client()), dance.pkce()
    code = dance.code_of(dance.consent(signed_in(alice), dance.authorize_url(cid, pair.challenge)))
    answer = dance.exchange(client, cid, code, dance.pkce().verifier)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_it_refuses_a_code_used_twice(alice):
    client, cid, pair = Client(), dance.client_id(Client()), dance.pkce()
    code = dance.code_of(dance.consent(signed_in(alice), dance.authorize_url(cid, pair.challenge)))
    assert dance.exchange(client, cid, code, pair.verifier).status_code == 200
    again = dance.exchange(client, cid, code, pair.verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_it_refuses_a_code_exchanged_with_another_redirect_uri(alice):
    client, pair = Client(), dance.pkce()
    cid = dance.client_id(client)
    code = dance.code_of(dance.consent(signed_in(alice), dance.authorize_url(cid, pair.challenge)))
    answer = dance.exchange(client, cid, code, pair.verifier, redirect_uri="http://127.0.0.1:9/other")
    assert answer.status_code == 400 and answer.json()["error"] in ("invalid_grant", "invalid_request")


def test_it_refuses_another_apps_code(alice):
    client, pair = Client(), dance.pkce()
    cid = dance.client_id(client)
    other = dance.client_id(client, name="Another app")
    code = dance.code_of(dance.consent(signed_in(alice), dance.authorize_url(cid, pair.challenge)))
    answer = dance.exchange(client, other, code, pair.verifier)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_it_sends_a_refusal_back_to_the_app_when_the_person_denies(alice):
    cid, pair = dance.client_id(Client()), dance.pkce()
    answer = dance.consent(signed_in(alice), dance.authorize_url(cid, pair.challenge), allow=False)
    assert answer.status_code == 302 and "error=access_denied" in answer["Location"]
    assert not AppConnection.objects.exists()


# --- OAuth access tokens on the API ---------------------------------------------------------------------------


def test_it_refuses_an_oauth_token_on_token_management(alice):
    app = dance.connect(Client(), signed_in(alice), access="write")
    answer = bearer(app.access_token).get("/me/tokens")  # takes the person's own sign-in (a JWT) only
    assert answer.status_code in (401, 403) and answer.json()["success"] is False


def test_it_refuses_a_registration_access_token_as_access_to_memories():
    body = dance.register(Client()).json()
    assert_error(bearer(body["registration_access_token"]).get("/memories/"), 401, "unknown access token")


def test_it_refuses_an_unknown_oauth_token():
    assert_error(bearer("n0tAT0kenAtAll1234567890abcdef").get("/memories/"), 401, "unknown access token")


def test_it_tells_a_client_whose_registration_is_gone_to_register_again(alice):
    client = Client()
    app = dance.connect(client, signed_in(alice))
    Application.objects.filter(client_id=app.client_id).delete()  # e.g. removed by staff in the admin
    answer = dance.refresh(client, app.client_id, app.refresh_token)
    # Claude re-registers on a 401 invalid_client from the token endpoint (RFC 6749 §5.2)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    assert not AppConnection.objects.exists()  # the consent went with the app


def test_it_holds_registrations_from_one_address_to_the_sign_in_pace(settings):
    settings.RATELIMIT_AUTH_RATE = "2/m"
    client = Client()
    assert [dance.register(client).status_code for _ in range(2)] == [201, 201]
    limited = dance.register(client)
    assert limited.status_code == 429 and limited.json()["error"] == "temporarily_unavailable"
    assert int(limited["Retry-After"]) >= 1
    assert Application.objects.count() == 2
