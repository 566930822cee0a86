"""The Django admin: users (tier, memory count, usage, last activity, export, purge), memories, metrics."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import LogEntry

from accounts.models import DailyUsage, Tier, User
from accounts.services import usage_consume
from dashboard.models import UserActivity
from memories.models import Chunk, Memory
from testkit import client_for

pytestmark = pytest.mark.django_db

ADMIN_PAGES = [
    "/admin/",
    "/admin/accounts/user/",
    "/admin/memories/memory/",
    "/admin/accounts/dailyusage/",
    "/admin/accounts/personalaccesstoken/",
    "/admin/dashboard/requestmetric/",
    "/admin/dashboard/useractivity/",
    "/admin/accounts/accountdeletion/",
]


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_anonymous_and_non_staff_users_are_sent_to_the_login(client, alice, url):
    assert client.get(url).status_code == 302
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_staff_can_open_every_admin_page(staff_client, seeded, url):
    assert staff_client.get(url).status_code == 200


def test_the_user_list_shows_memory_count_usage_today_and_last_activity(staff_client, seeded):
    alice = seeded["alice"]
    usage_consume(user=alice)
    usage_consume(user=alice)
    client_for(alice).get("/memories/")

    response = staff_client.get("/admin/accounts/user/", {"q": str(alice.pk)})

    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert [u.username for u in rows] == ["alice"]
    admin = response.context["cl"].model_admin
    assert admin.memory_count(rows[0]) == 3 == Memory.objects.filter(user=alice).count()
    assert admin.usage_today(rows[0]) == 2 == DailyUsage.objects.get(user=alice).count
    assert admin.last_active(rows[0]) == UserActivity.objects.get(user=alice).last_seen


@pytest.mark.parametrize("field", ["username", "email"])
def test_users_are_found_by_username_and_email(staff_client, seeded, field):
    bob = seeded["bob"]
    response = staff_client.get("/admin/accounts/user/", {"q": getattr(bob, field)})
    assert [u.username for u in response.context["cl"].result_list] == ["bob"]


def test_staff_change_a_users_tier_from_the_list(staff_client, seeded):
    alice = seeded["alice"]
    users = list(User.objects.order_by("username"))  # the change list's default order
    response = staff_client.get("/admin/accounts/user/")
    order = [u.pk for u in response.context["cl"].result_list]
    data = {"form-TOTAL_FORMS": len(order), "form-INITIAL_FORMS": len(order), "_save": "Save"}
    tiers = {u.pk: u.tier for u in users}
    for i, pk in enumerate(order):
        data[f"form-{i}-id"] = str(pk)
        data[f"form-{i}-tier"] = Tier.PRO if pk == alice.pk else tiers[pk]

    response = staff_client.post("/admin/accounts/user/", data)

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.tier == Tier.PRO


def test_export_action_downloads_the_users_memories_as_json(staff_client, seeded):
    alice = seeded["alice"]
    response = staff_client.post(
        "/admin/accounts/user/", {"action": "export_memories", "_selected_action": [str(alice.pk)]}
    )

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(f'attachment; filename="memories-{alice.pk}-')
    document = json.loads(b"".join(response.streaming_content))
    assert document["user_id"] == str(alice.pk) and document["count"] == 3
    assert {m["text"] for m in document["memories"]} == set(
        Memory.objects.filter(user=alice).values_list("text", flat=True)
    )
    assert "embedding" not in json.dumps(document)


def test_export_action_refuses_several_users(staff_client, seeded):
    ids = [str(seeded["alice"].pk), str(seeded["bob"].pk)]
    response = staff_client.post("/admin/accounts/user/", {"action": "export_memories", "_selected_action": ids})
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["Select exactly one user to export."]


def test_purge_asks_for_confirmation_first_and_then_deletes(staff_client, seeded):
    alice, bob = seeded["alice"], seeded["bob"]
    form = {"action": "purge_memories", "_selected_action": [str(alice.pk)]}

    confirm_page = staff_client.post("/admin/accounts/user/", form)

    assert confirm_page.status_code == 200
    assert "alice" in confirm_page.content.decode() and "3 memories" in confirm_page.content.decode()
    assert Memory.objects.filter(user=alice).count() == 3  # nothing deleted yet

    done = staff_client.post("/admin/accounts/user/", {**form, "confirm": "yes"})

    assert done.status_code == 302
    assert Memory.objects.filter(user=alice).count() == 0 and Chunk.objects.filter(user=alice).count() == 0
    assert Memory.objects.filter(user=bob).count() == 1  # only the selected user
    assert User.objects.filter(pk=alice.pk).exists()  # the account stays
    assert LogEntry.objects.filter(object_id=str(alice.pk), change_message="Purged 3 memories").exists()


def test_the_memory_list_filters_and_searches(staff_client, seeded):
    by_provider = staff_client.get("/admin/memories/memory/", {"provider": "claude"})
    by_text = staff_client.get("/admin/memories/memory/", {"q": "peanuts"})
    by_owner = staff_client.get("/admin/memories/memory/", {"q": str(seeded["bob"].pk)})

    assert {m.provider for m in by_provider.context["cl"].result_list} == {"claude"}
    assert len(by_provider.context["cl"].result_list) == 2
    assert [m.text for m in by_text.context["cl"].result_list] == ["I am allergic to peanuts."]
    assert [m.user.username for m in by_owner.context["cl"].result_list] == ["bob"]


def test_a_memory_page_shows_its_chunks_read_only_and_never_an_embedding(staff_client, seeded):
    memory = Memory.objects.get(text__startswith="I live in Lyon")
    response = staff_client.get(f"/admin/memories/memory/{memory.pk}/change/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "I live in Lyon and cycle to work." in html
    assert "embedding" not in html.lower()
    assert 'name="text"' not in html and 'name="chunks-0-text"' not in html  # nothing editable but these two
    assert 'name="priority"' in html and 'name="pinned"' in html
    assert staff_client.get("/admin/memories/memory/add/").status_code == 403


def test_deleting_a_memory_in_the_admin_removes_its_chunks(staff_client, seeded):
    memory = Memory.objects.get(text__startswith="I live in Lyon")
    response = staff_client.post(f"/admin/memories/memory/{memory.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Memory.objects.filter(pk=memory.pk).exists() and not Chunk.objects.filter(memory_id=memory.pk).exists()


def test_staff_list_and_revoke_tokens_and_never_see_their_hash(staff_client, alice):
    from accounts.models import PersonalAccessToken
    from accounts.services import access_token_create

    created = access_token_create(user=alice, name="Claude Desktop", scope="write")
    page = staff_client.get("/admin/accounts/personalaccesstoken/")
    assert created.token.prefix in page.content.decode() and created.token.token_hash not in page.content.decode()
    detail = staff_client.get(f"/admin/accounts/personalaccesstoken/{created.token.pk}/change/").content.decode()
    assert created.token.token_hash not in detail and created.secret not in detail

    answer = staff_client.post(
        "/admin/accounts/personalaccesstoken/",
        {"action": "revoke", "_selected_action": [created.token.pk]},
        follow=True,
    )

    assert answer.status_code == 200 and "Revoked 1 token(s)." in answer.content.decode()
    assert PersonalAccessToken.objects.get().revoked_at is not None


def test_staff_see_that_an_account_was_deleted_and_when_never_what_it_held(staff_client, alice):
    from accounts.models import AccountDeletion
    from memories.services import account_delete, account_user_ref

    account_delete(user=alice, via="api")
    listing = staff_client.get("/admin/accounts/accountdeletion/")
    html = listing.content.decode()
    assert listing.status_code == 200 and account_user_ref(alice.pk) in html
    assert str(alice.pk) not in html and "alice" not in html
    found = staff_client.get("/admin/accounts/accountdeletion/", {"q": str(alice.pk)}).content.decode()
    assert account_user_ref(alice.pk) in found  # an id someone holds can be checked
    row = AccountDeletion.objects.get()
    assert staff_client.get(f"/admin/accounts/accountdeletion/{row.pk}/delete/").status_code == 403
    assert staff_client.get("/admin/accounts/accountdeletion/add/").status_code == 403


def test_staff_deleting_a_user_delete_the_whole_account(staff_client, alice, bob):
    from django.test import Client
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    from accounts.models import AccountDeletion

    Client().post("/auth/token/", {"username": "alice", "password": "pw-alice"}, content_type="application/json")
    response = staff_client.post(f"/admin/accounts/user/{alice.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302 and not User.objects.filter(pk=alice.pk).exists()
    assert AccountDeletion.objects.get().via == "staff" and not OutstandingToken.objects.exists()
    assert not LogEntry.objects.filter(object_id=str(alice.pk)).exists()
    assert User.objects.filter(pk=bob.pk).exists()
