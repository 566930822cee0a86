"""FAISS_INDEX_STORE=database: the build goes to PostgreSQL and every web process fetches it from there.

"The builder" is the cron job: it builds into its own directory. "The instance" is a web process on another
machine: its FAISS_INDEX_PATH (the ``index_file`` fixture) starts empty, as on a fresh Render instance.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
from io import StringIO

import pytest
from django.core.management import call_command

from memories.models import SearchIndexSnapshot, SearchIndexSnapshotPart
from memories.search import dense, indexing, search_index
from memories.tests.api.test_api_context import FACTS
from memories.tests.factories import add_chunks, unit_vectors
from testkit import client_for

pytestmark = pytest.mark.django_db

QUERIES = ["what kind of dog do I own?", "food allergy", "travel plans in spring", "my sibling's job", "running"]


@pytest.fixture
def database_store(settings, faiss_backend):
    """An instance serving FAISS from the database store, whose last snapshot check was just now."""
    settings.FAISS_INDEX_STORE = "database"
    settings.FAISS_SNAPSHOT_CHECK_SECONDS = 3600
    search_index.snapshot_sync()  # nothing stored yet: the next check is an hour away, no thread starts
    return faiss_backend


@pytest.fixture
def builder_path(tmp_path):
    return tmp_path / "cron" / "chunks.index"


def build(builder_path):
    return indexing.index_rebuild(path=builder_path)


def stored_bytes(snapshot):
    parts = SearchIndexSnapshotPart.objects.filter(snapshot=snapshot).order_by("position")
    return b"".join(bytes(data) for data in parts.values_list("data", flat=True))


def test_it_stores_the_build_in_the_database_in_parts(alice, database_store, builder_path, monkeypatch):
    monkeypatch.setattr(indexing, "SNAPSHOT_PART_BYTES", 4096)
    ids = add_chunks(alice, unit_vectors(20, seed=1))

    result = build(builder_path)

    snapshot = SearchIndexSnapshot.objects.get()
    file_bytes = builder_path.read_bytes()
    assert result.snapshot_id == snapshot.pk
    assert (snapshot.rows, snapshot.max_chunk_id, snapshot.dimension) == (20, max(ids), 384)
    assert snapshot.size == len(file_bytes) and snapshot.sha256 == hashlib.sha256(file_bytes).hexdigest()
    assert snapshot.parts.count() == -(-len(file_bytes) // 4096) > 1
    assert stored_bytes(snapshot) == file_bytes
    sidecar = json.loads(search_index.sidecar_path(builder_path).read_text())
    assert sidecar["sha256"] == snapshot.sha256 and snapshot.sidecar["users"] == sidecar["users"]
    assert "index_key" not in snapshot.sidecar  # each machine records its own file's stat


def test_it_stores_nothing_in_the_database_with_the_file_store(alice, index_file):
    add_chunks(alice, unit_vectors(3, seed=2))

    assert indexing.index_rebuild().snapshot_id is None
    assert not SearchIndexSnapshot.objects.exists()


def test_it_keeps_only_the_newest_snapshots(alice, database_store, builder_path, settings):
    settings.FAISS_SNAPSHOT_KEEP = 2
    add_chunks(alice, unit_vectors(3, seed=3))

    ids = [build(builder_path).snapshot_id for _ in range(3)]

    assert list(SearchIndexSnapshot.objects.order_by("id").values_list("id", flat=True)) == ids[1:]
    assert not SearchIndexSnapshotPart.objects.filter(snapshot_id=ids[0]).exists()


def test_a_fresh_instance_gets_the_index_from_the_database_and_serves_the_same_results(
    alice, bob, database_store, builder_path
):
    alice_client, bob_client = client_for(alice), client_for(bob)
    for fact in FACTS:
        alice_client.post("/save-prompt", {"prompt": fact, "provider": "chatgpt"}, format="json")
        bob_client.post("/save-prompt", {"prompt": fact + " (bob)", "provider": "claude"}, format="json")
    snapshot_id = build(builder_path).snapshot_id
    assert not database_store.exists()

    def answers():
        return [alice_client.get(f"/context/{alice.pk}", {"query": q, "top_k": "3"}).json() for q in QUERIES]

    with_pgvector = answers()  # the instance has no index yet
    assert search_index.snapshot_sync() == "fetched"
    with_fetched_index = answers()

    assert with_fetched_index == with_pgvector
    assert database_store.read_bytes() == builder_path.read_bytes()
    assert search_index.current_index().meta["snapshot_id"] == snapshot_id
    query = unit_vectors(1, seed=4)[0]
    assert dense.dense_search(user=alice, vector=query, limit=3).engine == "faiss"
    status = search_index.index_status()
    assert status["state"] == "ok" and status["serving"] == "faiss" and status["store"] == "database"
    assert status["snapshot"]["newest_id"] == status["snapshot"]["local_id"] == snapshot_id
    assert status["snapshot"]["in_sync"] is True
    assert search_index.snapshot_sync() == "current"  # nothing newer: no second download


def test_it_replaces_an_older_local_index_with_a_newer_snapshot(alice, database_store, builder_path):
    add_chunks(alice, unit_vectors(5, seed=5))
    build(builder_path)
    search_index.snapshot_sync()
    first = search_index.current_index()
    new_ids = add_chunks(alice, unit_vectors(4, seed=6))
    second_id = build(builder_path).snapshot_id

    assert search_index.index_status()["snapshot"]["in_sync"] is False
    assert search_index.snapshot_sync() == "fetched"

    second = search_index.current_index()
    assert second is not first and second.max_chunk_id == max(new_ids) and second.user_rows(alice.pk) == 9
    assert second.meta["snapshot_id"] == second_id


def test_it_keeps_a_local_build_newer_than_the_newest_snapshot(alice, database_store, builder_path, settings):
    add_chunks(alice, unit_vectors(3, seed=7))
    build(builder_path)
    settings.FAISS_INDEX_STORE = "file"
    indexing.index_rebuild()  # built on this machine after the snapshot, e.g. by hand
    settings.FAISS_INDEX_STORE = "database"
    local = database_store.read_bytes()

    assert search_index.snapshot_sync() == "current"
    assert database_store.read_bytes() == local


def corrupt(snapshot, how):
    parts = SearchIndexSnapshotPart.objects.filter(snapshot=snapshot)
    if how == "data":  # same size, different bytes
        part = parts.get(position=0)
        parts.filter(pk=part.pk).update(data=b"\x00" * len(bytes(part.data)))
    elif how == "sha":
        SearchIndexSnapshot.objects.filter(pk=snapshot.pk).update(sha256="0" * 64)
    else:
        parts.delete()


@pytest.mark.parametrize("how", ["data", "sha", "missing parts"])
def test_it_refuses_a_corrupt_snapshot_and_searches_with_pgvector(alice, database_store, builder_path, caplog, how):
    client = client_for(alice)
    for fact in FACTS:
        client.post("/save-prompt", {"prompt": fact, "provider": "chatgpt"}, format="json")
    snapshot = SearchIndexSnapshot.objects.get(pk=build(builder_path).snapshot_id)
    corrupt(snapshot, how)

    with caplog.at_level(logging.ERROR, logger="memories.search.search_index"):
        assert search_index.snapshot_sync() == "refused"
    response = client.get(f"/context/{alice.pk}", {"query": "what kind of dog do I own?"})

    assert response.status_code == 200 and "golden retriever" in response.json()["contexts"][0]
    assert not database_store.exists() and list(database_store.parent.glob("*.tmp")) == []
    assert dense.dense_search(user=alice, vector=unit_vectors(1, seed=8)[0], limit=2).engine == "pgvector-exact"
    assert any("refused" in r.getMessage() for r in caplog.records)
    status = search_index.index_status()
    assert status["state"] == "missing" and status["serving"] == "pgvector"
    assert "not installed" in status["snapshot"]["refused"][str(snapshot.pk)]
    assert search_index.snapshot_sync() == "refused"  # remembered: not downloaded again every interval


def test_a_refused_snapshot_leaves_the_previous_index_serving(alice, database_store, builder_path):
    add_chunks(alice, unit_vectors(6, seed=9))
    first_id = build(builder_path).snapshot_id
    search_index.snapshot_sync()
    add_chunks(alice, unit_vectors(2, seed=10))
    second = SearchIndexSnapshot.objects.get(pk=build(builder_path).snapshot_id)
    corrupt(second, "data")

    assert search_index.snapshot_sync() == "refused"

    assert search_index.current_index().meta["snapshot_id"] == first_id
    assert dense.dense_search(user=alice, vector=unit_vectors(1, seed=11)[0], limit=3).engine == "faiss"
    assert search_index.index_status()["snapshot"]["in_sync"] is False


def test_it_leaves_the_fetch_to_the_process_holding_the_lock(alice, database_store, builder_path):
    add_chunks(alice, unit_vectors(3, seed=12))
    snapshot_id = build(builder_path).snapshot_id
    database_store.parent.mkdir(parents=True, exist_ok=True)
    with open(database_store.with_name(database_store.name + ".fetch.lock"), "a") as other_worker:
        fcntl.flock(other_worker, fcntl.LOCK_EX)
        result = indexing.index_fetch()

    assert (result.snapshot_id, result.outcome) == (snapshot_id, "busy") and not database_store.exists()
    assert indexing.index_fetch().outcome == "fetched"


def test_it_reports_no_snapshot_before_the_first_build(database_store):
    status = search_index.index_status()

    assert status["snapshot"]["newest_id"] is None and status["snapshot"]["in_sync"] is False
    assert indexing.index_fetch().outcome == "none"


def test_the_commands_store_and_fetch_snapshots(alice, database_store, builder_path, settings):
    add_chunks(alice, unit_vectors(4, seed=13))
    settings.FAISS_INDEX_PATH = str(builder_path)
    out = StringIO()
    call_command("rebuild_index", stdout=out, verbosity=0)
    snapshot_id = SearchIndexSnapshot.objects.get().pk
    assert f"Stored in the database as snapshot {snapshot_id}." in out.getvalue()

    settings.FAISS_INDEX_PATH = str(database_store)
    out = StringIO()
    call_command("index_status", "--json", "--check", stdout=out)

    status = json.loads(out.getvalue())
    assert status["state"] == "ok" and status["indexed_rows"] == 4
    assert status["snapshot"]["local_id"] == snapshot_id and status["snapshot"]["in_sync"] is True
    out = StringIO()
    call_command("verify_index", "--sample", "4", stdout=out)
    assert "recall@10: 1.0000" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_web_process_fetches_in_the_background_at_most_once_per_interval(
    alice, settings, faiss_backend, builder_path
):
    settings.FAISS_INDEX_STORE = "database"
    settings.FAISS_SNAPSHOT_CHECK_SECONDS = 3600
    add_chunks(alice, unit_vectors(8, seed=14))
    first_id = build(builder_path).snapshot_id
    query = unit_vectors(1, seed=15)[0]

    dense.dense_search(user=alice, vector=query, limit=3)  # starts the check; this search does not wait for it
    search_index.wait_for_snapshot_sync()

    assert dense.dense_search(user=alice, vector=query, limit=3).engine == "faiss"
    assert search_index.current_index().meta["snapshot_id"] == first_id
    add_chunks(alice, unit_vectors(2, seed=16))
    build(builder_path)
    dense.dense_search(user=alice, vector=query, limit=3)
    search_index.wait_for_snapshot_sync()
    assert search_index.current_index().meta["snapshot_id"] == first_id  # next check only after the interval


@pytest.mark.django_db(transaction=True)
def test_a_failed_background_fetch_is_reported_and_searches_go_on(alice, settings, faiss_backend, builder_path, caplog):
    settings.FAISS_INDEX_STORE = "database"
    settings.FAISS_SNAPSHOT_CHECK_SECONDS = 3600
    add_chunks(alice, unit_vectors(4, seed=17))
    build(builder_path)
    faiss_backend.parent.parent.mkdir(parents=True, exist_ok=True)
    faiss_backend.parent.write_text("a file where the index directory should be")  # the fetch cannot write
    query = unit_vectors(1, seed=18)[0]

    with caplog.at_level(logging.WARNING, logger="memories.search.search_index"):
        dense.dense_search(user=alice, vector=query, limit=3)
        search_index.wait_for_snapshot_sync()

    assert dense.dense_search(user=alice, vector=query, limit=3).engine == "pgvector-exact"
    assert any("snapshot check failed" in r.getMessage() for r in caplog.records)
    assert "Error" in search_index.index_status()["snapshot"]["last_error"]


# --- The interface: one store object, chosen by the setting ------------------------------------------------


def test_it_picks_the_store_the_setting_names_once_per_value(settings):
    from memories.search.index_store import FileStore, index_store

    settings.FAISS_INDEX_STORE = "file"
    assert isinstance(index_store(), FileStore) and index_store() is index_store()
    settings.FAISS_INDEX_STORE = "database"
    assert isinstance(index_store(), indexing.DatabaseStore) and index_store().name == "database"


def test_the_file_store_keeps_no_snapshot_and_adds_nothing_to_the_status(settings, faiss_backend):
    settings.FAISS_INDEX_STORE = "file"
    result = indexing.index_rebuild()
    assert result.snapshot_id is None and not SearchIndexSnapshot.objects.exists()
    status = search_index.index_status()
    assert status["store"] == "file" and "snapshot" not in status
