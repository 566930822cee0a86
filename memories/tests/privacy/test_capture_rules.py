"""Capture rules enforced by the server for any client: a turned-away save answers 200 with skipped."""

from __future__ import annotations

import pytest

from accounts.services import preferences_update
from memories.models import Memory
from testkit import client_for

pytestmark = pytest.mark.django_db


def save(client, prompt, provider="chatgpt"):
    return client.post("/save-prompt", {"prompt": prompt, "provider": provider}, format="json")


def test_capture_off_stores_nothing_and_answers_200_skipped(alice, alice_client):
    preferences_update(user=alice, changes={"capture": False})
    answer = save(alice_client, "Don't keep this.")
    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is True and body["chunks_stored"] == 0 and body["skipped"] == "capture is off"
    assert "timestamp" in body and "memory_id" not in body
    assert not Memory.objects.exists()


def test_one_provider_off_skips_only_that_provider(alice, alice_client):
    preferences_update(user=alice, changes={"providers": {"grok": False}})
    assert save(alice_client, "From Grok.", provider="grok").json()["skipped"] == "capture is off for grok"
    response = alice_client.post(
        "/save-response", {"prompt": "Q?", "response": "A.", "provider": "grok"}, format="json"
    ).json()
    assert response["skipped"] == "capture is off for grok"
    assert save(alice_client, "From Claude.", provider="claude").status_code == 201
    assert list(Memory.objects.values_list("provider", flat=True)) == ["claude"]


def test_an_excluded_phrase_in_the_prompt_or_the_answer_skips_the_save(alice, alice_client):
    preferences_update(user=alice, changes={"excluded_phrases": ["Project Zebra"]})
    assert save(alice_client, "Notes on project zebra budget").json()["skipped"].startswith("the text contains")
    answer = alice_client.post(
        "/save-response", {"prompt": "Summarise", "response": "PROJECT ZEBRA is late."}, format="json"
    )
    assert answer.json()["skipped"] == "the text contains an excluded phrase"
    assert not Memory.objects.exists()


def test_an_import_keeps_excluded_phrases_out_but_ignores_paused_capture(alice, alice_client):
    preferences_update(user=alice, changes={"capture": False, "excluded_phrases": ["zebra"]})
    items = [
        {"kind": "prompt", "provider": "chatgpt", "text": "About the zebra project."},
        {"kind": "prompt", "provider": "chatgpt", "text": "About my garden."},
    ]
    answer = alice_client.post("/memories/import", {"memories": items}, format="json")
    assert answer.status_code in (200, 201), answer.content
    assert list(Memory.objects.values_list("text", flat=True)) == ["About my garden."]


def test_pii_is_redacted_only_when_the_person_asks(alice, alice_client):
    save(alice_client, "Mail me at maya@example.com.")
    preferences_update(user=alice, changes={"redact_pii": True})
    answer = save(alice_client, "Or call +44 20 7946 0958, or mail maya@example.org.").json()
    assert answer["redacted"] == 2
    texts = list(Memory.objects.order_by("pk").values_list("text", flat=True))
    assert texts[0] == "Mail me at maya@example.com."
    assert "+44" not in texts[1] and "[REDACTED:email]" in texts[1] and "[REDACTED:phone]" in texts[1]


def test_context_off_answers_no_memories(alice, alice_client):
    save(alice_client, "My dog is called Max.")
    preferences_update(user=alice, changes={"context": False})
    body = alice_client.get(f"/context/{alice.pk}", {"query": "what is my dog called?"}).json()
    assert body == {"contexts": [], "count": 0, "results": []}


def test_the_existing_extensions_calls_keep_working_when_skipped(alice):
    """The public extension treats any 2xx as success (client-contract.md)."""
    preferences_update(user=alice, changes={"capture": False})
    answer = client_for(alice).post(
        "/save-prompt", {"user_id": str(alice.pk), "prompt": "x", "provider": "chatgpt"}, format="json"
    )
    assert 200 <= answer.status_code < 300
