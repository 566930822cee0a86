"""/app/account/sessions/ (where you're signed in) and /app/account/delete/ (deleting the account)."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import services
from accounts.models import AccountDeletion, PersonalAccessToken, User, WebSession
from memories.models import Memory
from memories.tests.factories import save

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0"
PHONE = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Mobile Safari/537.36"


def signed_in(user: User, user_agent: str = FIREFOX, *, csrf: bool = False) -> Client:
    """A browser that signed in through the form (so the session is recorded as a real sign-in is)."""
    browser = Client(HTTP_USER_AGENT=user_agent, enforce_csrf_checks=csrf)
    if csrf:
        browser.get("/app/login/")
        token = browser.cookies["csrftoken"].value
        response = browser.post(
            "/app/login/",
            {"login": user.username, "password": f"pw-{user.username}", "csrfmiddlewaretoken": token},
        )
    else:
        response = browser.post("/app/login/", {"login": user.username, "password": f"pw-{user.username}"})
    assert response.status_code == 302
    return browser


def extension_sign_in(user: User) -> dict:
    response = Client().post(
        "/auth/token/", {"username": user.username, "password": f"pw-{user.username}"}, content_type="application/json"
    )
    assert response.status_code == 200
    return response.json()


def test_anonymous_people_are_sent_to_the_login_page(client):
    for response in (
        client.get("/app/account/sessions/"),
        client.get("/app/account/delete/"),
        client.post("/app/account/sessions/everywhere"),
        client.post("/app/account/sessions/web/1/revoke"),
        client.post("/app/account/sessions/extension/1/revoke"),
        client.post("/app/account/sessions/tokens/1/revoke"),
        client.post("/app/account/delete/", {"confirm": "alice"}),
    ):
        assert response.status_code == 302 and response["Location"].startswith("/app/login/")


def test_it_lists_my_browsers_extension_sign_ins_and_tokens_and_none_of_bobs(alice, bob):
    here = signed_in(alice)
    signed_in(alice, PHONE)
    signed_in(bob)
    extension_sign_in(alice)
    extension_sign_in(bob)
    services.access_token_create(user=alice, name="Claude Desktop")
    services.access_token_create(user=bob, name="bobs script")

    page = here.get("/app/account/sessions/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Firefox on Windows" in html and "Chrome on Android" in html and "this browser" in html
    assert html.count("data-web-session=") == 2 and html.count("data-extension-sign-in=") == 1
    assert "Claude Desktop" in html and "bobs script" not in html
    assert "Connected apps" in html and "/auth/" not in html  # people's words, not endpoints
    assert page["Content-Security-Policy"].startswith("default-src 'none'") and "no-store" in page["Cache-Control"]


def test_the_middleware_records_a_sign_in_once_a_minute_and_forgets_it_at_sign_out(alice):
    browser = signed_in(alice)
    record = WebSession.objects.get(user=alice)
    assert record.user_agent == FIREFOX and record.created_at == record.last_seen
    browser.get("/app/")
    assert WebSession.objects.get().last_seen == record.last_seen  # within the minute: no write

    browser.post("/app/logout/")

    assert not WebSession.objects.exists()


def test_revoking_a_browser_signs_it_out(alice):
    here, phone = signed_in(alice), signed_in(alice, PHONE)
    other = WebSession.objects.get(user_agent=PHONE)

    response = here.post(f"/app/account/sessions/web/{other.pk}/revoke", follow=True)

    assert response.status_code == 200 and "Signed out Chrome on Android" in response.content.decode()
    assert not Session.objects.filter(session_key=other.session_key).exists()
    assert phone.get("/app/").status_code == 302  # back to the sign-in page
    assert here.get("/app/").status_code == 200


def test_revoking_this_browser_signs_me_out(alice):
    here = signed_in(alice)
    mine = WebSession.objects.get()
    response = here.post(f"/app/account/sessions/web/{mine.pk}/revoke")
    assert response.status_code == 302 and response["Location"].startswith("/app/login/")
    assert here.get("/app/").status_code == 302


def test_revoking_an_extension_sign_in_stops_its_refresh_and_keeps_the_others(alice):
    first, second = extension_sign_in(alice), extension_sign_in(alice)
    token = OutstandingToken.objects.get(token=first["refresh"])

    response = signed_in(alice).post(f"/app/account/sessions/extension/{token.pk}/revoke", follow=True)

    assert response.status_code == 200 and "Signed out" in response.content.decode()
    refresh = Client().post("/auth/token/refresh/", {"refresh": first["refresh"]}, content_type="application/json")
    assert refresh.status_code == 401 and refresh.json()["success"] is False
    still = Client().post("/auth/token/refresh/", {"refresh": second["refresh"]}, content_type="application/json")
    assert still.status_code == 200 and "access" in still.json()


def test_revoking_an_access_token_from_here(alice):
    token = services.access_token_create(user=alice, name="script").token
    response = signed_in(alice).post(f"/app/account/sessions/tokens/{token.pk}/revoke", follow=True)
    assert response.status_code == 200 and "Revoked “script”" in response.content.decode()
    assert PersonalAccessToken.objects.get().revoked_at is not None


def test_another_persons_ids_are_not_found_and_stay_as_they_are(alice, bob):
    signed_in(bob)
    bobs_session = WebSession.objects.get(user=bob)
    extension_sign_in(bob)
    bobs_refresh = OutstandingToken.objects.get(user=bob)
    bobs_token = services.access_token_create(user=bob, name="bobs").token
    mine = signed_in(alice)

    for path in (
        f"/app/account/sessions/web/{bobs_session.pk}/revoke",
        f"/app/account/sessions/extension/{bobs_refresh.pk}/revoke",
        f"/app/account/sessions/tokens/{bobs_token.pk}/revoke",
        "/app/account/sessions/web/999999/revoke",
    ):
        assert mine.post(path).status_code == 404, path

    assert Session.objects.filter(session_key=bobs_session.session_key).exists()
    assert not BlacklistedToken.objects.exists()
    assert PersonalAccessToken.objects.get().revoked_at is None


def test_wrong_methods_are_refused(alice):
    browser = signed_in(alice)
    assert browser.post("/app/account/sessions/").status_code == 405
    assert browser.get("/app/account/sessions/everywhere").status_code == 405
    assert browser.get("/app/account/sessions/web/1/revoke").status_code == 405
    assert browser.put("/app/account/delete/").status_code == 405


@pytest.mark.parametrize("with_tokens", [False, True])
def test_sign_out_everywhere_keeps_this_browser(alice, bob, with_tokens):
    here, phone = signed_in(alice), signed_in(alice, PHONE)
    bobs = signed_in(bob)
    extension_sign_in(alice)
    services.access_token_create(user=alice, name="script")

    form = {"access_tokens": "on"} if with_tokens else {}
    response = here.post("/app/account/sessions/everywhere", form, follow=True)

    assert response.status_code == 200 and "Signed out everywhere else: 1 browser(s), 1 extension" in (
        response.content.decode()
    )
    assert here.get("/app/").status_code == 200 and phone.get("/app/").status_code == 302
    assert bobs.get("/app/").status_code == 200
    assert BlacklistedToken.objects.filter(token__user=alice).count() == 1
    assert (PersonalAccessToken.objects.get().revoked_at is None) is not with_tokens


def test_the_forms_need_their_csrf_token(alice):
    browser = signed_in(alice, csrf=True)
    other = signed_in(alice, PHONE)
    record = WebSession.objects.get(user_agent=PHONE)
    assert browser.post(f"/app/account/sessions/web/{record.pk}/revoke").status_code == 403
    assert browser.post("/app/account/sessions/everywhere").status_code == 403
    assert browser.post("/app/account/delete/", {"confirm": alice.username, "password": "pw-alice"}).status_code == 403
    assert other.get("/app/").status_code == 200 and User.objects.filter(pk=alice.pk).exists()


# --- Deleting the account ---------------------------------------------------------------------------------


def test_the_delete_page_asks_for_my_user_name_and_password(alice):
    page = signed_in(alice).get("/app/account/delete/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Type your user name to confirm" in html and 'name="password"' in html and 'name="code"' not in html


def test_it_deletes_my_account_and_signs_me_out_everywhere(alice, bob):
    save(alice, "I live in Lyon.")
    save(bob, "Bob lives in Ghent.")
    here, phone, bobs = signed_in(alice), signed_in(alice, PHONE), signed_in(bob)

    response = here.post("/app/account/delete/", {"confirm": alice.username, "password": "pw-alice"})

    assert response.status_code == 200 and "Your account is deleted" in response.content.decode()
    assert not User.objects.filter(pk=alice.pk).exists() and not Memory.objects.filter(user_id=alice.pk).exists()
    assert AccountDeletion.objects.get().via == "web"
    assert here.get("/app/").status_code == 302 and phone.get("/app/").status_code == 302
    assert bobs.get("/app/").status_code == 200 and Memory.objects.filter(user=bob).count() == 1


@pytest.mark.parametrize(
    ("form", "status", "says"),
    [
        ({"confirm": "DELETE", "password": "pw-alice"}, 400, "Type your user name"),
        ({"confirm": "", "password": "pw-alice"}, 400, "required"),
        ({"confirm": "alice", "password": ""}, 400, "required"),
        ({"confirm": "alice", "password": "wrong"}, 403, "not your password"),
    ],
)
def test_it_refuses_without_the_right_confirmation_or_password(alice, form, status, says):
    response = signed_in(alice).post("/app/account/delete/", form)
    assert response.status_code == status and says in response.content.decode()
    assert User.objects.filter(pk=alice.pk).exists() and not AccountDeletion.objects.exists()


def test_with_two_factor_on_the_form_asks_for_a_code(alice, monkeypatch):
    from webapp import account_views

    monkeypatch.setattr(account_views, "second_factor_required", lambda *, user: True)
    monkeypatch.setattr(services, "second_factor_required", lambda *, user: True)
    monkeypatch.setattr(services, "second_factor_verify", lambda *, user, code: code == "123456")
    browser = signed_in(alice)
    assert 'name="code"' in browser.get("/app/account/delete/").content.decode()
    form = {"confirm": "alice", "password": "pw-alice"}

    assert browser.post("/app/account/delete/", form).status_code == 400
    assert browser.post("/app/account/delete/", {**form, "code": "000000"}).status_code == 403
    assert User.objects.filter(pk=alice.pk).exists()
    assert browser.post("/app/account/delete/", {**form, "code": "123456"}).status_code == 200
    assert not User.objects.filter(pk=alice.pk).exists()


def test_an_account_without_a_password_types_its_name_only(alice):
    alice.set_unusable_password()
    alice.save()
    browser = Client()
    browser.force_login(alice)
    assert 'name="password"' not in browser.get("/app/account/delete/").content.decode()
    assert browser.post("/app/account/delete/", {"confirm": "alice"}).status_code == 200
    assert not User.objects.filter(pk=alice.pk).exists()


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        (FIREFOX, "Firefox on Windows"),
        (PHONE, "Chrome on Android"),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15",
            "Safari on macOS",
        ),
        ("Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/140.0 Safari/537.36 Edg/140.0", "Edge on Windows"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/140.0 Safari/537.36",
            "Chrome (headless) on Linux",
        ),
        ("curl/8.5.0", "An unknown browser"),
        ("", "An unknown browser"),
    ],
)
def test_devices_are_named_in_peoples_words(user_agent, device):
    from webapp.selectors import device_of

    assert device_of(user_agent) == device
