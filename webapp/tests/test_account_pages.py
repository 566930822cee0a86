"""Signing up, verifying the address, resetting and changing the password, and the account page: allauth's flows
as /app/ serves them (the browser walk-through is test_e2e_accounts.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple 9"


def _text(response) -> str:
    return response.content.decode()


def _link(message, pattern: str) -> str:
    found = re.search(rf"http://testserver(/app/{pattern}\S*)", message.body)
    assert found, message.body
    return found.group(1)


def _sign_up(client: Client, email: str = "carol@example.com", username: str = "") -> Any:
    return client.post(
        "/app/signup/", {"email": email, "username": username, "password1": PASSWORD, "password2": PASSWORD}
    )


def test_it_signs_up_with_an_email_address_and_derives_the_user_name(client):
    page = client.get("/app/signup/")
    assert page.status_code == 200 and "Create your Memory Layer account" in _text(page)
    response = _sign_up(client)
    assert response.status_code == 302
    user = User.objects.get(email="carol@example.com")
    assert user.username == "carol" and user.tier == "free" and user.check_password(PASSWORD)
    assert client.get("/app/").context["user"] == user  # optional verification: signed in at once
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["carol@example.com"]


def test_it_verifies_the_address_from_the_mail_by_a_post_not_a_get(client):
    _sign_up(client)
    confirm = _link(mail.outbox[0], "confirm-email/")
    assert not EmailAddress.objects.get(email="carol@example.com").verified
    page = client.get(confirm)  # a mail scanner's GET confirms nothing
    assert page.status_code == 200 and not EmailAddress.objects.get(email="carol@example.com").verified
    assert client.post(confirm).status_code == 302
    assert EmailAddress.objects.get(email="carol@example.com").verified


def test_with_mandatory_verification_nobody_gets_in_before_verifying(client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    response = _sign_up(client)
    assert response.status_code == 302 and "/confirm-email/" in response["Location"]
    assert client.get("/app/").status_code == 302
    signed_in = client.post("/app/login/", {"login": "carol@example.com", "password": PASSWORD})
    assert client.get("/app/").status_code == 302, signed_in
    client.post(_link(mail.outbox[0], "confirm-email/"))
    assert client.get("/app/").status_code == 200  # confirming signs the person in


def test_it_refuses_a_weak_password(client):
    weak = client.post("/app/signup/", {"email": "dan@example.com", "password1": "12345678", "password2": "12345678"})
    assert weak.status_code == 200 and "too common" in _text(weak)
    assert not User.objects.filter(email="dan@example.com").exists()


def test_with_mandatory_verification_a_taken_address_answers_like_a_new_one(client, alice, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    taken = _sign_up(client, email="alice@example.com")
    new = _sign_up(Client(), email="erin@example.com")
    # Enumeration prevention: the same answer as a new sign-up; the owner gets a mail saying so instead.
    assert taken.status_code == new.status_code == 302 and taken["Location"] == new["Location"]
    assert User.objects.filter(email__iexact="alice@example.com").count() == 1
    assert "already" in mail.outbox[0].body and mail.outbox[0].to == ["alice@example.com"]


def test_a_password_reset_answers_the_same_for_known_and_unknown_addresses(client, alice):
    known = client.post("/app/password/reset/", {"email": "alice@example.com"})
    unknown = client.post("/app/password/reset/", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert [m.to for m in mail.outbox] == [["alice@example.com"], ["nobody@example.com"]]
    assert "/app/password/reset/key/" not in mail.outbox[1].body  # the stranger's mail holds no reset link


def test_a_reset_by_email_sets_the_password_and_signs_out_everywhere(client, alice, anon_client):
    elsewhere = Client()
    elsewhere.post("/app/login/", {"login": "alice", "password": "pw-alice"})
    refresh = anon_client.post("/auth/token/", {"username": "alice", "password": "pw-alice"}, format="json").json()
    client.post("/app/password/reset/", {"email": "alice@example.com"})
    form = client.get(_link(mail.outbox[0], "password/reset/key/"), follow=True)
    response = client.post(form.redirect_chain[-1][0], {"password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
    assert elsewhere.get("/app/").status_code == 302  # the other browser's session ended
    refused = anon_client.post("/auth/token/refresh/", {"refresh": refresh["refresh"]}, format="json")
    assert refused.status_code == 401  # the extension's sign-in too
    assert (
        BlacklistedToken.objects.filter(token__user=alice).count()
        == OutstandingToken.objects.filter(user=alice).count()
    )


def test_changing_the_password_needs_the_old_one_and_revokes_the_extension(alice, anon_client):
    web = Client()
    web.post("/app/login/", {"login": "alice", "password": "pw-alice"})
    refresh = anon_client.post("/auth/token/", {"username": "alice", "password": "pw-alice"}, format="json").json()
    wrong = web.post("/app/password/change/", {"oldpassword": "nope", "password1": PASSWORD, "password2": PASSWORD})
    assert wrong.status_code == 200 and not User.objects.get(pk=alice.pk).check_password(PASSWORD)
    done = web.post("/app/password/change/", {"oldpassword": "pw-alice", "password1": PASSWORD, "password2": PASSWORD})
    assert done.status_code == 302 and User.objects.get(pk=alice.pk).check_password(PASSWORD)
    assert anon_client.post("/auth/token/refresh/", {"refresh": refresh["refresh"]}, format="json").status_code == 401
    new = anon_client.post("/auth/token/", {"username": "alice", "password": PASSWORD}, format="json")
    assert new.status_code == 200


def test_it_limits_sign_ups_and_reset_mails(client, alice, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "1/m/ip", "reset_password": "1/m/ip"}
    assert _sign_up(client, email="e1@example.com").status_code == 302
    assert _sign_up(Client(), email="e2@example.com").status_code == 429
    assert not User.objects.filter(email="e2@example.com").exists()
    assert client.post("/app/password/reset/", {"email": "alice@example.com"}).status_code == 302
    assert client.post("/app/password/reset/", {"email": "alice@example.com"}).status_code == 429


def test_the_account_page_shows_email_password_and_two_factor(web, alice):
    response = web.get("/app/account/")
    assert response.status_code == 200
    text = _text(response)
    for section in ("account-email", "account-password", "account-two-factor"):
        assert f'id="{section}"' in text
    assert "Turn on two-factor sign-in" in text and "/app/2fa/" in text
    assert "Content-Security-Policy" in response and "no-store" in response["Cache-Control"]


def test_the_account_pages_never_name_an_endpoint(client, web):
    for page in ("/app/login/", "/app/signup/", "/app/password/reset/"):
        text = _text(client.get(page))
        assert "/auth/" not in text and "POST " not in text, page
    for page in ("/app/account/", "/app/password/change/", "/app/2fa/", "/app/reauthenticate/"):
        response = web.get(page)
        assert response.status_code == 200, page
        assert "/auth/" not in _text(response) and "POST " not in _text(response), page


@pytest.mark.parametrize("page", ["/app/account/", "/app/password/change/", "/app/2fa/"])
def test_anonymous_people_are_sent_to_sign_in(client, page):
    response = client.get(page)
    assert response.status_code == 302 and response["Location"].startswith("/app/login/")


def test_staff_sign_in_to_the_admin_through_the_same_page_and_second_factor(client, staff):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"] == "/app/login/?next=%2Fadmin%2F"
    signed_in = client.post("/app/login/?next=/admin/", {"login": "staff", "password": "pw-staff"})
    assert signed_in["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_admin_login_refuses_a_signed_in_person_who_is_not_staff(web):
    assert web.get("/admin/login/").status_code == 403
