from __future__ import annotations

import pytest
from django.test import override_settings

from memories import services
from memories.embedding import embeddings
from memories.models import Chunk, Memory

pytestmark = pytest.mark.django_db


def test_it_keeps_every_chunk_inside_the_models_window():
    text = " ".join(f"token{i}" for i in range(3000))
    pieces = services.chunk_texts(kind="prompt", text=text)
    assert len(pieces) > 1
    assert all(embeddings.count_tokens(p) <= 254 for p in pieces)


def test_it_overlaps_consecutive_chunks():
    text = " ".join(f"w{i}" for i in range(1000))
    pieces = services.chunk_texts(kind="prompt", text=text)
    first_tail = pieces[0].split()[-3:]
    assert all(word in pieces[1] for word in first_tail)


def test_it_leaves_room_for_the_prompt_in_answer_chunks():
    prompt = "why " * 200
    pieces = services.chunk_texts(kind="response", text="answer " * 600, prompt=prompt)
    for piece in pieces:
        model_input = services.embedding_input(kind="response", chunk_text=piece, prompt=prompt)
        assert embeddings.count_tokens(model_input) <= 254


def test_it_hashes_kind_prompt_and_text_together():
    a = services.content_hash(kind="prompt", text="x")
    assert a == services.content_hash(kind="prompt", text=" x ")
    assert a != services.content_hash(kind="response", text="x")
    assert services.content_hash(kind="response", text="x", prompt="p") != services.content_hash(
        kind="response", text="x"
    )


def test_memory_save_writes_a_memory_and_its_chunks(alice):
    result = services.memory_save(user=alice, kind="prompt", provider="claude", text="I collect vinyl records.")
    assert result.chunks_stored == 1 and not result.duplicate
    assert Memory.objects.get().pk == result.stored.pk
    assert Chunk.objects.get().memory_id == result.stored.pk


def test_memory_save_is_idempotent_per_text(alice):
    services.memory_save(user=alice, kind="prompt", provider="claude", text="same")
    again = services.memory_save(user=alice, kind="prompt", provider="gemini", text="same")
    assert again.duplicate and again.chunks_stored == 0 and Memory.objects.count() == 1


@override_settings(EMBEDDING_MAX_TOKENS=32, EMBEDDING_CHUNK_OVERLAP_TOKENS=4)
def test_chunk_size_and_overlap_are_settings():
    pieces = services.chunk_texts(kind="prompt", text=" ".join(f"w{i}" for i in range(200)))
    assert all(embeddings.count_tokens(p) <= 30 for p in pieces)
    assert len(pieces) >= 200 * 2 // 30


def _prompt(user, text, *, minutes_ago, provider="chatgpt", kind="prompt", prompt=""):
    from datetime import timedelta

    from django.utils import timezone

    return services.memory_save(
        user=user,
        kind=kind,
        provider=provider,
        text=text,
        prompt=prompt,
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
    ).memory


def test_it_indexes_a_prompt_with_the_tail_of_the_conversations_previous_message(alice):
    _prompt(alice, "Melanie: I took the kids camping at the lake last weekend.", minutes_ago=10)
    reply = _prompt(alice, "Caroline: That sounds lovely! Did they enjoy it?", minutes_ago=9)

    chunk = Chunk.objects.get(memory=reply)
    assert chunk.text == "Caroline: That sounds lovely! Did they enjoy it?"
    assert chunk.search_text == (
        "Melanie: I took the kids camping at the lake last weekend.\nCaroline: That sounds lovely! Did they enjoy it?"
    )
    assert Memory.objects.get(pk=reply.pk).text == chunk.text
    # the context goes into the keyword index only; the embedding is of the message itself
    own = embeddings.embed([chunk.text])[0]
    assert float(own @ chunk.embedding) == pytest.approx(1.0, abs=1e-4)


@override_settings(MEMORY_CONVERSATION_WINDOW_EMBED=True)
def test_it_can_embed_a_prompt_with_its_conversation_context(alice):
    _prompt(alice, "Melanie: I took the kids camping at the lake last weekend.", minutes_ago=10)
    chunk = Chunk.objects.get(memory=_prompt(alice, "Caroline: Did they enjoy it?", minutes_ago=9))
    with_context = embeddings.embed([chunk.search_text])[0]
    assert float(with_context @ chunk.embedding) == pytest.approx(1.0, abs=1e-4)


@override_settings(MEMORY_CONVERSATION_WINDOW_TOKENS=4)
def test_it_keeps_only_the_tail_of_a_long_previous_message(alice):
    _prompt(alice, "one two three four five six seven eight", minutes_ago=2)
    reply = _prompt(alice, "nine", minutes_ago=1)
    assert Chunk.objects.get(memory=reply).search_text == "… five six seven eight\nnine"


@pytest.mark.parametrize(
    ("previous", "follower"),
    [
        ({"minutes_ago": 60}, {"minutes_ago": 1}),  # outside the 30-minute window
        ({"minutes_ago": 2, "provider": "claude"}, {"minutes_ago": 1}),  # another conversation
        ({"minutes_ago": 1}, {"minutes_ago": 2}),  # saved later, but said earlier (a backfill)
        ({"minutes_ago": 2}, {"minutes_ago": 1, "kind": "response", "prompt": "q"}),  # answers carry their prompt
    ],
)
def test_it_indexes_a_memory_alone_outside_a_conversation(alice, previous, follower):
    _prompt(alice, "earlier message", **previous)
    memory = _prompt(alice, "the new message", **follower)
    assert "earlier message" not in Chunk.objects.get(memory=memory).search_text


def test_it_never_takes_context_from_another_user(alice, bob):
    _prompt(bob, "bob's message", minutes_ago=2)
    memory = _prompt(alice, "alice's message", minutes_ago=1)
    assert Chunk.objects.get(memory=memory).search_text == "alice's message"


@override_settings(MEMORY_CONVERSATION_WINDOW_MINUTES=0)
def test_the_conversation_window_can_be_turned_off(alice):
    _prompt(alice, "earlier message", minutes_ago=2)
    memory = _prompt(alice, "the new message", minutes_ago=1)
    assert Chunk.objects.get(memory=memory).search_text == "the new message"


def test_it_indexes_an_answer_with_its_prompt(alice):
    memory = _prompt(alice, "Seven minutes.", minutes_ago=1, kind="response", prompt="How long to boil an egg?")
    assert Chunk.objects.get(memory=memory).search_text == "How long to boil an egg?\nSeven minutes."
