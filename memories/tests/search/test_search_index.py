"""The FAISS index file: atomic build, status, lazy reload, fallback to pgvector, and what users see."""

from __future__ import annotations

import json
import logging
import os
from datetime import timedelta

import pytest
from django.utils import timezone

from memories.models import Memory, ReembedRun
from memories.search import dense, indexing, search_index
from memories.tests.factories import add_chunks, unit_vectors
from testkit import client_for

pytestmark = pytest.mark.django_db


def test_it_writes_the_index_and_its_sidecar_atomically(alice, bob, index_file):
    alice_ids = add_chunks(alice, unit_vectors(30, seed=1))
    bob_ids = add_chunks(bob, unit_vectors(20, seed=2))

    result = indexing.index_rebuild(batch_size=7)

    meta = json.loads(search_index.sidecar_path(index_file).read_text())
    assert result.rows == meta["rows"] == 50 and result.users == 2
    assert meta["max_chunk_id"] == max(alice_ids + bob_ids) == result.max_chunk_id
    assert meta["model"] == "sentence-transformers/all-MiniLM-L6-v2" and meta["dimension"] == 384
    assert sorted(end - start for start, end in meta["users"].values()) == [20, 30]
    assert sorted(os.listdir(index_file.parent)) == ["chunks.index", "chunks.index.json"]  # no temp files left


def test_it_builds_an_empty_index_from_an_empty_table(index_file):
    assert indexing.index_rebuild().rows == 0
    assert search_index.index_status(load_index=True)["state"] == "ok"


def test_it_reports_a_missing_index_and_searches_with_pgvector(alice, faiss_backend):
    add_chunks(alice, unit_vectors(5, seed=3))

    status = search_index.index_status()

    assert status["state"] == "missing" and status["serving"] == "pgvector" and status["stored_rows"] == 5
    assert dense.dense_search(user=alice, vector=unit_vectors(1, seed=4)[0], limit=3).engine == "pgvector-exact"


def test_it_reports_a_healthy_index_with_counts(alice, faiss_backend):
    add_chunks(alice, unit_vectors(12, seed=5))
    indexing.index_rebuild()
    add_chunks(alice, unit_vectors(3, seed=6))
    Memory.objects.filter(user=alice).order_by("id")[0].delete()

    status = search_index.index_status()

    assert status["state"] == "ok" and status["serving"] == "faiss"
    assert (status["indexed_rows"], status["stored_rows"], status["unindexed_rows"], status["deleted_rows"]) == (
        12,
        14,
        3,
        1,
    )


def test_it_reports_stale_when_many_chunks_are_newer_than_the_index(alice, faiss_backend, settings):
    settings.FAISS_STALE_AFTER_ROWS = 2
    add_chunks(alice, unit_vectors(4, seed=7))
    indexing.index_rebuild()
    add_chunks(alice, unit_vectors(2, seed=8))

    status = search_index.index_status()

    assert status["state"] == "stale" and status["serving"] == "faiss" and "rebuild_index" in status["detail"]


def test_it_reports_stale_after_a_reembed_until_the_next_rebuild(alice, faiss_backend):
    add_chunks(alice, unit_vectors(4, seed=15))
    indexing.index_rebuild()
    later = timezone.now() + timedelta(days=1)
    ReembedRun.objects.create(model="m", scope="all", last_chunk_id=4, chunks=4, updated_at=later)

    assert search_index.index_status()["state"] == "stale"
    assert "re-embedded" in search_index.index_status()["detail"]
    ReembedRun.objects.update(updated_at=timezone.now() - timedelta(days=1))
    assert search_index.index_status()["state"] == "ok"


def test_it_stops_using_an_index_built_with_another_model(alice, faiss_backend, settings):
    add_chunks(alice, unit_vectors(4, seed=9))
    indexing.index_rebuild()
    settings.EMBEDDING_MODEL_NAME = "some/other-model"

    status = search_index.index_status()

    assert status["state"] == "stale" and status["serving"] == "pgvector" and "reembed" in status["detail"]
    assert dense.dense_search(user=alice, vector=unit_vectors(1, seed=10)[0], limit=2).engine == "pgvector-exact"


def _damage_keeping_size_and_mtime(path):
    st = path.stat()
    path.write_bytes(b"\x00garbage" * (st.st_size // 8) + b"\x00" * (st.st_size % 8))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "sidecar"])
def test_it_falls_back_to_pgvector_on_a_corrupt_index_without_an_error(alice, faiss_backend, caplog, damage):
    from memories.tests.api.test_api_context import FACTS

    client = client_for(alice)
    for fact in FACTS:
        client.post("/save-prompt", {"prompt": fact, "provider": "chatgpt"}, format="json")
    indexing.index_rebuild()
    if damage == "truncate":
        faiss_backend.write_bytes(faiss_backend.read_bytes()[:100])
    elif damage == "garbage":
        _damage_keeping_size_and_mtime(faiss_backend)
    else:
        search_index.sidecar_path(faiss_backend).write_text("{not json")

    with caplog.at_level(logging.WARNING, logger="memories.search.search_index"):
        response = client.get(f"/context/{alice.pk}", {"query": "what kind of dog do I own?"})
        client.get(f"/context/{alice.pk}", {"query": "a second search"})

    assert response.status_code == 200
    assert "golden retriever" in response.json()["contexts"][0]
    assert search_index.index_status()["state"] == "corrupt"
    warnings = [r for r in caplog.records if "FAISS index unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once per broken file, not on every search


def test_it_picks_up_a_rebuilt_index_without_a_restart(alice, faiss_backend):
    add_chunks(alice, unit_vectors(10, seed=11))
    indexing.index_rebuild()
    first = search_index.current_index()
    assert search_index.current_index() is first  # unchanged files: no reload

    new_ids = add_chunks(alice, unit_vectors(5, seed=12))
    indexing.index_rebuild()
    second = search_index.current_index()

    assert second is not first and second.max_chunk_id == max(new_ids) and second.user_rows(alice.pk) == 15


def test_it_recovers_when_a_broken_index_is_rebuilt(alice, faiss_backend):
    add_chunks(alice, unit_vectors(10, seed=13))
    indexing.index_rebuild()
    faiss_backend.write_bytes(b"broken")
    query = unit_vectors(1, seed=14)[0]
    assert dense.dense_search(user=alice, vector=query, limit=3).engine == "pgvector-exact"

    indexing.index_rebuild()

    assert dense.dense_search(user=alice, vector=query, limit=3).engine == "faiss"


QUERIES = [
    "what kind of dog do I own?",
    "food allergy",
    "travel plans in spring",
    "my sibling's job",
    "my running races",
]


def test_it_shows_users_the_same_context_with_either_engine(alice, bob, settings, index_file):
    from memories.tests.api.test_api_context import FACTS

    alice_client, bob_client = client_for(alice), client_for(bob)
    for fact in FACTS[:4]:
        alice_client.post("/save-prompt", {"prompt": fact, "provider": "chatgpt"}, format="json")
        bob_client.post("/save-prompt", {"prompt": fact + " (bob)", "provider": "claude"}, format="json")
    indexing.index_rebuild()
    for fact in FACTS[4:]:  # saved after the build: searched exactly and merged
        alice_client.post("/save-prompt", {"prompt": fact, "provider": "gemini"}, format="json")
    Memory.objects.filter(user=alice, text=FACTS[0]).delete()  # deleted after the build

    def answers(backend):
        settings.SEARCH_BACKEND = backend
        return [alice_client.get(f"/context/{alice.pk}", {"query": q, "top_k": "3"}).json() for q in QUERIES]

    with_pgvector, with_faiss = answers("pgvector"), answers("faiss")

    assert with_faiss == with_pgvector
    assert search_index.index_status()["serving"] == "faiss"
    assert all("golden retriever" not in text for body in with_faiss for text in body["contexts"])
    assert all("(bob)" not in text for body in with_faiss for text in body["contexts"])
    assert any("Berlin" in text for body in with_faiss for text in body["contexts"])
