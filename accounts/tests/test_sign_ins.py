"""accounts.services: where a person is signed in, and signing out there."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
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
