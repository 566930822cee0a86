"""The task queue for real: committed data, the worker in its own process, a SIGKILL mid-batch.

These tests use ``transactional_db`` (the worker's connections must see what the test committed) and run saves
without MEMORY_EMBED_INLINE, as production does.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from procrastinate.contrib.django import app

from core.embedded_db import embedded_database_url
from memories import services, tasks
from memories.embedding import pending, queues
from memories.models import Chunk, ImportJob, ImportStatus, Memory
from memories.transfer import jobs as import_jobs
from testkit import client_for
from testkit.chat_exports import write_chatgpt_export
from testkit.processes import PYTHON, Served, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ANSWER = " ".join(
    f"Point {i}: keep the sourdough starter at room temperature and feed it flour and water daily."
    for i in range(1, 30)
)


@pytest.fixture(autouse=True)
def _queued(settings):
    settings.MEMORY_EMBED_INLINE = False
    # procrastinate's tables are not Django models the test flush knows: start each test with an empty queue.
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE procrastinate_jobs, procrastinate_workers CASCADE")


def jobs(status: str | None = None, task: str = pending.EMBED_TASK) -> list[tuple[int, str, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, status, attempts FROM procrastinate_jobs WHERE task_name = %s"
            + (" AND status = %s" if status else "")
            + " ORDER BY id",
            [task, status] if status else [task],
        )
        return list(cursor.fetchall())


ROOT = Path(settings.BASE_DIR)


def worker_env(**extra: str) -> dict[str, str]:
    """The environment `make run` gives its worker, pointed at this session's test database."""
    if os.environ.get("DATABASE_URL"):
        url = urlsplit(os.environ["DATABASE_URL"])
    else:
        embedded = settings.DATABASES["default"]["EMBEDDED"]
        url = urlsplit(embedded_database_url(embedded["pgdata"], cleanup=embedded["cleanup"]))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "EMBEDDED_"))}
    env.update(
        DATABASE_URL=urlunsplit(url._replace(scheme="postgres", path="/" + connection.settings_dict["NAME"])),
        DJANGO_SECRET_KEY="queue-test",
        DJANGO_DEBUG="1",  # as `make run` starts it
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        **extra,
    )
    if os.environ.get("DATABASE_POOLER_URL"):  # `make test-pooled`: the worker's queries go through PgBouncer too
        pooled = urlsplit(os.environ["DATABASE_POOLER_URL"])
        env["DATABASE_POOLER_URL"] = urlunsplit(pooled._replace(path="/" + connection.settings_dict["NAME"]))
    return env


WORKER_LOG = ROOT / "test-artifacts" / "queue-worker.log"


def start_worker(**extra: str) -> Served:
    argv = [PYTHON, "manage.py", "procrastinate", "worker", "--queues", ",".join(queues.WORKER_QUEUES)]  # Procfile
    return Served(argv, env=worker_env(**extra), log_path=WORKER_LOG)


def worker_log() -> str:
    log = WORKER_LOG.read_text(errors="replace")[-3000:] if WORKER_LOG.exists() else ""
    return f"the worker's log ends:\n{log}"


@pytest.fixture
def worker() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for process in started:
        process.stop()


def test_it_stores_a_saves_chunks_without_vectors_and_its_job_in_one_transaction(alice):
    response = client_for(alice).post("/save-response", {"prompt": "Bread?", "response": ANSWER}, format="json")

    assert response.status_code == 201
    stored = response.json()["chunks_stored"]
    assert stored == Chunk.objects.filter(user=alice, embedding__isnull=True).count() > 1
    assert [status for _, status, _ in jobs()] == ["todo"]


def test_it_stores_nothing_when_the_defer_fails(alice, monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("the queue is unreachable")

    monkeypatch.setattr(pending, "embedding_deferred", refuse)

    with pytest.raises(RuntimeError):
        services.memory_save(user=alice, kind="prompt", provider="claude", text="My locker code is in my notes.")
    assert not Memory.objects.exists() and not Chunk.objects.exists() and not jobs()


def test_it_finds_a_memory_by_keywords_at_once_and_by_meaning_once_embedded(alice):
    client = client_for(alice)
    client.post(
        "/save-response",
        {"prompt": "What is my sister's job?", "response": "Your sister Ines works as a marine biologist in Porto."},
        format="json",
    )
    paraphrase = {"query": "occupation of my sibling?"}

    keyword = client.get(f"/context/{alice.pk}", {"query": "Ines marine biologist"}).json()
    assert keyword["count"] == 1 and "Ines" in keyword["contexts"][0]
    assert client.get(f"/context/{alice.pk}", paraphrase).json()["count"] == 0  # no shared word, no vector yet

    report = pending.chunks_embed_pending()

    assert report.chunks == 1 and not pending.pending_chunks()
    found = client.get(f"/context/{alice.pk}", paraphrase).json()
    assert found["count"] == 1 and "Ines" in found["contexts"][0]
    again = client.get(f"/context/{alice.pk}", {"query": "Ines marine biologist"}).json()
    assert again["count"] == 1  # never shown twice, before or after its vector


def test_it_keeps_a_chunk_waiting_for_its_vector_away_from_the_dense_engines(alice):
    from memories.embedding import embeddings
    from memories.search import dense

    services.memory_save(user=alice, kind="prompt", provider="claude", text="I keep bees on the roof.")
    vector = embeddings.embed(["bees"])[0]

    assert dense.pgvector_search(user=alice, vector=vector, limit=5).candidates == []


def test_it_embeds_batches_across_saves_in_the_workers_own_process(alice, worker):
    for n in range(5):
        services.memory_save(
            user=alice, kind="response", provider="chatgpt", prompt=f"Bread {n}?", text=ANSWER + f" {n}"
        )
    waiting = pending.pending_chunks()
    assert waiting >= 10 and len(jobs("todo")) == 5

    worker.append(start_worker(MEMORY_EMBED_BATCH="64"))
    wait_for(
        lambda: not pending.pending_chunks() and len(jobs("succeeded")) == 5,
        timeout=120,
        details=worker_log,
        what="the worker",
    )

    # one job embedded them all in one model call; the four others found nothing left
    assert Chunk.objects.filter(user=alice, embedding__isnull=True).count() == 0


@pytest.mark.slow
def test_it_commits_nothing_when_the_worker_is_killed_mid_batch_and_the_retry_writes_each_vector_once(alice, worker):
    for n in range(40):
        services.memory_save(
            user=alice, kind="response", provider="chatgpt", prompt=f"Loaf {n}?", text=ANSWER + f" {n}"
        )
    total = pending.pending_chunks()
    # One batch for everything, on one slow thread, one job at a time: the kill lands while the model works on it.
    first = start_worker(MEMORY_EMBED_BATCH=str(total), EMBEDDING_TORCH_THREADS="1", QUEUE_WORKER_CONCURRENCY="1")
    worker.append(first)
    wait_for(
        lambda: any(status == "doing" for _, status, _ in jobs()),
        timeout=120,
        details=worker_log,
        what="the job to start",
    )
    time.sleep(1.0)
    first.signal(signal.SIGKILL)
    first.process.wait(timeout=30)

    assert pending.pending_chunks() == total  # the batch's transaction died with it
    assert any(status == "doing" for _, status, _ in jobs())  # the job is stuck with its dead worker...
    with connection.cursor() as cursor:  # ... whose heartbeat stops (a real one ages 30 s, QUEUE_STALLED_SECONDS)
        cursor.execute("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'")

    retried = async_to_sync(tasks.stalled_jobs_retried)(app.job_manager, seconds=30)

    assert retried == 1
    worker.append(start_worker())
    wait_for(
        lambda: not pending.pending_chunks() and not jobs("todo") and not jobs("doing"),
        timeout=120,
        details=worker_log,
        what="the retry",
    )
    assert Chunk.objects.filter(user=alice).count() == total
    assert max(attempts for _, _, attempts in jobs()) >= 1


def queued_import(user, messages: int, tmp_path: Path) -> ImportJob:
    path = tmp_path / f"{user.username}-{messages}.json"
    write_chatgpt_export(path, messages)
    return import_jobs.import_job_create(user=user, upload=SimpleUploadedFile(path.name, path.read_bytes()))


def status_of(job: ImportJob) -> ImportJob:
    job.refresh_from_db()
    return job


@pytest.mark.slow
def test_it_embeds_a_live_save_while_a_bulk_turn_is_still_running(alice, bob, worker, tmp_path):
    big = queued_import(alice, 1500, tmp_path)
    # One slice for the whole file, on one thread: the import's turn runs for a long while.
    worker.append(start_worker(MEMORY_IMPORT_SLICE_ITEMS="100000", EMBEDDING_TORCH_THREADS="1"))
    wait_for(
        lambda: status_of(big).status == ImportStatus.RUNNING,
        timeout=300,
        details=worker_log,
        what="the import to be counted",
    )
    wait_for(
        lambda: jobs("doing", task=import_jobs.IMPORT_TASK), timeout=120, details=worker_log, what="its slice to start"
    )

    services.memory_save(user=bob, kind="prompt", provider="claude", text="My sister Ottilie teaches cello in Ghent.")
    wait_for(
        lambda: not Chunk.objects.filter(user=bob, embedding__isnull=True).exists(),
        timeout=120,
        details=worker_log,
        what="bob's vector",
    )

    # bob's save was embedded beside the bulk turn, not after it: that turn has not committed yet
    assert jobs("doing", task=import_jobs.IMPORT_TASK) and status_of(big).done == 0
    assert not Chunk.objects.filter(user=alice).exists()


@pytest.mark.slow
def test_it_finishes_a_small_import_while_a_big_one_is_in_progress(alice, bob, worker, tmp_path):
    big = queued_import(alice, 2000, tmp_path)
    worker.append(start_worker(MEMORY_IMPORT_SLICE_ITEMS="64"))
    wait_for(lambda: status_of(big).done > 0, timeout=300, details=worker_log, what="the big import's first slice")

    small = queued_import(bob, 40, tmp_path)
    wait_for(
        lambda: status_of(small).status == ImportStatus.DONE, timeout=300, details=worker_log, what="the small import"
    )

    assert (small.imported, small.failed) == (40, 0)
    assert status_of(big).status == ImportStatus.RUNNING and 0 < big.done < big.total == 2000  # took turns


def test_it_forgets_old_succeeded_jobs_in_the_hourly_clean_up_and_keeps_the_rest(alice, settings):
    for text in ("I keep bees.", "I grow leeks."):
        services.memory_save(user=alice, kind="prompt", provider="claude", text=text)
    (old, _, _), (recent, _, _) = jobs()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_jobs SET status = 'succeeded'")  # its trigger records the events
        cursor.execute("UPDATE procrastinate_events SET at = now() - interval '2 days' WHERE job_id = %s", [old])

    async_to_sync(app.job_manager.delete_old_jobs)(nb_hours=settings.QUEUE_KEEP_SUCCEEDED_HOURS)

    assert [job_id for job_id, _, _ in jobs()] == [recent]
