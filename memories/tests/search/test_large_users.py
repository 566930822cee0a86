"""/context for users above SEARCH_HNSW_MIN_USER_CHUNKS: the dense engine (HNSW or FAISS) picks the pool."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.services import space_create
from memories.embedding import embeddings
from memories.search import dense
from memories.tests.api.test_api_context import FACTS, context, save

pytestmark = pytest.mark.django_db


@pytest.fixture
def large(settings):
    settings.SEARCH_HNSW_MIN_USER_CHUNKS = 3  # alice's six facts make her a "large" user
    settings.CONTEXT_LARGE_USER_POOL = 2  # so the pool is really a subset of her chunks


def test_it_takes_the_large_user_path_above_the_threshold(alice, alice_client, large):
    for fact in FACTS:
        save(alice_client, fact)
    assert dense.large_user(alice)


def test_it_finds_the_paraphrased_memory_through_hnsw(alice, alice_client, large):
    for fact in FACTS:
        save(alice_client, fact)
    body = context(alice_client, alice, query="what kind of dog do I own?").json()
    assert "golden retriever" in body["contexts"][0]


def test_it_finds_the_paraphrased_memory_through_faiss(alice, bob, alice_client, bob_client, large, faiss_backend):
    for fact in FACTS:
        save(alice_client, fact)
    save(bob_client, "Bob's dog is a grey whippet called Dash.")
    call_command("rebuild_index", verbosity=0)
    assert dense.dense_search(user=alice, vector=embeddings.embed(["dog"])[0], limit=2).engine == "faiss"
    body = context(alice_client, alice, query="what kind of dog do I own?").json()
    assert "golden retriever" in body["contexts"][0]
    assert all("whippet" not in text for text in body["contexts"])


def test_it_keeps_keyword_matches_outside_the_dense_pool(alice, alice_client, large):
    for fact in FACTS:
        save(alice_client, fact)
    body = context(alice_client, alice, query="Berlin", top_k=3).json()
    assert any("Berlin" in text for text in body["contexts"])


def test_it_applies_filters_inside_the_dense_engine(alice, alice_client, large):
    for fact in FACTS:
        save(alice_client, fact)
    save(alice_client, "My dog Max loves the beach.", provider="grok")
    body = context(alice_client, alice, query="my dog", provider="grok").json()
    assert body["count"] == 1 and "beach" in body["contexts"][0]


@pytest.mark.parametrize("engine", ["pgvector", "faiss"])
def test_it_never_returns_another_spaces_chunks_from_the_dense_engine(
    alice, alice_client, large, settings, index_file, engine
):
    settings.SEARCH_BACKEND = engine
    work = space_create(user=alice, name="Work")
    for fact in FACTS:
        save(alice_client, fact)
    save(alice_client, "Our office dog is a black labrador.", space=work.pk)
    call_command("rebuild_index", verbosity=0)

    personal = context(alice_client, alice, query="what kind of dog is there?", min_score=-1).json()
    in_work = alice_client.get(
        f"/context/{alice.pk}", {"query": "what kind of dog is there?", "min_score": -1, "space": work.pk}
    ).json()

    assert personal["count"] and all("labrador" not in text for text in personal["contexts"])
    assert in_work["count"] == 1 and "labrador" in in_work["contexts"][0]
