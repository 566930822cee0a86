"""Secrets never reach the database: saves, imports and what was stored before redaction existed."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from memories.models import Chunk, Memory
from testkit import client_for

pytestmark = pytest.mark.django_db

OPENAI = "sk-proj-" + "Xq7" * 8 + "Zk2mN9pLw4"
CARD = "4242 4242 4242 4242"
SECRET_PROMPT = f"Why does my script fail? key={OPENAI} and the test card {CARD} was declined."


def test_a_saved_prompt_is_redacted_before_storing_and_says_how_many(alice, alice_client):
    response = alice_client.post("/save-prompt", {"prompt": SECRET_PROMPT}, format="json")

    assert response.status_code == 201 and response.json()["redacted"] == 2
    memory = Memory.objects.get(user=alice)
    assert OPENAI not in memory.text and "4242" not in memory.text
    assert "[REDACTED:openai_key]" in memory.text and "[REDACTED:card_number]" in memory.text
    assert all(OPENAI not in c.text and OPENAI not in c.search_text for c in Chunk.objects.filter(memory=memory))

    export = b"".join(alice_client.get("/memories/export").streaming_content).decode()
    assert "[REDACTED:openai_key]" in export and OPENAI not in export and "4242 4242" not in export
    body = alice_client.get(f"/context/{alice.pk}", {"query": "why does my script fail", "min_score": "-1"}).json()
    assert body["count"] == 1 and all(OPENAI not in text and "4242 4242" not in text for text in body["contexts"])


def test_an_answer_and_its_prompt_are_both_redacted(alice, alice_client):
    body = {"prompt": SECRET_PROMPT, "response": f"Rotate {OPENAI} now; it is exposed.", "provider": "claude"}
    response = alice_client.post("/save-response", body, format="json")

    assert response.status_code == 201 and response.json()["redacted"] == 3
    memory = Memory.objects.get(user=alice)
    assert OPENAI not in memory.text + memory.prompt


def test_the_same_secret_saved_twice_is_one_memory(alice, alice_client):
    first = alice_client.post("/save-prompt", {"prompt": SECRET_PROMPT}, format="json").json()
    again = alice_client.post("/save-prompt", {"prompt": SECRET_PROMPT}, format="json").json()
    assert again["duplicate"] is True and again["memory_id"] == first["memory_id"] and again["redacted"] == 2


def test_text_without_secrets_is_stored_verbatim(alice, alice_client):
    text = "Order #4417-2291-0032 shipped; commit 9fceb02d0ae598e95dc970b74767f19372d61af8, id 123e4567-e89b."
    response = alice_client.post("/save-prompt", {"prompt": text}, format="json")
    assert response.json()["redacted"] == 0 and Memory.objects.get(user=alice).text == text


def test_an_import_is_redacted_too(alice, alice_client):
    items = [{"kind": "prompt", "provider": "chatgpt", "text": SECRET_PROMPT}]
    response = alice_client.post("/memories/import", {"memories": items}, format="json")
    assert response.status_code in (200, 201), response.content
    assert OPENAI not in Memory.objects.get(user=alice).text


def test_redact_stored_cleans_what_was_saved_before_and_re_embeds_it(alice, bob, capsys):
    from memories.tests.factories import save

    leaky = save(alice, "placeholder")
    Memory.objects.filter(pk=leaky.pk).update(text=SECRET_PROMPT)  # as stored before redaction existed
    Chunk.objects.filter(memory=leaky).update(text=SECRET_PROMPT, search_text=SECRET_PROMPT)
    clean = save(bob, "Nothing secret here.")

    call_command("redact_stored")

    leaky.refresh_from_db()
    assert OPENAI not in leaky.text and "[REDACTED:openai_key]" in leaky.text
    assert all(OPENAI not in c.text for c in Chunk.objects.filter(memory=leaky))
    assert Memory.objects.get(pk=clean.pk).text == "Nothing secret here."
    assert "1 redacted (2 secrets)" in capsys.readouterr().out
    call_command("redact_stored")  # a second run finds nothing left
    assert "0 redacted" in capsys.readouterr().out


def test_redact_stored_folds_a_copy_into_its_clean_twin(alice, capsys):
    from memories.services import content_hash
    from memories.tests.factories import save

    redacted = save(alice, SECRET_PROMPT)  # stored redacted
    twin = save(alice, "placeholder")
    Memory.objects.filter(pk=twin.pk).update(text=SECRET_PROMPT, content_hash=content_hash(kind="prompt", text="x"))

    call_command("redact_stored")

    assert list(Memory.objects.filter(user=alice).values_list("pk", flat=True)) == [redacted.pk]
    assert "1 folded" in capsys.readouterr().out


def test_the_other_persons_secret_never_shows_up(alice, bob):
    client_for(alice).post("/save-prompt", {"prompt": SECRET_PROMPT}, format="json")
    body = client_for(bob).get(f"/context/{bob.pk}", {"query": "script key", "min_score": "-1"}).json()
    assert body["count"] == 0
