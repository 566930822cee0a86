"""The one-time web sign-in link: POST /auth/web-login-link (bearer token) -> GET /app/login/link/<token>."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from django.core import signing
from django.test import Client
from rest_framework.test import APIClient

from accounts import login_links
from accounts.models import User
from accounts.tests.supabase_fakes import HS_SECRET, claims, hs256_token
from core.logs import redact
from testkit import assert_error, client_for, make_user

pytestmark = pytest.mark.django_db


def _link(user: User) -> str:
    response = client_for(user).post("/auth/web-login-link")
    assert response.status_code == 200, response.content
    return response.json()["url"]


def _signed_in(client: Client) -> User | None:
    response = client.get("/app/")
    return response.context["user"] if response.status_code == 200 else None


def _refused(response, fragment: str) -> None:
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "Sign-in link refused" in response.content.decode()
    assert fragment in response.content.decode()


# --- The API ------------------------------------------------------------------------------------------------


def test_it_answers_a_relative_link_that_expires(alice_client):
    response = alice_client.post("/auth/web-login-link")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"url", "expires_in"} and body["expires_in"] == 300
    assert body["url"].startswith("/app/login/link/")
    token = body["url"].removeprefix("/app/login/link/")
    assert "/" not in token and login_links.login_link_owner(token=token) is not None


def test_it_is_served_under_api_v1_too(alice_client):
    response = alice_client.post("/api/v1/auth/web-login-link/")
    assert response.status_code == 200 and response.json()["url"].startswith("/app/login/link/")


def test_it_needs_a_bearer_token_and_post(anon_client, alice_client, alice):
    assert_error(anon_client.post("/auth/web-login-link"), 401, "Authentication required")
    assert_error(alice_client.get("/auth/web-login-link"), 405, "not allowed")
    session = APIClient()
    session.force_login(alice)  # the API never accepts the page's session cookie
    assert session.post("/auth/web-login-link").status_code == 401


def test_it_gives_staff_no_link(staff):
    assert_error(client_for(staff).post("/auth/web-login-link"), 403, "Staff accounts sign in")


def test_it_gives_a_supabase_account_a_link_that_signs_it_in(client, settings):
    settings.SUPABASE_JWT_SECRET = HS_SECRET
    sub = uuid.uuid4()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {hs256_token(claims(sub, email='sam@example.com'))}")
    response = api.post("/auth/web-login-link")
    assert response.status_code == 200
    person = User.objects.get(pk=sub)
    assert not person.has_usable_password()  # provisioned from the token: no password to type
    landed = client.get(response.json()["url"])
    assert landed.status_code == 302 and landed["Location"] == "/app/"
    assert _signed_in(client) == person


# --- Redeeming ----------------------------------------------------------------------------------------------


def test_it_signs_the_person_in_once(client, alice):
    url = _link(alice)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == "/app/"
    assert _signed_in(client) == alice
    alice.refresh_from_db()
    assert alice.last_login is not None
    again = Client()
    _refused(again.get(url), "already been used")
    assert _signed_in(again) is None


def test_it_needs_get(client, alice):
    url = _link(alice)
    assert client.post(url).status_code == 405
    assert client.get(url).status_code == 302  # the refused POST spent nothing


def test_it_refuses_an_expired_link(client, alice, monkeypatch):
    with monkeypatch.context() as m:
        issued = time.time() - 301
        m.setattr(time, "time", lambda: issued)  # what django.core.signing stamps
        url = _link(alice)
    _refused(client.get(url), "expired")
    assert _signed_in(client) is None


def test_it_honours_web_login_link_seconds(client, alice, settings, monkeypatch):
    settings.WEB_LOGIN_LINK_SECONDS = 3600
    with monkeypatch.context() as m:
        issued = time.time() - 301
        m.setattr(time, "time", lambda: issued)  # what django.core.signing stamps
        url = _link(alice)
    assert client.get(url).status_code == 302
    assert _signed_in(client) == alice


def test_it_refuses_a_link_issued_before_another_sign_in(client, alice):
    url = _link(alice)
    assert Client().post("/app/login/", {"login": "alice", "password": "pw-alice"}).status_code == 302
    _refused(client.get(url), "already been used")


def test_it_refuses_a_link_after_a_password_change(client, alice):
    url = _link(alice)
    alice.set_password("a-new-long-password")
    alice.save()
    _refused(client.get(url), "already been used")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the signature
        lambda t: t[:5] + ("x" if t[5] != "x" else "y") + t[6:],  # the payload
        lambda t: t.rsplit(":", 1)[0],  # cut short
        lambda t: "not-a-token",
        lambda t: signing.dumps({"u": t, "b": "x"}),  # signed with the secret, but not for this purpose
    ],
)
def test_it_refuses_a_tampered_link(client, alice, tamper):
    token = _link(alice).removeprefix("/app/login/link/")
    response = client.get(f"/app/login/link/{tamper(token)}")
    _refused(response, "not valid")
    assert _signed_in(client) is None
    assert client.get(f"/app/login/link/{token}").status_code == 302  # the genuine link still works


def test_it_refuses_a_link_naming_another_person(client, alice, bob):
    """A payload naming bob cannot be made without the secret; one signed with it but bound to alice's state
    does not match bob's."""
    token = signing.dumps({"u": str(bob.pk), "b": login_links._binding(alice)}, salt=login_links.SALT, compress=False)
    _refused(client.get(f"/app/login/link/{token}"), "already been used")
    assert _signed_in(client) is None


def test_it_refuses_to_switch_accounts_when_someone_else_is_signed_in(client, alice, bob):
    url = _link(alice)
    client.force_login(bob)
    _refused(client.get(url), "You are signed in as bob")
    assert _signed_in(client) == bob
    fresh = Client()
    assert fresh.get(url).status_code == 302  # the refused attempt did not spend alice's link
    assert _signed_in(fresh) == alice


def test_it_says_a_bad_link_is_bad_even_to_someone_signed_in(client, bob):
    client.force_login(bob)
    _refused(client.get("/app/login/link/garbage:abc:def"), "not valid")
    assert _signed_in(client) == bob


def test_it_just_goes_home_when_the_person_is_already_signed_in(client, alice):
    client.force_login(alice)  # a sign-in spends earlier links: this one is asked for afterwards
    url = _link(alice)
    assert client.get(url)["Location"] == "/app/"
    assert Client().get(url).status_code == 302  # still unspent


def test_it_refuses_an_inactive_or_deleted_account(client, alice):
    carol = make_user("carol")
    url_alice, url_carol = _link(alice), _link(carol)
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    carol.delete()
    _refused(client.get(url_alice), "cannot sign in with a link")
    _refused(client.get(url_carol), "cannot sign in with a link")
    assert _signed_in(client) is None


def test_it_refuses_a_link_for_someone_who_became_staff(client, alice):
    url = _link(alice)
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    _refused(client.get(url), "cannot sign in with a link")


def test_it_spends_the_link_the_service_redeems(alice):
    token = login_links.login_link_token(user=alice)
    assert login_links.login_link_redeem(token=token) == alice
    with pytest.raises(login_links.LoginLinkInvalid, match="already been used"):
        login_links.login_link_redeem(token=token)


def test_it_keeps_the_token_out_of_the_logs(client, alice, caplog):
    url = _link(alice)
    token = url.removeprefix("/app/login/link/")
    assert redact(f'"GET {url}?x=1 HTTP/1.1" 400') == '"GET /app/login/link/[REDACTED]?x=1 HTTP/1.1" 400'
    client.force_login(make_user("dave"))
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get(url).status_code == 400  # refused, still valid: Django logs the path of a 400
    assert caplog.records and all(token not in redact(record.getMessage()) for record in caplog.records)
