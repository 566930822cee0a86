"""The isolation matrix: alice's token against everything that names bob or one of bob's memories.

Every endpoint that names a user or a memory, at the root and under /api/v1/: 403 or 404, never bob's data,
and bob's rows (memories, chunks, usage, idempotency keys, account) exactly as they were.
"""

from __future__ import annotations

import json

import pytest

from accounts.models import DailyUsage, User
from accounts.services import space_default
from memories import services
from memories.models import Chunk, IdempotencyKey, Kind, Memory

pytestmark = pytest.mark.django_db

PREFIXES = ["", "/api/v1"]
BOBS_SECRET = "Bob's bank PIN is 4921"


@pytest.fixture
def bobs_memories(bob):
    first = services.memory_save(user=bob, kind=Kind.PROMPT, provider="chatgpt", text=BOBS_SECRET).memory
    second = services.memory_save(
        user=bob, kind=Kind.RESPONSE, provider="claude", text="Keep it safe.", prompt="Where is my PIN?"
    ).memory
    IdempotencyKey.objects.create(
        user=bob,
        space=space_default(user=bob),
        key="shared-key-1",
        request_hash="0" * 64,
        response_status=201,
        response_body={"memory_id": 1},
    )
    return [first, second]


def snapshot(user: User) -> dict[str, object]:
    """Everything of ``user``'s that another user's request could change."""
    user.refresh_from_db()
    return {
        "account": (user.username, user.email, user.tier, user.is_active, user.password),
        "memories": list(
            Memory.objects.filter(user=user)
            .order_by("pk")
            .values_list("pk", "kind", "provider", "text", "prompt", "priority", "pinned", "created_at")
        ),
        "chunks": list(Chunk.objects.filter(user=user).order_by("pk").values_list("pk", "memory_id", "text")),
        "usage": list(DailyUsage.objects.filter(user=user).values_list("day", "count")),
        "keys": list(IdempotencyKey.objects.filter(user=user).values_list("key", "response_status")),
    }


def assert_refused(response, *statuses):
    assert response.status_code in statuses, (response.status_code, response.content)
    body = response.json()
    assert body["success"] is False
    assert BOBS_SECRET not in response.content.decode()


@pytest.mark.parametrize("prefix", PREFIXES)
def test_alice_cannot_save_as_bob(alice_client, bob, bobs_memories, prefix):
    before = snapshot(bob)
    for variant in (str(bob.pk), str(bob.pk).upper(), f" {bob.pk} "):
        body = {"user_id": variant, "prompt": "written by alice", "provider": "chatgpt"}
        assert_refused(alice_client.post(f"{prefix}/save-prompt", body, format="json"), 403)
        body["response"] = "also alice"
        assert_refused(alice_client.post(f"{prefix}/save-response", body, format="json"), 403)
    # Duplicate keys: the user_id that is checked is the one that counts (the last one, as stored).
    raw = (
        json.dumps({"prompt": "dup"})[:-1]
        + f', "user_id": "00000000-0000-0000-0000-000000000000", "user_id": "{bob.pk}"}}'
    )
    assert_refused(alice_client.generic("POST", f"{prefix}/save-prompt", raw, content_type="application/json"), 403)
    assert snapshot(bob) == before
    assert not Memory.objects.filter(text__contains="alice").exists()


@pytest.mark.parametrize("prefix", PREFIXES)
def test_alice_cannot_read_bobs_context(alice_client, bob, bobs_memories, prefix):
    before = snapshot(bob)
    for variant in (str(bob.pk), str(bob.pk).upper(), "00000000-0000-0000-0000-000000000000"):
        assert_refused(alice_client.get(f"{prefix}/context/{variant}", {"query": "bank PIN"}), 403, 404)
    assert snapshot(bob) == before


@pytest.mark.parametrize("prefix", PREFIXES)
def test_alice_cannot_see_change_or_delete_bobs_memories(alice_client, bob, bobs_memories, prefix):
    before = snapshot(bob)
    for memory in bobs_memories:
        url = f"{prefix}/memories/{memory.pk}"
        assert_refused(alice_client.get(url), 404)
        assert_refused(alice_client.patch(url, {"priority": "high", "pinned": True}, format="json"), 404)
        assert_refused(alice_client.delete(url), 404)
    assert snapshot(bob) == before


@pytest.mark.parametrize("prefix", PREFIXES)
def test_alices_collection_endpoints_never_touch_bob(alice, alice_client, bob, bobs_memories, prefix):
    services.memory_save(user=alice, kind=Kind.PROMPT, provider="chatgpt", text="Alice likes tea.")
    before = snapshot(bob)

    listing = alice_client.get(f"{prefix}/memories/", {"q": "PIN"}).json()
    assert listing["count"] == 0
    everything = alice_client.get(f"{prefix}/memories/").json()
    assert [m["text"] for m in everything["results"]] == ["Alice likes tea."]

    exported = b"".join(alice_client.get(f"{prefix}/memories/export").streaming_content).decode()
    assert BOBS_SECRET not in exported and json.loads(exported)["user_id"] == str(alice.pk)
    ndjson = b"".join(alice_client.get(f"{prefix}/memories/export", {"format": "ndjson"}).streaming_content)
    assert BOBS_SECRET.encode() not in ndjson

    me = alice_client.get(f"{prefix}/auth/me").json()
    assert me["user_id"] == str(alice.pk) and me["username"] == "alice"

    # An export document naming bob imports into alice's own account, never bob's.
    document = {"user_id": str(bob.pk), "memories": [{"kind": "prompt", "provider": "claude", "text": "Imported"}]}
    imported = alice_client.post(f"{prefix}/memories/import", document, format="json")
    assert imported.status_code == 200 and imported.json()["imported"] == 1
    assert Memory.objects.get(text="Imported").user == alice

    assert alice_client.delete(f"{prefix}/memories/", {"confirm": True}, format="json").json()["deleted"] == 2
    assert not Memory.objects.filter(user=alice).exists()
    assert snapshot(bob) == before


@pytest.mark.parametrize("prefix", PREFIXES)
def test_bobs_idempotency_key_never_replays_to_alice(alice, alice_client, bob, bobs_memories, prefix):
    before = snapshot(bob)
    response = alice_client.post(
        f"{prefix}/save-prompt", {"prompt": "alice's own"}, format="json", HTTP_IDEMPOTENCY_KEY="shared-key-1"
    )
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert Memory.objects.get(pk=response.json()["memory_id"]).user == alice
    assert snapshot(bob) == before
