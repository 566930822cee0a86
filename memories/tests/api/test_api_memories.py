from __future__ import annotations

import pytest

from memories import supersession
from memories.models import Chunk, Memory, Priority
from memories.tests.factories import save, three_memories
from testkit import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_memories(alice):
    return three_memories(alice, third="I am allergic to peanuts.")


def test_it_lists_only_the_users_memories_newest_first(alice_client, alices_memories, bob):
    save(bob, "Bob's secret plan.")

    response = alice_client.get("/memories/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3 and body["next"] is None
    assert [m["id"] for m in body["results"]] == [m.pk for m in reversed(alices_memories)]
    first = body["results"][0]
    assert first == {
        "id": alices_memories[2].pk,
        "space": alices_memories[2].space_id,
        "kind": "prompt",
        "provider": "gemini",
        "prompt": "",
        "text": "I am allergic to peanuts.",
        "priority": "normal",
        "pinned": True,
        "all_spaces": False,
        "created_at": "2025-01-12T09:00:00Z",
        "superseded_by": None,
    }
    assert "embedding" not in first


@pytest.mark.parametrize(
    ("query", "expected_texts"),
    [
        ({"provider": "claude"}, ["Use 00 flour and 65% hydration."]),
        ({"kind": "prompt"}, ["I am allergic to peanuts.", "I adopted a golden retriever named Max."]),
        ({"priority": "high"}, ["Use 00 flour and 65% hydration."]),
        ({"pinned": "true"}, ["I am allergic to peanuts."]),
        ({"pinned": "false"}, ["Use 00 flour and 65% hydration.", "I adopted a golden retriever named Max."]),
        ({"since": "2025-01-11T00:00:00Z"}, ["I am allergic to peanuts.", "Use 00 flour and 65% hydration."]),
        ({"until": "2025-01-11"}, ["I adopted a golden retriever named Max."]),
        ({"q": "PIZZA"}, ["Use 00 flour and 65% hydration."]),  # matches the prompt, case-insensitively
        ({"q": "retriever", "kind": "response"}, []),
    ],
)
def test_it_filters_the_list(alice_client, alices_memories, query, expected_texts):
    response = alice_client.get("/memories/", query)

    assert response.status_code == 200, response.content
    assert [m["text"] for m in response.json()["results"]] == expected_texts


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ({"provider": "myspace"}, "provider: 'myspace' is not supported"),
        ({"kind": "thought"}, "kind:"),
        ({"priority": "urgent"}, "priority:"),
        ({"pinned": "maybe"}, "pinned:"),
        ({"since": "last tuesday"}, "since:"),
        ({"since": "2025-02-01", "until": "2025-01-01"}, "until: must be later than since"),
        ({"format": "xml"}, "unsupported format"),
    ],
)
def test_it_refuses_bad_filters_with_400(alice_client, alices_memories, query, fragment):
    assert_error(alice_client.get("/memories/", query), 400, fragment)


def test_it_paginates_and_caps_the_page_size(alice_client, alices_memories, monkeypatch):
    from memories.api.views import MemoryPagination

    monkeypatch.setattr(MemoryPagination, "max_page_size", 2)
    first = alice_client.get("/memories/", {"page_size": 50}).json()
    assert first["count"] == 3 and len(first["results"]) == 2 and first["next"].endswith("page=2&page_size=50")

    second = alice_client.get("/memories/", {"page_size": 50, "page": 2}).json()
    assert [m["id"] for m in second["results"]] == [alices_memories[0].pk]

    assert_error(alice_client.get("/memories/", {"page": 9}), 404, "invalid page")


def test_it_retrieves_one_memory(alice_client, alices_memories):
    memory = alices_memories[1]

    response = alice_client.get(f"/memories/{memory.pk}")

    assert response.status_code == 200
    assert response.json()["prompt"] == "Best pizza dough?" and response.json()["priority"] == "high"


def test_it_says_which_later_memory_replaces_one(alice_client, alice):
    old = save(alice, "I teach at Fairview High.")
    new = save(alice, "I moved to Lakeview STEM Academy now.")
    supersession.memory_supersede_link(user_id=alice.pk, old_id=old.pk, new_id=new.pk)

    listed = {m["id"]: m for m in alice_client.get("/memories/").json()["results"]}

    assert listed[old.pk]["superseded_by"] == new.pk and listed[new.pk]["superseded_by"] is None
    assert alice_client.get(f"/memories/{old.pk}").json()["superseded_by"] == new.pk


def test_it_answers_404_for_another_users_memory_everywhere(alice_client, bob):
    bobs = save(bob, "Bob's secret plan.")

    for method in ("get", "patch", "delete"):
        response = getattr(alice_client, method)(f"/memories/{bobs.pk}", {"pinned": True}, format="json")
        assert_error(response, 404, "not found")
    bobs.refresh_from_db()
    assert bobs.pinned is False and Memory.objects.filter(pk=bobs.pk).exists()


def test_it_answers_404_for_a_memory_that_does_not_exist(alice_client):
    assert_error(alice_client.get("/memories/999999"), 404, "not found")
    assert_error(alice_client.get("/memories/abc"), 404, "not found")


def test_it_changes_priority_and_pinned(alice_client, alices_memories):
    memory = alices_memories[0]

    response = alice_client.patch(f"/memories/{memory.pk}", {"priority": "HIGH", "pinned": True}, format="json")

    assert response.status_code == 200
    assert response.json()["priority"] == "high" and response.json()["pinned"] is True
    memory.refresh_from_db()
    assert (memory.priority, memory.pinned) == (Priority.HIGH, True)


def test_it_changes_only_the_field_given(alice_client, alices_memories):
    memory = alices_memories[2]  # pinned, normal

    alice_client.patch(f"/memories/{memory.pk}", {"priority": "low"}, format="json")

    memory.refresh_from_db()
    assert (memory.priority, memory.pinned) == (Priority.LOW, True)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"text": "rewritten history"}, "cannot change text: only priority and pinned"),
        ({"priority": "high", "provider": "grok"}, "cannot change provider"),
        ({}, "nothing to change"),
        ({"priority": "urgent"}, "priority:"),
        ({"pinned": "perhaps"}, "pinned:"),
        (["priority"], "JSON object"),
    ],
)
def test_it_refuses_other_changes_with_400_and_changes_nothing(alice_client, alices_memories, body, fragment):
    memory = alices_memories[0]

    assert_error(alice_client.patch(f"/memories/{memory.pk}", body, format="json"), 400, fragment)

    memory.refresh_from_db()
    assert (memory.text, memory.provider, memory.priority) == (
        "I adopted a golden retriever named Max.",
        "chatgpt",
        Priority.NORMAL,
    )


def test_it_refuses_put_and_post_on_memories(alice_client, alices_memories):
    assert_error(alice_client.put(f"/memories/{alices_memories[0].pk}", {}, format="json"), 405, "not allowed")
    assert_error(alice_client.post("/memories/", {}, format="json"), 405, "not allowed")


def test_it_deletes_one_memory_with_its_chunks_and_context_forgets_it(alice, alice_client, alices_memories):
    dog = alices_memories[0]
    assert "golden retriever" in alice_client.get(f"/context/{alice.pk}", {"query": "my dog"}).json()["contexts"][0]

    response = alice_client.delete(f"/memories/{dog.pk}")

    assert response.status_code == 200 and response.json() == {"success": True, "deleted": 1}
    assert not Memory.objects.filter(pk=dog.pk).exists()
    assert not Chunk.objects.filter(memory_id=dog.pk).exists()
    contexts = alice_client.get(f"/context/{alice.pk}", {"query": "my dog", "min_score": "-1"}).json()["contexts"]
    assert contexts and not any("retriever" in c for c in contexts)
    assert_error(alice_client.delete(f"/memories/{dog.pk}"), 404, "not found")


def test_it_deletes_everything_only_with_confirm(alice, alice_client, alices_memories, bob):
    bobs = save(bob, "Bob's secret plan.")

    assert_error(alice_client.delete("/memories/"), 400, "confirm")
    assert_error(alice_client.delete("/memories/", {"confirm": False}, format="json"), 400, "confirm: must be true")
    assert_error(alice_client.delete("/memories/", {"confirm": "yes please"}, format="json"), 400, "confirm")
    assert Memory.objects.filter(user=alice).count() == 3

    response = alice_client.delete("/memories/", {"confirm": True}, format="json")

    assert response.status_code == 200 and response.json() == {"success": True, "deleted": 3}
    assert not Memory.objects.filter(user=alice).exists() and not Chunk.objects.filter(user=alice).exists()
    assert Memory.objects.filter(pk=bobs.pk).exists() and Chunk.objects.filter(user=bob).count() == 1
    assert alice_client.get(f"/context/{alice.pk}", {"query": "peanuts"}).json() == {
        "contexts": [],
        "count": 0,
        "results": [],
    }
    assert alice_client.get("/memories/").json()["count"] == 0


def test_it_accepts_confirm_as_a_query_parameter(alice, alice_client, alices_memories):
    response = alice_client.delete("/memories/?confirm=true")

    assert response.status_code == 200 and response.json()["deleted"] == 3
    assert not Memory.objects.filter(user=alice).exists()


def test_it_deletes_nothing_when_there_is_nothing(alice_client):
    response = alice_client.delete("/memories/", {"confirm": True}, format="json")
    assert response.status_code == 200 and response.json()["deleted"] == 0


def test_it_requires_a_token_for_every_memories_endpoint(anon_client, alices_memories):
    pk = alices_memories[0].pk
    calls = [
        ("get", "/memories/"),
        ("delete", "/memories/"),
        ("get", f"/memories/{pk}"),
        ("patch", f"/memories/{pk}"),
        ("delete", f"/memories/{pk}"),
        ("get", "/memories/export"),
        ("post", "/memories/import"),
    ]
    for method, path in calls:
        assert_error(getattr(anon_client, method)(path), 401, "authentication required")
    assert Memory.objects.count() == 3
