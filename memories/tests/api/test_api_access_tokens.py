"""Personal access tokens on the memory endpoints: their scope, their person, the daily quota."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts import services
from accounts.models import DailyUsage, TokenScope
from memories import services as memory_services
from memories.models import Memory
from testkit import assert_error

pytestmark = pytest.mark.django_db


def token_client(user, scope: str = TokenScope.READ) -> APIClient:
    client = APIClient()
    secret = services.access_token_create(user=user, name="t", scope=scope).secret
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def saved(user) -> Memory:
    return memory_services.memory_save(user=user, kind="prompt", provider="claude", text="I live in Lyon.").stored


def test_a_read_token_reads_but_cannot_save_change_or_delete(alice):
    memory = saved(alice)
    reader = token_client(alice)

    assert reader.get("/memories/").json()["count"] == 1
    assert reader.get(f"/context/{alice.pk}", {"query": "where do I live"}).status_code == 200
    assert reader.get("/memories/export").status_code == 200
    for answer in (
        reader.post("/save-prompt", {"prompt": "I like tea"}, format="json"),
        reader.post("/save-response", {"prompt": "a", "response": "b"}, format="json"),
        reader.patch(f"/memories/{memory.pk}", {"pinned": True}, format="json"),
        reader.delete(f"/memories/{memory.pk}"),
        reader.delete("/memories/", {"confirm": True}, format="json"),
        reader.post("/memories/import", {"memories": []}, format="json"),
    ):
        assert_error(answer, 403, "read-only")
    assert list(Memory.objects.values_list("text", "pinned")) == [("I live in Lyon.", False)]
    # the refused save was not counted; the /context call was
    assert DailyUsage.objects.get(user=alice).count == 1


def test_a_write_token_saves_and_its_requests_count_against_the_quota(alice):
    writer = token_client(alice, TokenScope.WRITE)

    answer = writer.post("/save-prompt", {"prompt": "I live in Lyon.", "provider": "claude"}, format="json")

    assert answer.status_code == 201 and answer["X-RateLimit-Remaining"] == "99"
    assert Memory.objects.get(user=alice).provider == "claude"
    assert DailyUsage.objects.get(user=alice).count == 1
    assert writer.delete(f"/memories/{answer.json()['memory_id']}").status_code == 200


def test_the_token_acts_for_its_own_person_only(alice, bob):
    saved(bob)
    reader = token_client(alice)
    assert reader.get("/memories/").json()["count"] == 0
    assert_error(reader.get(f"/context/{bob.pk}", {"query": "Lyon"}), 403, "mismatch")
