"""The staff commands: rebuild_index, index_status, reembed, verify_index."""

from __future__ import annotations

import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from memories.embedding import embeddings
from memories.models import Chunk, ReembedRun
from memories.search import indexing
from memories.services import embedding_input, memory_save
from memories.tests.factories import add_chunks, unit_vectors
from testkit import run_queued_jobs

pytestmark = pytest.mark.django_db


def run(*args, **options):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_it_rebuilds_the_index_with_a_progress_bar(alice, index_file):
    add_chunks(alice, unit_vectors(25, seed=1))

    out, err = run("rebuild_index", "--batch-size", "10")

    assert "Indexed 25 chunks of 1 users" in out and str(index_file) in out
    assert "25/25" in err  # tqdm's bar
    assert index_file.exists()


def test_it_prints_the_index_status_as_json(alice, index_file):
    add_chunks(alice, unit_vectors(3, seed=2))
    run("rebuild_index", verbosity=0)

    out, _ = run("index_status", "--json")

    status = json.loads(out)
    assert status["state"] == "ok" and status["indexed_rows"] == status["stored_rows"] == 3
    assert status["model"] == "sentence-transformers/all-MiniLM-L6-v2"


def test_it_prints_the_status_as_lines_and_fails_the_check_when_missing(index_file):
    out, _ = run("index_status")
    assert "state: missing" in out
    with pytest.raises(CommandError, match="index is missing"):
        run("index_status", "--check")


def scramble(chunks):
    for chunk, vector in zip(chunks, unit_vectors(len(chunks), seed=99), strict=True):
        Chunk.objects.filter(pk=chunk.pk).update(embedding=vector)


def model_vector(chunk):
    memory = chunk.memory
    text = embedding_input(kind=memory.kind, chunk_text=chunk.text, prompt=memory.prompt)
    return embeddings.embed([text])[0]


def stored(chunk):
    return np.asarray(Chunk.objects.get(pk=chunk.pk).embedding, dtype=np.float32)


@pytest.fixture
def saved(alice, bob):
    memory_save(user=alice, kind="prompt", provider="chatgpt", text="How do I prune tomato plants?")
    memory_save(
        user=alice, kind="response", provider="claude", text="Pinch off the suckers weekly.", prompt="Tomato care?"
    )
    memory_save(user=bob, kind="prompt", provider="grok", text="Best hiking boots for wet weather?")
    memory_save(user=bob, kind="prompt", provider="grok", text="Is Gore-Tex worth it?")
    return list(Chunk.objects.select_related("memory").order_by("id"))


def test_it_reembeds_every_chunk_with_the_model(saved, index_file):
    scramble(saved)

    out, err = run("reembed", "--batch-size", "3")

    assert "Re-embedded 4 chunks" in out and "4/4" in err
    for chunk in saved:
        assert float(stored(chunk) @ model_vector(chunk)) > 0.999


def test_it_resumes_an_interrupted_reembed_where_it_stopped(saved, index_file):
    scramble(saved)
    indexing.chunks_reembed(batch_size=2, user_id=None)  # the run that will be "interrupted"
    scramble(saved)
    ReembedRun.objects.update(last_chunk_id=saved[1].pk, finished_at=None)  # as if stopped after the first batch

    out, _ = run("reembed", "--batch-size", "2")

    assert "Re-embedded 2 chunks" in out and f"resumed after chunk id {saved[1].pk}" in out
    assert [float(stored(c) @ model_vector(c)) > 0.999 for c in saved] == [False, False, True, True]
    assert "Re-embedded 0 chunks" in run("reembed")[0]  # finished: a second run has nothing left
    assert "Re-embedded 4 chunks" in run("reembed", "--restart")[0]


def test_it_reembeds_only_one_users_chunks(saved, alice, index_file):
    scramble(saved)

    out, _ = run("reembed", "--user", str(alice.pk))

    assert "Re-embedded 2 chunks" in out
    assert [float(stored(c) @ model_vector(c)) > 0.999 for c in saved] == [True, True, False, False]


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--batch-size", "0"], "at least 1"), (["--user", "00000000-0000-0000-0000-000000000000"], "No user")],
)
def test_it_refuses_bad_reembed_arguments(args, message, index_file):
    with pytest.raises(CommandError, match=message):
        run("reembed", *args)


def test_it_verifies_the_index_against_exact_search(alice, bob, index_file):
    add_chunks(alice, unit_vectors(60, seed=3))
    add_chunks(bob, unit_vectors(40, seed=4))
    run("rebuild_index", verbosity=0)

    out, _ = run("verify_index", "--sample", "20", "--seed", "1", "--min-recall", "1.0")

    assert "queries: 20" in out and "recall@10: 1.0000" in out and "matched in 20 of 20" in out


def test_it_reports_lower_recall_once_vectors_changed_under_the_index(alice, index_file):
    chunks = list(Chunk.objects.filter(pk__in=add_chunks(alice, unit_vectors(60, seed=5))))
    run("rebuild_index", verbosity=0)
    scramble(chunks[:40])  # as if re-embedded without a rebuild

    with pytest.raises(CommandError, match=r"below 0\.99"):
        run("verify_index", "--sample", "10", "--seed", "2", "--min-recall", "0.99")


def test_it_refuses_to_verify_without_an_index(index_file):
    with pytest.raises(CommandError, match="index is missing"):
        run("verify_index")
    with pytest.raises(CommandError, match="at least 1"):
        run("verify_index", "--sample", "0")


def test_reembed_queue_hands_the_run_to_the_worker(saved, index_file):
    scramble(saved)

    out, _ = run("reembed", "--queue", "--batch-size", "3")

    assert "Queued re-embedding as job" in out
    assert run_queued_jobs("memories.reembed") == 3  # turns of one batch each, the last finding none left
    for chunk in saved:
        assert float(stored(chunk) @ model_vector(chunk)) > 0.999
    (run_row,) = ReembedRun.objects.all()  # its progress is in the database: every instance sees it
    assert (run_row.chunks, run_row.last_chunk_id, run_row.finished_at is not None) == (4, saved[-1].pk, True)


def test_a_queued_reembed_turn_that_already_ran_does_nothing_again(saved, index_file):
    from memories import tasks

    scramble(saved)
    assert tasks.reembed(batch_size=2, user_id=None, restart=False) == 2  # the first turn: two chunks
    moved = ReembedRun.objects.get().last_chunk_id

    assert tasks.reembed(batch_size=2, user_id=None, restart=False, after=saved[0].pk) == 0  # a stale turn

    assert ReembedRun.objects.get().last_chunk_id == moved == saved[1].pk
    assert [float(stored(c) @ model_vector(c)) > 0.999 for c in saved] == [True, True, False, False]
