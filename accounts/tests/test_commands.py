from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from core.exceptions import InvalidInput

pytestmark = pytest.mark.django_db


def set_tier(*args: str) -> str:
    out = io.StringIO()
    call_command("set_tier", *args, stdout=out)
    return out.getvalue()


def test_it_sets_the_tier_by_username(alice):
    assert set_tier("alice", "pro").strip() == f"alice ({alice.pk}): free -> pro"
    alice.refresh_from_db()
    assert alice.tier == "pro"


def test_it_sets_the_tier_by_uuid(alice):
    set_tier(str(alice.pk).upper(), "enterprise")
    alice.refresh_from_db()
    assert alice.tier == "enterprise"


def test_it_finds_a_username_that_looks_like_a_uuid():
    name = "11111111-2222-3333-4444-555555555555"
    user = User.objects.create_user(username=name, password="x")
    set_tier(name, "pro")
    user.refresh_from_db()
    assert user.tier == "pro"


def test_it_refuses_an_unknown_user():
    with pytest.raises(CommandError, match="No user"):
        set_tier("nobody", "pro")


def test_it_refuses_an_unknown_tier(alice):
    with pytest.raises(CommandError, match="invalid choice"):
        set_tier("alice", "platinum")
    alice.refresh_from_db()
    assert alice.tier == "free"


def test_the_service_refuses_an_unknown_tier(alice):
    from accounts import services

    with pytest.raises(InvalidInput, match="Unknown tier"):
        services.user_set_tier(user=alice, tier="gold")


def test_staff_change_the_tier_in_the_admin(alice, staff, client):
    client.force_login(staff)
    url = f"/admin/accounts/user/{alice.pk}/change/"
    form = client.get(url)
    assert form.status_code == 200 and b'name="tier"' in form.content

    data = {
        "username": "alice",
        "email": alice.email,
        "tier": "pro",
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content[:2000]
    alice.refresh_from_db()
    assert alice.tier == "pro"


def test_a_user_who_is_not_staff_cannot_open_the_admin(alice, client):
    client.force_login(alice)
    response = client.get(f"/admin/accounts/user/{alice.pk}/change/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_admin_shows_usage_read_only(alice, alice_client, staff, client):
    alice_client.get(f"/context/{alice.pk}", {"query": "x"})
    client.force_login(staff)
    page = client.get("/admin/accounts/dailyusage/")
    assert page.status_code == 200 and b"alice" in page.content
    assert client.get("/admin/accounts/dailyusage/add/").status_code == 403
