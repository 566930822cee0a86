"""The consent page (/app/oauth/authorize/) and the connected apps on "Where you're signed in"."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import AppConnection
from testkit import oauth as dance
from testkit.oauth import signed_in

pytestmark = pytest.mark.django_db


def test_it_shows_which_app_asks_and_what_it_may_do(alice):
    cid = dance.client_id(Client(), name="Claude")
    page = signed_in(alice).get(dance.authorize_url(cid, dance.pkce().challenge))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Connect “Claude” to your memories?" in html
    assert "Read: search and list your memories" in html and "Read and write" in html
    assert 'value="write"' in html and "checked" in html  # what the app asked for, preselected
    assert "127.0.0.1:33418" in html  # where the person goes next
    assert "csrfmiddlewaretoken" in html and "<script>" not in html
    policy = page["Content-Security-Policy"]
    assert "form-action 'self' http://127.0.0.1:33418" in policy and "script-src 'self'" in policy
    assert "no-cache" in page["Cache-Control"] or "max-age=0" in page["Cache-Control"]


def test_it_preselects_read_when_the_app_asks_only_to_read(alice):
    cid = dance.client_id(Client())
    page = signed_in(alice).get(dance.authorize_url(cid, dance.pkce().challenge, scope="read"))
    assert page.context["form"]["access"].value() == "read"


def test_it_records_the_persons_choice_not_the_apps_request(alice):
    cid = dance.client_id(Client())
    pair = dance.pkce()
    dance.code_of(dance.consent(signed_in(alice), dance.authorize_url(cid, pair.challenge), access="read"))
    connection = AppConnection.objects.get(user=alice)
    assert connection.scope == "read" and connection.application.client_id == cid


def test_it_refuses_the_consent_post_without_csrf(alice):
    cid, pair = dance.client_id(Client()), dance.pkce()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    page = strict.get(dance.authorize_url(cid, pair.challenge))
    fields = {**dance.consent_fields(page), "allow": "on"}
    fields.pop("csrfmiddlewaretoken", None)
    assert strict.post("/app/oauth/authorize/", fields).status_code == 403
    assert not AppConnection.objects.exists()


def test_it_explains_an_unknown_app_without_redirecting(alice):
    page = signed_in(alice).get(dance.authorize_url("no-such-client", dance.pkce().challenge))
    assert page.status_code in (400, 401)
    assert "This app cannot connect" in page.content.decode()


def test_it_lists_connected_apps_beside_sessions_and_tokens(alice, bob):
    dance.connect(Client(), signed_in(alice), access="read", name="ChatGPT")
    page = signed_in(alice).get("/app/account/sessions/").content.decode()
    assert "ChatGPT (read; Personal)" in page and "Disconnect" in page
    assert "No apps are connected" in signed_in(bob).get("/app/account/sessions/").content.decode()


def test_it_disconnects_an_app_and_says_so(alice):
    dance.connect(Client(), signed_in(alice), name="ChatGPT")
    browser = signed_in(alice)
    connection = AppConnection.objects.get(user=alice)
    answer = browser.post(f"/app/account/sessions/apps/{connection.pk}/revoke", follow=True)
    assert "Disconnected “ChatGPT”" in answer.content.decode()
    assert not AppConnection.objects.exists()
    assert browser.get(f"/app/account/sessions/apps/{connection.pk}/revoke").status_code == 405
    assert browser.post(f"/app/account/sessions/apps/{connection.pk}/revoke").status_code == 404


def test_it_lets_the_person_choose_the_spaces_the_app_may_use(alice):
    from accounts.services import space_create, space_default

    personal, work = space_default(user=alice), space_create(user=alice, name="Work")
    cid, pair = dance.client_id(Client()), dance.pkce()
    page = signed_in(alice).get(dance.authorize_url(cid, pair.challenge))
    html = page.content.decode()
    assert "Personal (your default)" in html and "Work" in html
    assert page.context["form"]["spaces"].value() == [str(personal.pk)]  # the default space, preselected
    dance.code_of(dance.consent(signed_in(alice), dance.authorize_url(cid, pair.challenge), spaces=[work.pk]))
    assert list(AppConnection.objects.get(user=alice).spaces.all()) == [work]


def test_it_refuses_another_persons_space_or_none_on_the_consent_page(alice, bob):
    from accounts.services import space_default

    bobs = space_default(user=bob)
    cid, pair = dance.client_id(Client()), dance.pkce()
    for spaces in ([bobs.pk], []):
        answer = dance.consent(signed_in(alice), dance.authorize_url(cid, pair.challenge), spaces=spaces)
        assert answer.status_code == 200 and "spaces" in answer.context["form"].errors  # the page again, no code
    assert not AppConnection.objects.exists()
