from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from django.test import override_settings
from rest_framework_simplejwt.tokens import AccessToken

from memories.models import Chunk, Memory
from testkit import assert_error

pytestmark = pytest.mark.django_db


def post(client, path, body):
    return client.post(path, body, format="json")


def test_it_saves_a_prompt_with_the_contract_shape(alice, alice_client):
    response = post(
        alice_client,
        "/save-prompt",
        {"user_id": str(alice.pk), "prompt": "I love hiking in the Alps.", "provider": "chatgpt"},
    )

    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True and body["chunks_stored"] == 1 and body["duplicate"] is False
    assert body["timestamp"].endswith("Z")
    memory = Memory.objects.get(pk=body["memory_id"])
    assert (memory.user, memory.kind, memory.provider, memory.text) == (
        alice,
        "prompt",
        "chatgpt",
        "I love hiking in the Alps.",
    )
    chunk = Chunk.objects.get(memory=memory)
    assert chunk.user == alice and chunk.text == "I love hiking in the Alps."
    assert len(chunk.embedding) == 384
    assert np.linalg.norm(chunk.embedding) == pytest.approx(1.0, abs=1e-3)


def test_it_saves_a_response_with_the_prompt_it_answered(alice, alice_client):
    response = post(
        alice_client,
        "/save-response",
        {
            "user_id": str(alice.pk),
            "prompt": "Best pizza dough?",
            "response": "Use 00 flour and 65% hydration.",
            "provider": "Claude",
        },
    )

    assert response.status_code == 201
    memory = Memory.objects.get(pk=response.json()["memory_id"])
    assert (memory.kind, memory.provider, memory.prompt, memory.text) == (
        "response",
        "claude",
        "Best pizza dough?",
        "Use 00 flour and 65% hydration.",
    )
    assert memory.chunks.count() == response.json()["chunks_stored"] == 1


def test_it_accepts_the_extension_call_without_user_id_or_provider(alice_client):
    response = post(alice_client, "/save-prompt", {"prompt": "hello there"})

    assert response.status_code == 201
    assert Memory.objects.get().provider == "chatgpt"


def test_it_splits_long_text_into_chunks_and_reports_the_real_count(alice, alice_client):
    text = " ".join(f"Sentence number {i} talks about topic {i % 7} in some detail." for i in range(200))

    response = post(alice_client, "/save-prompt", {"prompt": text, "provider": "gemini"})

    assert response.status_code == 201
    stored = Chunk.objects.filter(user=alice).count()
    assert stored > 1 and response.json()["chunks_stored"] == stored
    positions = list(Chunk.objects.filter(user=alice).values_list("position", flat=True))
    assert positions == list(range(stored))


def test_it_stores_the_same_text_only_once(alice, alice_client):
    first = post(alice_client, "/save-prompt", {"prompt": "Remember my cat is called Miso."})
    second = post(alice_client, "/save-prompt", {"prompt": "Remember my cat is called Miso."})

    assert first.status_code == 201 and second.status_code == 200
    assert second.json()["chunks_stored"] == 0 and second.json()["duplicate"] is True
    assert second.json()["memory_id"] == first.json()["memory_id"]
    assert Memory.objects.filter(user=alice).count() == 1


def test_it_keeps_the_same_text_of_two_users_apart(alice_client, bob_client, alice, bob):
    post(alice_client, "/save-prompt", {"prompt": "shared sentence"})
    post(bob_client, "/save-prompt", {"prompt": "shared sentence"})

    assert Memory.objects.filter(user=alice).count() == 1 and Memory.objects.filter(user=bob).count() == 1


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"prompt": "x", "provider": "bing"}, "chatgpt, claude, gemini, grok"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "   \n\t "}, "prompt"),
        ({"prompt": "a\x00b"}, "null characters"),
        ({}, "prompt: this field is required"),
        ({"prompt": 5 * [1]}, "prompt"),
        ({"prompt": "x", "priority": "urgent"}, "priority"),
        ({"prompt": "x", "provider": ""}, "provider"),
    ],
)
def test_it_refuses_bad_prompts_and_stores_nothing(alice_client, body, fragment):
    assert_error(post(alice_client, "/save-prompt", body), 400, fragment)
    assert Memory.objects.count() == 0 and Chunk.objects.count() == 0


def test_it_refuses_a_lone_surrogate_with_400(alice_client):
    raw = b'{"prompt": "before \\ud800 after"}'
    assert_error(alice_client.post("/save-prompt", raw, content_type="application/json"), 400, "surrogate")
    assert Memory.objects.count() == 0


@pytest.mark.parametrize("field", ["prompt", "response"])
def test_it_refuses_a_blank_part_of_an_exchange(alice_client, field):
    body = {"prompt": "q", "response": "a", field: "  "}
    assert_error(post(alice_client, "/save-response", body), 400, field)
    assert Memory.objects.count() == 0


def test_it_refuses_a_response_without_its_prompt(alice_client):
    assert_error(post(alice_client, "/save-response", {"response": "an answer"}), 400, "prompt: this field is required")


def test_it_enforces_the_text_length_limit_at_cap_and_cap_plus_one(alice_client):
    with override_settings(MEMORY_MAX_TEXT_CHARS=50_000):
        assert_error(post(alice_client, "/save-prompt", {"prompt": "a" * 50_001}), 400, "50000")
        assert Memory.objects.count() == 0
        ok = post(alice_client, "/save-prompt", {"prompt": "word " * 10_000})
        assert ok.status_code == 201


def test_it_answers_413_for_a_body_over_the_upload_limit(alice_client):
    big = json.dumps({"prompt": "x" * 1_100_000})
    assert_error(alice_client.post("/save-prompt", big, content_type="application/json"), 413, "too large")
    assert Memory.objects.count() == 0


def test_it_answers_400_for_malformed_json(alice_client):
    assert_error(alice_client.post("/save-prompt", "{bad", content_type="application/json"), 400, "json")


def test_it_answers_400_for_a_json_body_that_is_not_an_object(alice_client):
    assert_error(alice_client.post("/save-prompt", "[1, 2]", content_type="application/json"), 400, "json object")


def test_it_answers_415_for_a_non_json_body(alice_client):
    assert_error(alice_client.post("/save-prompt", "prompt=x", content_type="text/plain"), 415, "media type")


@pytest.mark.parametrize("path", ["/save-prompt", "/save-response"])
def test_it_answers_405_for_the_wrong_method(alice_client, path):
    assert_error(alice_client.get(path), 405, "not allowed")
    assert_error(alice_client.put(path, {}, format="json"), 405, "not allowed")


@pytest.mark.parametrize("path", ["/save-prompt", "/save-response"])
def test_it_requires_a_token(anon_client, path):
    assert_error(post(anon_client, path, {"prompt": "q", "response": "a"}), 401, "authentication required")
    assert Memory.objects.count() == 0


@pytest.mark.parametrize("header", ["Bearer not-a-jwt", "Bearer ", "Token abc", "Bearer a.b.c"])
def test_it_refuses_malformed_tokens(anon_client, header):
    anon_client.credentials(HTTP_AUTHORIZATION=header)
    response = post(anon_client, "/save-prompt", {"prompt": "q"})
    assert response.status_code == 401 and response.json()["success"] is False


def test_it_refuses_an_expired_token(alice, anon_client):
    token = AccessToken.for_user(alice)
    token.set_exp(lifetime=-timedelta(seconds=1))
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_error(post(anon_client, "/save-prompt", {"prompt": "q"}), 401, "token")
    assert Memory.objects.count() == 0


@pytest.mark.parametrize("path", ["/save-prompt", "/save-response"])
def test_it_refuses_another_users_id_and_stores_nothing(alice, bob_client, path):
    response = post(bob_client, path, {"user_id": str(alice.pk), "prompt": "q", "response": "a"})
    assert_error(response, 403, "User ID mismatch")
    assert Memory.objects.count() == 0


def test_it_treats_a_non_uuid_user_id_as_a_mismatch(alice_client):
    assert_error(post(alice_client, "/save-prompt", {"user_id": "1 OR 1=1", "prompt": "q"}), 403, "User ID mismatch")


@pytest.mark.parametrize("path", ["/save-prompt", "/save-response"])
def test_it_stores_the_original_time_of_a_message(alice, alice_client, path):
    body = {"prompt": "Caroline: I went to the support group.", "timestamp": "2023-05-08T13:56:00+02:00"}
    if path == "/save-response":
        body["response"] = "That is great to hear."

    response = post(alice_client, path, body | {"priority": "HIGH", "pinned": True})

    assert response.status_code == 201
    assert response.json()["timestamp"] == "2023-05-08T11:56:00Z"
    memory = Memory.objects.get(pk=response.json()["memory_id"])
    assert memory.created_at.isoformat() == "2023-05-08T11:56:00+00:00"
    assert (memory.priority, memory.pinned) == (2, True)


@pytest.mark.parametrize(
    ("timestamp", "fragment"),
    [
        ("2999-01-01T00:00:00Z", "timestamp: must not be in the future"),
        ("yesterday", "timestamp: datetime has wrong format"),
        ("2023-13-45T00:00:00Z", "timestamp"),
        (12345, "timestamp"),
    ],
)
@pytest.mark.parametrize("path", ["/save-prompt", "/save-response"])
def test_it_refuses_a_bad_timestamp_and_stores_nothing(alice_client, path, timestamp, fragment):
    response = post(alice_client, path, {"prompt": "p", "response": "r", "timestamp": timestamp})
    assert_error(response, 400, fragment)
    assert Memory.objects.count() == 0 and Chunk.objects.count() == 0


@pytest.mark.parametrize(("field", "value"), [("priority", "urgent"), ("priority", 7), ("pinned", "sometimes")])
def test_it_refuses_a_bad_priority_or_pin_and_stores_nothing(alice_client, field, value):
    assert_error(post(alice_client, "/save-prompt", {"prompt": "p", field: value}), 400, field)
    assert Memory.objects.count() == 0


def test_it_accepts_a_timestamp_a_few_seconds_ahead_of_the_server(alice_client):
    from django.utils import timezone

    ahead = (timezone.now() + timedelta(seconds=5)).isoformat()
    assert post(alice_client, "/save-prompt", {"prompt": "clock skew", "timestamp": ahead}).status_code == 201
