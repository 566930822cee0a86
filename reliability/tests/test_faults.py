"""Faults under a real deployment (gunicorn, 2 workers, its own PostgreSQL): the database restarts during a
stream of saves, and a worker is SIGKILLed in the middle of a save."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from reliability.tests.live import Answer, call, register, sql
from testkit.processes import wait_for

pytestmark = pytest.mark.slow

# The recovery bound: after the database is back, normal answers within this many seconds. A deadline, not a
# timing measurement: generous and explicit.
RECOVERY_BOUND_SECONDS = 5.0
OUTAGE_SECONDS = 3.0


@dataclass
class Sent:
    text: str
    sent_at: float
    answer: Answer


def stream_saves(base_url: str, token: str, name: str, stop: threading.Event, log: list[Sent]) -> None:
    i = 0
    while not stop.is_set():
        text = f"Stream {name} save {i}: note number {i} about the garden."
        sent_at = time.monotonic()
        answer = call(base_url, "POST", "/save-prompt", token=token, body={"prompt": text}, timeout=30)
        log.append(Sent(text, sent_at, answer))
        i += 1
        time.sleep(0.02)


def half_written(live) -> tuple[int, int]:
    """(memories without a chunk, chunks without their memory) over the whole database."""
    rows = sql(
        live.db,
        "SELECT (SELECT count(*) FROM memories_memory m WHERE NOT EXISTS "
        "        (SELECT 1 FROM memories_chunk c WHERE c.memory_id = m.id)),"
        "       (SELECT count(*) FROM memories_chunk c WHERE NOT EXISTS "
        "        (SELECT 1 FROM memories_memory m WHERE m.id = c.memory_id))",
    )
    return rows[0][0], rows[0][1]


def test_a_database_restart_answers_503_loses_no_acknowledged_save_and_recovers(live):
    base_url = live.server.base_url
    user = register(base_url)
    # Enterprise: the stream makes hundreds of saves, past the free tier's 100 a day.
    sql(live.db, "UPDATE accounts_user SET tier = 'enterprise' WHERE id = %s", user.user_id)
    log: list[Sent] = []
    stop = threading.Event()
    streams = [
        threading.Thread(target=stream_saves, args=(base_url, user.token, str(n), stop, log), daemon=True)
        for n in range(3)
    ]
    for thread in streams:
        thread.start()
    try:
        wait_for(lambda: sum(s.answer.status == 201 for s in log) >= 6, timeout=60, what="saves before the outage")
        live.db.stop("fast")  # terminates every backend, as a crash-restart or failover would
        down_at = time.monotonic()
        wait_for(lambda: sum(s.sent_at > down_at for s in log) >= 6, timeout=30, what="requests during the outage")
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
        live.db.start()
        up_at = time.monotonic()
        # Keep streaming past the bound, so that every request sent after it shows whether both workers recovered.
        wait_for(
            lambda: sum(s.sent_at > up_at + RECOVERY_BOUND_SECONDS for s in log) >= 10,
            timeout=RECOVERY_BOUND_SECONDS + 60,
            what="requests after the recovery bound",
        )
    finally:
        stop.set()
        for thread in streams:
            thread.join(timeout=60)

    statuses = sorted({s.answer.status for s in log})
    assert set(statuses) <= {201, 503}, statuses  # never a 500, never a dropped connection
    failed = [s for s in log if s.answer.status == 503]
    assert failed, "the outage was never observed"
    for s in failed:
        assert s.answer.body == {
            "success": False,
            "error": "The database is temporarily unavailable; please retry shortly.",
        }
        assert s.answer.headers["Retry-After"] == "5"
    assert all(s.answer.status == 201 for s in log if s.sent_at > up_at + RECOVERY_BOUND_SECONDS)
    late_failures = [s.sent_at - up_at for s in failed if s.sent_at > up_at]
    first_success = min(s.sent_at + 0.0 for s in log if s.sent_at > up_at and s.answer.status == 201) - up_at
    print(
        f"\ndb restart: {len(log)} saves, {len(failed)} answered 503 during a {up_at - down_at:.1f}s outage; "
        f"after the restart: {len(late_failures)} failures (last sent at +{max(late_failures, default=0.0):.2f}s), "
        f"first 2xx sent at +{first_success:.2f}s"
    )

    acknowledged = {s.answer.body["memory_id"]: s.text for s in log if s.answer.status == 201}
    stored = dict(
        sql(live.db, "SELECT id, text FROM memories_memory WHERE id = ANY(%s)", list(acknowledged))  # type: ignore[arg-type]
    )
    assert stored == acknowledged  # every acknowledged save is there, with its text
    assert half_written(live) == (0, 0)


def backend_waiting_on_chunk_insert(live) -> int | None:
    rows = sql(
        live.db,
        "SELECT pid FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND query LIKE '%%INSERT INTO memories_chunk%%'",
    )
    return rows[0][0] if rows else None


def workers_holding(backend_pid: int, worker_pids: list[int]) -> list[int]:
    """The gunicorn worker on the other end of a PostgreSQL backend's (unix socket) connection.

    Found through the socket's peer inode (`ss -xp`); without `ss`, every worker (the one saving among them).
    """
    if shutil.which("ss") is None:
        return worker_pids
    lines = subprocess.run(["ss", "-xpH"], capture_output=True, text=True, check=True).stdout.splitlines()
    backend_line = next(line for line in lines if f"pid={backend_pid}," in line)
    peer_inode = backend_line.split()[7]
    for pid in worker_pids:
        fds = Path(f"/proc/{pid}/fd")
        if any(os.readlink(fd) == f"socket:[{peer_inode}]" for fd in fds.iterdir()):
            return [pid]
    raise AssertionError(f"no worker holds the connection of backend {backend_pid}")


def test_sigkill_of_the_worker_in_the_middle_of_a_save_leaves_no_half_written_memory(live):
    base_url = live.server.base_url
    user = register(base_url)
    key = str(uuid.uuid4())
    body = {"prompt": "Saved while its worker was killed: my locker code is 7731."}
    loaded_before = live.server.log().count("embedding model loaded in worker")
    answers: list[Answer] = []

    # Hold inserts into the chunk table: the save's one store statement (memory and chunks) waits inside its
    # transaction, after the Idempotency-Key claim and with the memory table already locked for its insert.
    with psycopg.connect(live.db.uri, connect_timeout=5) as blocker:
        blocker.execute("LOCK TABLE memories_chunk IN SHARE MODE")
        saving = threading.Thread(
            target=lambda: answers.append(
                call(base_url, "POST", "/save-prompt", token=user.token, body=body, headers={"Idempotency-Key": key})
            )
        )
        saving.start()
        backend = wait_for(lambda: backend_waiting_on_chunk_insert(live), timeout=60, what="the save at its chunks")
        assert backend is not None
        wrote_memory = sql(
            live.db,
            "SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE l.pid = %s AND c.relname = 'memories_memory' AND l.mode = 'RowExclusiveLock'",
            backend,
        )
        assert wrote_memory, "the save had not written its memory row yet"
        killed = workers_holding(backend, live.server.worker_pids())
        for worker in killed:
            os.kill(worker, signal.SIGKILL)
        saving.join(timeout=60)
        blocker.rollback()  # let the orphaned backend run on: it finds its client gone and rolls back

    assert [a.status for a in answers] == [0]  # the connection died without an answer
    gone = "SELECT 1 FROM pg_stat_activity WHERE pid = %s"
    wait_for(lambda: not sql(live.db, gone, backend), timeout=30, what="the killed worker's backend to end")
    assert sql(live.db, "SELECT count(*) FROM memories_memory WHERE user_id = %s", user.user_id) == [(0,)]
    assert half_written(live) == (0, 0)

    live.server.wait_for_workers(loaded_before + len(killed))  # the master replaced the killed worker
    assert not set(killed) & set(live.server.worker_pids())
    retried = call(base_url, "POST", "/save-prompt", token=user.token, body=body, headers={"Idempotency-Key": key})
    assert retried.status == 201 and "Idempotent-Replayed" not in retried.headers
    again = call(base_url, "POST", "/save-prompt", token=user.token, body=body, headers={"Idempotency-Key": key})
    assert again.status == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert sql(
        live.db,
        "SELECT count(DISTINCT m.id), count(c.id) FROM memories_memory m JOIN memories_chunk c ON c.memory_id = m.id "
        "WHERE m.user_id = %s",
        user.user_id,
    ) == [(1, 1)]
    assert half_written(live) == (0, 0)
