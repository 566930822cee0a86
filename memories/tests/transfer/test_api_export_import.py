from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from memories.models import Chunk, ImportJob, Memory
from memories.tests.factories import save, three_memories
from testkit import assert_error, run_queued_jobs

pytestmark = pytest.mark.django_db

MEMORY_FIELDS = ("kind", "provider", "prompt", "text", "priority", "pinned", "created_at")


def stored(user):
    return sorted(Memory.objects.filter(user=user).values_list(*MEMORY_FIELDS))


def streamed(response):
    assert response.streaming, "the export must stream"
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def alices_memories(alice):
    return three_memories(alice, third="I live in Lyon — près du Rhône.")


def chatgpt_export():
    """A conversations.json as ChatGPT writes it: a tree of nodes, with an abandoned branch and a tool call."""

    def node(node_id, parent, role, text, at, **message):
        content = {"content_type": "text", "parts": [text]}
        msg = {"id": node_id, "author": {"role": role}, "content": content, "create_time": at, **message}
        return {"id": node_id, "message": msg if role else None, "parent": parent, "children": []}

    mapping = {
        "root": node("root", None, None, "", None),
        "sys": node("sys", "root", "system", "", 1717000000.0),
        "u1": node("u1", "sys", "user", "My cat Pixel only eats salmon pâté.", 1717000100.5),
        "a1": node("a1", "u1", "assistant", "Noted: Pixel likes salmon pâté.", 1717000105.0),
        "u2-old": node("u2-old", "a1", "user", "An abandoned edit", 1717000200.0),
        "u2": node("u2", "a1", "user", "Which vet is open on Sundays in Ghent?", 1717000300.0),
        "tool": node("tool", "u2", "assistant", "search('vet ghent sunday')", 1717000301.0, recipient="browser"),
        "a2": node("a2", "tool", "assistant", "Dierenkliniek Ghent is open on Sundays.", 1717000310.0),
    }
    mapping["a2"]["message"]["content"] = {
        "content_type": "multimodal_text",
        "parts": [{"asset_pointer": "file-service://x"}, "Dierenkliniek Ghent is open on Sundays."],
    }
    return [{"title": "Pixel and the vet", "create_time": 1717000000.0, "current_node": "a2", "mapping": mapping}]


# --- Export ---------------------------------------------------------------------------------------------


def test_it_exports_every_memory_as_one_streamed_json_document(alice, alice_client, alices_memories, bob):
    save(bob, "Bob's secret plan.")

    response = alice_client.get("/memories/export")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="memories-')
    document = json.loads(streamed(response))
    assert document["format"] == "memorylayer.export" and document["version"] == 1
    assert document["user_id"] == str(alice.pk) and document["count"] == 3
    assert document["spaces"] == ["Personal"]
    assert document["memories"][1] == {
        "id": alices_memories[1].pk,
        "space": "Personal",
        "kind": "response",
        "provider": "claude",
        "prompt": "Best pizza dough?",
        "text": "Use 00 flour and 65% hydration.",
        "priority": "high",
        "pinned": False,
        "created_at": "2025-01-11T09:00:00Z",
    }
    assert [m["text"] for m in document["memories"]][2] == "I live in Lyon — près du Rhône."
    assert "embedding" not in json.dumps(document)


def test_it_exports_ndjson_one_memory_per_line(alice_client, alices_memories):
    response = alice_client.get("/memories/export", {"format": "ndjson"})

    assert response.status_code == 200 and response["Content-Type"].startswith("application/x-ndjson")
    lines = streamed(response).splitlines()
    assert [json.loads(line)["id"] for line in lines] == [m.pk for m in alices_memories]


def test_it_exports_an_empty_history_as_a_valid_document(alice_client):
    document = json.loads(streamed(alice_client.get("/memories/export")))
    assert document["memories"] == [] and document["count"] == 0


def test_it_reads_the_export_in_batches_with_a_server_side_cursor_unless_pooled(
    alice, alice_client, alices_memories, monkeypatch
):
    from memories import selectors

    original = selectors.memory_export_rows
    monkeypatch.setattr(
        selectors, "memory_export_rows", lambda *, user, **scope: original(user=user, chunk_size=2, **scope)
    )

    with CaptureQueriesContext(connection) as queries:
        document = json.loads(streamed(alice_client.get("/memories/export")))

    assert document["count"] == 3
    declared = any("DECLARE" in q["sql"] and "CURSOR" in q["sql"] for q in queries.captured_queries)
    # Behind PgBouncer in transaction pooling (DATABASE_POOLER_URL) named cursors are off: the next fetch could land
    # on another server connection (docs/scale.md); the rows are then read in one go, and the export still works.
    assert declared is not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS", False)


def test_it_refuses_an_unknown_export_format(alice_client):
    assert_error(alice_client.get("/memories/export", {"format": "xml"}), 400, "format=ndjson")


# --- Import ---------------------------------------------------------------------------------------------


def test_it_restores_the_same_memories_after_export_delete_all_import(alice, alice_client, alices_memories):
    before = stored(alice)
    document = json.loads(streamed(alice_client.get("/memories/export")))
    assert alice_client.delete("/memories/", {"confirm": True}, format="json").json()["deleted"] == 3
    assert not Chunk.objects.filter(user=alice).exists()

    response = alice_client.post("/memories/import", document, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True and body["status"] == "done"
    assert {k: body[k] for k in ("format", "total", "imported", "duplicates", "skipped", "failed", "errors")} == {
        "format": "memorylayer.export",
        "total": 3,
        "imported": 3,
        "duplicates": 0,
        "skipped": 0,
        "failed": 0,
        "errors": [],
    }
    assert stored(alice) == before
    assert Chunk.objects.filter(user=alice).count() == 3
    assert "Lyon" in alice_client.get(f"/context/{alice.pk}", {"query": "which city is my home?"}).json()["contexts"][0]


def test_it_skips_memories_already_stored_and_counts_them(alice, alice_client, alices_memories):
    document = json.loads(streamed(alice_client.get("/memories/export")))

    body = alice_client.post("/memories/import", document, format="json").json()

    assert (body["imported"], body["duplicates"], body["skipped"], body["failed"]) == (0, 3, 0, 0)
    assert body["errors"] == []
    assert Memory.objects.filter(user=alice).count() == 3


def test_it_imports_the_valid_items_and_reports_why_the_others_failed(alice, alice_client):
    future = (timezone.now() + timedelta(days=2)).isoformat()
    items = [
        {"kind": "prompt", "provider": "grok", "text": "I play the cello.", "created_at": "2024-05-01T10:00:00Z"},
        {"kind": "prompt", "provider": "myspace", "text": "hello"},
        {"kind": "prompt", "provider": "claude", "text": "   "},
        {"kind": "prompt", "provider": "claude", "text": "From the future", "created_at": future},
        {"kind": "memo", "provider": "claude", "text": "x"},
        {"kind": "prompt", "provider": "claude", "text": "x", "prompt": "a prompt has no prompt"},
        "not an object",
    ]

    response = alice_client.post("/memories/import", items, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["imported"], body["skipped"], body["failed"]) == (1, 0, 6)
    reasons = {p["item"]: p["reason"] for p in body["errors"]}
    assert "provider: 'myspace' is not supported" in reasons["memories[1]"]
    assert "text: This field may not be blank." in reasons["memories[2]"]
    assert "created_at: is in the future" in reasons["memories[3]"]
    assert "kind:" in reasons["memories[4]"]
    assert "prompt: only an answer" in reasons["memories[5]"]
    assert reasons["memories[6]"] == "not a JSON object"
    memory = Memory.objects.get(user=alice)
    assert (memory.provider, memory.text, memory.created_at) == (
        "grok",
        "I play the cello.",
        datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
    )


def test_it_imports_a_chatgpt_export_so_that_context_finds_it(alice, alice_client):
    upload = SimpleUploadedFile("conversations.json", json.dumps(chatgpt_export()).encode(), "application/json")

    response = alice_client.post("/memories/import", {"file": upload}, format="multipart")

    assert response.status_code == 200, response.content  # small: imported within the request
    body = alice_client.get(response.json()["status_url"]).json()
    assert (body["format"], body["status"], body["imported"], body["duplicates"], body["failed"]) == (
        "chatgpt",
        "done",
        4,
        0,
        0,
    )
    rows = list(Memory.objects.filter(user=alice).order_by("created_at").values_list("kind", "prompt", "text"))
    assert rows == [
        ("prompt", "", "My cat Pixel only eats salmon pâté."),
        ("response", "My cat Pixel only eats salmon pâté.", "Noted: Pixel likes salmon pâté."),
        ("prompt", "", "Which vet is open on Sundays in Ghent?"),
        ("response", "Which vet is open on Sundays in Ghent?", "Dierenkliniek Ghent is open on Sundays."),
    ]
    first = Memory.objects.filter(user=alice).earliest("created_at")
    assert first.provider == "chatgpt" and first.created_at == datetime(2024, 5, 29, 16, 28, 20, 500000, tzinfo=UTC)

    contexts = alice_client.get(f"/context/{alice.pk}", {"query": "what food does my cat like?"}).json()["contexts"]
    assert "salmon" in contexts[0]
    contexts = alice_client.get(f"/context/{alice.pk}", {"query": "vet open on Sunday"}).json()["contexts"]
    assert "Dierenkliniek" in " ".join(contexts[:2])


def test_it_imports_a_chatgpt_export_sent_as_a_json_body_twice_without_duplicates(alice, alice_client):
    first = alice_client.post("/memories/import", chatgpt_export(), format="json").json()
    again = alice_client.post("/memories/import", chatgpt_export(), format="json").json()

    assert (first["imported"], again["imported"], again["duplicates"]) == (4, 0, 4)
    assert Memory.objects.filter(user=alice).count() == 4


def test_it_follows_every_node_by_time_when_current_node_is_missing(alice, alice_client):
    conversation = chatgpt_export()[0]
    del conversation["current_node"]

    body = alice_client.post("/memories/import", [conversation], format="json").json()

    assert body["imported"] == 5  # the abandoned edit is a prompt too
    assert Memory.objects.filter(user=alice, text="An abandoned edit").exists()


def test_it_imports_ndjson_from_a_body_or_a_file(alice, alice_client):
    lines = "\n".join(
        json.dumps({"kind": "prompt", "provider": "claude", "text": text}) for text in ("I surf.", "I ski.")
    )
    body = alice_client.post("/memories/import", lines + "\n", content_type="application/x-ndjson").json()
    assert body["imported"] == 2

    upload = SimpleUploadedFile(
        "memories.ndjson", (lines + '\n{"kind": "prompt", "provider": "grok", "text": "Hi"}').encode()
    )
    status_url = alice_client.post("/memories/import", {"file": upload}, format="multipart").json()["status_url"]
    run_queued_jobs()
    body = alice_client.get(status_url).json()
    assert (body["imported"], body["duplicates"]) == (1, 2)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"hello": "world"}, "unrecognised import format"),
        ([], "nothing to import"),
        ({"memories": []}, "nothing to import"),
        ("just a string", "a single json string"),
    ],
)
def test_it_refuses_what_it_cannot_read_with_400(alice, alice_client, payload, fragment):
    assert_error(alice_client.post("/memories/import", payload, format="json"), 400, fragment)
    assert not Memory.objects.exists()


def test_it_refuses_unreadable_uploads_with_400(alice_client):
    not_utf8 = SimpleUploadedFile("c.json", "é".encode("latin-1"))
    assert_error(alice_client.post("/memories/import", {"file": not_utf8}, format="multipart"), 400, "not json")
    assert_error(alice_client.post("/memories/import", {"other": "x"}, format="multipart"), 400, "field named 'file'")
    broken = alice_client.post("/memories/import", "{nope}\n", content_type="application/x-ndjson")
    assert_error(broken, 400, "not valid json near byte")
    assert not Memory.objects.exists()


@pytest.mark.parametrize("limit", [{"MEMORY_IMPORT_MAX_BYTES": 300}, {"MEMORY_IMPORT_MAX_ITEMS": 3}])
def test_an_import_past_the_request_limits_goes_to_the_worker(alice, alice_client, settings, limit):
    for name, value in limit.items():
        setattr(settings, name, value)

    response = alice_client.post("/memories/import", chatgpt_export(), format="json")

    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued" and not Memory.objects.exists()
    assert run_queued_jobs("memories.import_history") >= 1  # its turns
    assert alice_client.get(response.json()["status_url"]).json()["imported"] == 4


@override_settings(MEMORY_IMPORT_MAX_FILE_BYTES=300)
def test_it_answers_413_to_a_file_over_the_file_limit_and_keeps_nothing(alice_client):
    items = [{"kind": "prompt", "provider": "claude", "text": "x" * 400}]
    upload = SimpleUploadedFile("big.json", json.dumps(items).encode())
    assert_error(alice_client.post("/memories/import", {"file": upload}, format="multipart"), 413, "limit is 300")
    assert_error(alice_client.post("/memories/import", items, format="json"), 413, "limit is 300")
    assert not ImportJob.objects.exists() and not Memory.objects.exists()


@override_settings(MEMORY_IMPORT_MAX_BYTES=10_000, DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_the_import_limit_replaces_the_general_body_limit_on_the_import_only(alice, alice_client):
    items = [{"kind": "prompt", "provider": "claude", "text": "I keep bees on my roof in Utrecht."}]

    assert alice_client.post("/memories/import", items, format="json").json()["imported"] == 1
    assert_error(alice_client.post("/save-prompt", {"prompt": "x" * 200}, format="json"), 413, "100 bytes")


def test_it_imports_under_the_versioned_path_too(alice, alice_client):
    items = [{"kind": "prompt", "provider": "claude", "text": "I keep bees."}]
    assert alice_client.post("/api/v1/memories/import", items, format="json").json()["imported"] == 1


def test_it_embeds_the_new_memories_of_an_import_in_one_model_call(alice, alice_client, monkeypatch):
    from memories.embedding import embeddings

    save(alice, "Already here.")
    model = embeddings.get_model()
    calls: list[int] = []
    real_encode = model.encode

    def counting_encode(texts, **kwargs):
        calls.append(len(texts))
        return real_encode(texts, **kwargs)

    monkeypatch.setattr(model, "encode", counting_encode)
    items = [{"kind": "prompt", "provider": "claude", "text": f"Fact number {n} about my garden."} for n in range(5)]
    items.append({"kind": "prompt", "provider": "chatgpt", "text": "Already here."})

    body = alice_client.post("/memories/import", items, format="json").json()

    assert (body["imported"], body["duplicates"]) == (5, 1)
    assert calls == [5]
    assert Chunk.objects.filter(user=alice).count() == 6


def test_it_imports_a_chatgpt_export_split_into_one_conversation_per_line(alice, alice_client):
    conversation = chatgpt_export()[0]
    other = {**conversation, "title": "Another", "current_node": "a1"}
    lines = "\n".join(json.dumps(c) for c in (conversation, other))  # what `jq -c '.[]'` writes
    upload = SimpleUploadedFile("part-aa", lines.encode())

    status_url = alice_client.post("/memories/import", {"file": upload}, format="multipart").json()["status_url"]
    run_queued_jobs()

    body = alice_client.get(status_url).json()
    assert (body["format"], body["imported"], body["duplicates"]) == ("chatgpt", 4, 2)


def test_it_answers_an_unauthenticated_ndjson_export_with_the_envelope(anon_client):
    response = anon_client.get("/memories/export", {"format": "ndjson"})

    assert response.status_code == 401
    assert json.loads(response.content.decode().strip()) == {
        "success": False,
        "error": "Authentication required: send 'Authorization: Bearer <access token>'",
    }
