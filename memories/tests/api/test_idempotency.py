from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from memories.models import Chunk, IdempotencyKey, Memory
from testkit import assert_error, client_for, concurrently, make_user

pytestmark = pytest.mark.django_db

PROMPT = {"prompt": "I keep bees on my roof.", "provider": "claude"}
ANSWER = {"prompt": "How do I keep bees?", "response": "Start with one hive.", "provider": "claude"}


def post(client, path, body, key):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.parametrize(("path", "body"), [("/save-prompt", PROMPT), ("/save-response", ANSWER)])
def test_it_replays_the_first_response_for_the_same_key_and_body(alice, alice_client, path, body):
    first = post(alice_client, path, body, "key-1")
    Memory.objects.filter(pk=first.json()["memory_id"]).update(pinned=True)  # a re-run would not see this

    again = post(alice_client, path, body, "key-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.json()["duplicate"] is False
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert Memory.objects.count() == 1 and Chunk.objects.count() == first.json()["chunks_stored"]
    record = IdempotencyKey.objects.get()
    assert (record.user, record.key, record.response_status) == (alice, "key-1", 201)


def test_it_answers_422_to_the_same_key_with_another_body(alice_client):
    post(alice_client, "/save-prompt", PROMPT, "key-1")

    response = post(alice_client, "/save-prompt", {**PROMPT, "prompt": "Something else"}, "key-1")

    assert_error(response, 422, "already used with a different request")
    assert list(Memory.objects.values_list("text", flat=True)) == [PROMPT["prompt"]]


def test_it_answers_422_to_the_same_key_on_the_other_save_endpoint(alice_client):
    post(alice_client, "/save-prompt", {"prompt": "How do I keep bees?"}, "key-1")

    assert_error(post(alice_client, "/save-response", ANSWER, "key-1"), 422, "different request")
    assert Memory.objects.count() == 1


def test_it_sees_the_same_body_in_another_key_order_as_the_same_request(alice_client):
    first = post(alice_client, "/save-prompt", {"prompt": "a", "provider": "grok"}, "k")
    again = post(alice_client, "/save-prompt", {"provider": "grok", "prompt": "a"}, "k")
    assert again.status_code == 201 and again.json() == first.json()


def test_it_keeps_keys_apart_per_user(alice, alice_client, bob_client):
    post(alice_client, "/save-prompt", PROMPT, "shared-key")

    response = post(bob_client, "/save-prompt", {"prompt": "Bob's own words"}, "shared-key")

    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Memory.objects.exclude(user=alice).get().text == "Bob's own words"
    assert IdempotencyKey.objects.count() == 2


def test_it_stores_again_after_the_key_expired(alice_client):
    first = post(alice_client, "/save-prompt", PROMPT, "key-1")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    Memory.objects.all().delete()

    again = post(alice_client, "/save-prompt", PROMPT, "key-1")

    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert again.json()["memory_id"] != first.json()["memory_id"] and Memory.objects.count() == 1
    assert IdempotencyKey.objects.get().created_at > timezone.now() - timedelta(minutes=5)


def test_it_remembers_no_key_for_a_refused_request_so_a_fixed_retry_works(alice_client):
    assert_error(post(alice_client, "/save-prompt", {"prompt": ""}, "key-1"), 400, "prompt")
    assert not IdempotencyKey.objects.exists()

    response = post(alice_client, "/save-prompt", PROMPT, "key-1")

    assert response.status_code == 201 and Memory.objects.count() == 1


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "naïve-key", "tab\tkey"])
def test_it_refuses_a_malformed_key_with_400(alice_client, key):
    assert_error(post(alice_client, "/save-prompt", PROMPT, key), 400, "Idempotency-Key must be")
    assert not Memory.objects.exists()


def test_it_works_without_the_header_as_before(alice_client):
    assert alice_client.post("/save-prompt", PROMPT, format="json").status_code == 201
    assert alice_client.post("/save-prompt", PROMPT, format="json").json()["duplicate"] is True
    assert not IdempotencyKey.objects.exists()


def test_the_purge_command_deletes_only_expired_keys(alice_client):
    post(alice_client, "/save-prompt", PROMPT, "old")
    post(alice_client, "/save-prompt", {"prompt": "new one"}, "new")
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    out = StringIO()

    call_command("purge_idempotency_keys", stdout=out)

    assert "Deleted 1 expired idempotency key(s)." in out.getvalue()
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.django_db(transaction=True)
def test_it_stores_once_when_requests_with_one_key_race():
    carol = make_user("carol")
    threads_count = 4
    body = {"prompt": "Racing to save the same thought."}
    clients = [client_for(carol) for _ in range(threads_count)]

    responses = concurrently(threads_count, lambda i: post(clients[i], "/save-prompt", body, "race-key"))

    assert [r.status_code for r in responses] == [201] * threads_count
    assert len({r.json()["memory_id"] for r in responses}) == 1
    assert sum(r.get("Idempotent-Replayed") == "true" for r in responses) == threads_count - 1
    assert Memory.objects.filter(user=carol).count() == 1
    assert Chunk.objects.filter(user=carol).count() == 1
    assert IdempotencyKey.objects.filter(user=carol).count() == 1
