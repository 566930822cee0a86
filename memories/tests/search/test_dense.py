"""The dense engines behind /context: pgvector exact and HNSW, FAISS plus fresh rows, on random vectors."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models import Q
from pgvector.django import CosineDistance

from memories.models import Chunk, Memory
from memories.search import dense, indexing
from memories.tests.factories import add_chunks, exact_ids, unit_vectors

pytestmark = pytest.mark.django_db


@pytest.fixture
def crowd(bob):
    """bob owns many rows, so that an HNSW scan filtered to another user finds few of that user's rows."""
    vectors = unit_vectors(1500, seed=1)
    add_chunks(bob, vectors, per_memory=50)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE memories_chunk")
    return vectors


def ids_of(candidates):
    return [chunk_id for chunk_id, _ in candidates]


def test_it_has_an_hnsw_index_on_the_embeddings():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'chunk_embedding_hnsw_idx'")
        (definition,) = cursor.fetchone()
    assert "hnsw" in definition and "vector_cosine_ops" in definition


def test_it_gives_a_small_user_all_top_k_rows_even_when_the_planner_prefers_hnsw(alice, crowd):
    vectors = unit_vectors(30, seed=2)
    ids = add_chunks(alice, vectors)
    query = unit_vectors(1, seed=3)[0]
    with transaction.atomic(), connection.cursor() as cursor:
        # as on a big table, where the planner picks the HNSW index for the ORDER BY ... LIMIT
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL hnsw.iterative_scan = off")
        naive = list(
            Chunk.objects.filter(user=alice)
            .annotate(d=CosineDistance("embedding", query))
            .order_by("d")
            .values_list("id", flat=True)[:10]
        )
        result = dense.pgvector_search(user=alice, vector=query, limit=10)

    assert len(naive) < 10  # the hazard this guards against: a filtered HNSW scan loses the user's rows
    assert result.engine == "pgvector-exact"
    assert ids_of(result.candidates) == exact_ids(vectors, ids, query, 10)


def test_it_uses_hnsw_with_an_iterative_scan_for_large_users(alice, crowd, settings):
    settings.SEARCH_HNSW_MIN_USER_CHUNKS = 20
    vectors = unit_vectors(30, seed=4)
    ids = add_chunks(alice, vectors)
    query = vectors[7]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        result = dense.pgvector_search(user=alice, vector=query, limit=10)

    assert result.engine == "pgvector-hnsw"
    assert len(result.candidates) == 10 and set(ids_of(result.candidates)) <= set(ids)
    assert result.candidates[0][0] == ids[7] and result.candidates[0][1] == pytest.approx(0.0, abs=1e-5)
    distances = [d for _, d in result.candidates]
    assert distances == sorted(distances)


def test_it_switches_to_hnsw_at_the_configured_chunk_count(alice, settings):
    add_chunks(alice, unit_vectors(5, seed=5))
    query = unit_vectors(1, seed=6)[0]
    settings.SEARCH_HNSW_MIN_USER_CHUNKS = 6
    assert dense.dense_search(user=alice, vector=query, limit=3).engine == "pgvector-exact"
    settings.SEARCH_HNSW_MIN_USER_CHUNKS = 5
    assert dense.dense_search(user=alice, vector=query, limit=3).engine == "pgvector-hnsw"


def test_it_returns_nothing_for_a_zero_limit(alice):
    assert dense.dense_candidates(user=alice, vector=unit_vectors(1, seed=0)[0], limit=0) == []


def test_it_serves_faiss_results_equal_to_exact_search(alice, bob, faiss_backend):
    vectors = unit_vectors(200, seed=7)
    ids = add_chunks(alice, vectors, per_memory=4)
    add_chunks(bob, unit_vectors(200, seed=8))
    indexing.index_rebuild()
    for seed in range(5):
        query = unit_vectors(1, seed=100 + seed)[0]
        result = dense.dense_search(user=alice, vector=query, limit=10)
        assert result.engine == "faiss"
        assert ids_of(result.candidates) == exact_ids(vectors, ids, query, 10)
        assert ids_of(result.candidates) == ids_of(dense.pgvector_search(user=alice, vector=query, limit=10).candidates)


def test_it_keeps_users_apart_inside_the_faiss_search(alice, bob, faiss_backend):
    alice_ids = add_chunks(alice, unit_vectors(20, seed=9))
    bob_vectors = unit_vectors(300, seed=10)
    add_chunks(bob, bob_vectors)
    indexing.index_rebuild()

    result = dense.dense_search(user=alice, vector=bob_vectors[0], limit=50)  # bob's own vector: distance 0

    assert result.engine == "faiss"
    assert sorted(ids_of(result.candidates)) == sorted(alice_ids)


def test_it_merges_chunks_newer_than_the_index(alice, faiss_backend):
    old_vectors = unit_vectors(50, seed=11)
    add_chunks(alice, old_vectors)
    indexing.index_rebuild()
    query = unit_vectors(1, seed=12)[0]
    (fresh_id,) = add_chunks(alice, query.reshape(1, -1), provider="claude")

    result = dense.dense_search(user=alice, vector=query, limit=5)

    assert result.engine == "faiss"
    assert result.candidates[0] == (fresh_id, pytest.approx(0.0, abs=1e-5))
    assert len(result.candidates) == 5


def test_it_never_returns_chunks_deleted_after_the_build(alice, faiss_backend):
    vectors = unit_vectors(80, seed=13)
    ids = add_chunks(alice, vectors)
    indexing.index_rebuild()
    query = unit_vectors(1, seed=14)[0]
    nearest = exact_ids(vectors, ids, query, 30)
    Memory.objects.filter(chunks__id__in=nearest[:20]).delete()  # more than the FAISS over-fetch margin

    result = dense.dense_search(user=alice, vector=query, limit=10)

    assert result.engine == "faiss"
    assert ids_of(result.candidates) == nearest[20:30]


def test_it_applies_filters_in_both_engines(alice, settings, index_file):
    add_chunks(alice, unit_vectors(40, seed=15), provider="chatgpt")
    claude_ids = add_chunks(alice, unit_vectors(40, seed=16), provider="claude")
    indexing.index_rebuild()
    query = unit_vectors(1, seed=17)[0]
    only_claude = Q(memory__provider="claude")

    exact = dense.dense_candidates(user=alice, vector=query, limit=8, filters=only_claude)
    settings.SEARCH_BACKEND = "faiss"
    served = dense.dense_search(user=alice, vector=query, limit=8, filters=only_claude)

    assert served.engine == "faiss"
    assert ids_of(served.candidates) == ids_of(exact)
    assert set(ids_of(exact)) <= set(claude_ids) and len(exact) == 8
