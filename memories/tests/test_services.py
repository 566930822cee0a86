from __future__ import annotations

import pytest
from django.test import override_settings

from memories import embeddings, services
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
    assert Memory.objects.get().pk == result.memory.pk
    assert Chunk.objects.get().memory_id == result.memory.pk


def test_memory_save_is_idempotent_per_text(alice):
    services.memory_save(user=alice, kind="prompt", provider="claude", text="same")
    again = services.memory_save(user=alice, kind="prompt", provider="gemini", text="same")
    assert again.duplicate and again.chunks_stored == 0 and Memory.objects.count() == 1


@override_settings(EMBEDDING_MAX_TOKENS=32, EMBEDDING_CHUNK_OVERLAP_TOKENS=4)
def test_chunk_size_and_overlap_are_settings():
    pieces = services.chunk_texts(kind="prompt", text=" ".join(f"w{i}" for i in range(200)))
    assert all(embeddings.count_tokens(p) <= 30 for p in pieces)
    assert len(pieces) >= 200 * 2 // 30
