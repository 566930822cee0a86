"""An import in turns: one slice per job, the next turn behind other people's, all or nothing per turn.

The jobs run here, in the worker's order (priority, then age), with the task functions the worker runs; the worker
process itself (fairness against live saves, a SIGKILL) is in memories/tests/queue/.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from procrastinate.contrib.django import app

from memories.embedding import queues
from memories.models import Chunk, ImportJob, Memory
from memories.transfer import importers, jobs
from testkit.chat_exports import write_chatgpt_export

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _small_turns(settings):
    settings.MEMORY_IMPORT_SLICE_ITEMS = 64


def queued(user, tmp_path: Path, messages: int) -> ImportJob:
    path = tmp_path / f"{user.username}-{messages}.json"
    write_chatgpt_export(path, messages)
    return jobs.import_job_create(user=user, upload=SimpleUploadedFile(path.name, path.read_bytes()))


def run_next() -> tuple[str, int] | None:
    """Run the job the worker would take next; its (import job id, position), None when the queue is empty."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, task_name, args, queue_name, lock FROM procrastinate_jobs WHERE status = 'todo'"
            " ORDER BY priority DESC, id LIMIT 1"
        )
        row = cursor.fetchone()
    if row is None:
        return None
    job_id, name, args, queue, lock = row
    args = json.loads(args) if isinstance(args, str) else args
    app.perform_import_paths()
    app.tasks[name](**args)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE id = %s", [job_id])
    if name != jobs.IMPORT_TASK:
        return run_next()  # the live embedding jobs an import's batches queue find nothing left: not a turn
    assert (queue, lock) == (queues.BULK_QUEUE, queues.BULK_LOCK)
    return args["job_id"], args.get("position", 0)


def test_it_takes_one_slice_per_turn_and_queues_the_next_behind_other_peoples_turns(alice, bob, tmp_path):
    big = queued(alice, tmp_path, 200)
    small = queued(bob, tmp_path, 40)

    turns = []
    while (turn := run_next()) is not None:
        turns.append(turn)

    a, b = str(big.pk), str(small.pk)
    # each counts its file in a turn of its own, then takes a slice per turn: bob's did not wait for alice's
    assert turns == [(a, 0), (b, 0), (a, 0), (b, 0), (a, 64), (a, 128), (a, 192)]
    big.refresh_from_db()
    small.refresh_from_db()
    assert (big.status, big.done, big.imported, small.status, small.imported) == ("done", 200, 200, "done", 40)
    assert not Chunk.objects.filter(embedding__isnull=True).exists()


def test_its_place_in_line_counts_the_other_peoples_turns_ahead(alice, bob, staff, tmp_path):
    first, second, third = (queued(person, tmp_path, 100) for person in (alice, bob, staff))

    assert [jobs.import_place_in_line(job=job) for job in (first, second, third)] == [0, 1, 2]
    run_next()  # alice's first turn (counting): her next one is queued behind bob's and staff's

    assert [jobs.import_place_in_line(job=job) for job in (first, second, third)] == [2, 0, 1]
    while run_next() is not None:
        pass
    assert jobs.import_place_in_line(job=first) is None  # ended: no turn in line


def test_a_turn_that_had_committed_does_nothing_when_its_job_runs_again(alice, tmp_path):
    job = queued(alice, tmp_path, 100)
    run_next()  # counted
    run_next()  # the first slice
    stored = Memory.objects.count()

    assert jobs.import_job_run(str(job.pk), 0) == "running"  # e.g. retried after its worker died past the commit

    job.refresh_from_db()
    assert (job.done, job.imported, Memory.objects.count()) == (64, 64, stored)


def test_a_turn_that_fails_half_way_stores_nothing_and_runs_again_from_the_same_message(alice, tmp_path, monkeypatch):
    job = queued(alice, tmp_path, 100)
    run_next()
    run_next()
    embed = importers.pending.chunks_embed_pending
    calls = []

    def failing(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            embed(**kwargs)  # the turn's first batch is stored and embedded...
            raise RuntimeError("the worker lost its database connection")  # ...then the turn fails
        return embed(**kwargs)

    monkeypatch.setattr(importers.pending, "chunks_embed_pending", failing)
    with pytest.raises(RuntimeError):
        jobs.import_job_run(str(job.pk), 64)

    job.refresh_from_db()
    assert (job.done, job.imported, Memory.objects.count()) == (64, 64, 64)  # the whole turn rolled back
    assert jobs.import_job_run(str(job.pk), 64) == "done"  # the retry reads the file again from message 64
    job.refresh_from_db()
    assert (job.done, job.imported, job.duplicates, Memory.objects.count()) == (100, 100, 0, 100)
