"""accounts.services: where a person is signed in, and signing out there."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, Grant
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import selectors, services
from accounts.models import WebSession
from core.exceptions import NotFound

pytestmark = pytest.mark.django_db


def test_ending_sessions_finds_the_ones_never_recorded_too(alice, bob):
    recorded, unrecorded, bobs = Client(), Client(), Client()
    recorded.force_login(alice)
    recorded.get("/app/")  # the middleware records it
    unrecorded.force_login(alice)  # a session from before the recording began
    bobs.force_login(bob)
    assert WebSession.objects.filter(user=alice).count() == 1

    assert services.web_sessions_end(user=alice) == 2

    assert recorded.get("/app/").status_code == unrecorded.get("/app/").status_code == 302
    assert bobs.get("/app/").status_code == 200 and Session.objects.count() == 1


def test_it_keeps_the_session_it_is_asked_to_keep(alice):
    here, there = Client(), Client()
    here.force_login(alice)
    there.force_login(alice)
    services.web_sessions_end(user=alice, keep_session_key=here.session.session_key)
    assert here.get("/app/").status_code == 200 and there.get("/app/").status_code == 302


def test_refresh_tokens_listed_are_the_live_ones(alice, bob):
    live, revoked = RefreshToken.for_user(alice), RefreshToken.for_user(alice)
    revoked.blacklist()
    RefreshToken.for_user(bob)
    assert [t.jti for t in selectors.refresh_token_list(user=alice)] == [live["jti"]]


def test_revoking_is_for_my_own_sign_ins_only(alice, bob):
    bobs = RefreshToken.for_user(bob)
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    with pytest.raises(NotFound):
        services.refresh_token_revoke(user=alice, token_id=OutstandingToken.objects.get(jti=bobs["jti"]).pk)
    with pytest.raises(NotFound):
        services.web_session_revoke(user=alice, web_session_id=12345)


def test_revoking_all_refresh_tokens_twice_counts_each_once(alice):
    RefreshToken.for_user(alice)
    RefreshToken.for_user(alice)
    assert services.refresh_tokens_revoke_all(user=alice) == 2
    assert services.refresh_tokens_revoke_all(user=alice) == 0


def test_it_sweeps_expired_oauth_grants_tokens_sessions_and_their_rows(alice, bob, settings):
    now = timezone.now()
    app = Application.objects.create(
        name="Connector",
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://connector.example/cb",
    )

    def grant(code: str, expires: timedelta) -> Grant:
        return Grant.objects.create(
            user=alice, application=app, code=code, expires=now + expires, redirect_uri="https://connector.example/cb"
        )

    def token(value: str, expires: timedelta) -> AccessToken:
        return AccessToken.objects.create(user=alice, application=app, token=value, expires=now + expires)

    grant("old-code", -timedelta(minutes=5))
    grant("fresh-code", timedelta(minutes=1))
    token("old-token", -timedelta(days=1))
    token("live-token", timedelta(hours=1))
    stale, live = Client(), Client()
    stale.force_login(alice)
    live.force_login(bob)
    stale.get("/app/"), live.get("/app/")  # the middleware records both
    Session.objects.filter(session_key=stale.session.session_key).update(expire_date=now - timedelta(seconds=1))
    WebSession.objects.filter(user=alice).update(last_seen=now - timedelta(seconds=settings.SESSION_COOKIE_AGE + 1))

    swept = services.expired_sign_ins_swept(now=now)

    assert set(Grant.objects.values_list("code", flat=True)) == {"fresh-code"}
    assert [t.expires > now for t in AccessToken.objects.all()] == [True]
    assert swept.web_sessions == 1 and list(WebSession.objects.values_list("user", flat=True)) == [bob.pk]
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session.session_key]
    assert live.get("/app/").status_code == 200
