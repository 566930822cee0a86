"""`make run` itself under concurrent use: the command a new user types, on a free port, over real HTTP.

Its database is a throwaway embedded PostgreSQL of this test's own (DATABASE_URL), so the backends it holds can
be counted from pg_stat_activity while eight clients save, search, list and export at once.
"""

from __future__ import annotations

import itertools
import secrets
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from config.tests.deploy_env import ROOT, clean_env
from reliability.tests.live import Answer, LiveUser, call, client_backends, register, sql
from testkit.processes import ThrowawayPostgres, make_run

pytestmark = pytest.mark.slow

CLIENTS = 8
REQUESTS = 2000
# Each worker's psycopg pool holds at most GUNICORN_THREADS + 1 connections (config/settings/base.py).
WORKERS, POOL_MAX = 2, 4 + 1
# The task queue's worker beside them: procrastinate's own pool (psycopg_pool's default 4) and Django's pool for
# the tasks' queries (POOL_MAX at most).
QUEUE_WORKER_MAX = 4 + POOL_MAX
MAX_BACKENDS = WORKERS * POOL_MAX + QUEUE_WORKER_MAX
ANSWER = " ".join(
    f"Step {i}: water the tomatoes early, mulch the beds, check the soil moisture and note the harvest."
    for i in range(1, 21)
)  # about 300 words, as an assistant's answer is


@pytest.fixture(scope="module")
def served():
    db = ThrowawayPostgres()
    env = clean_env(
        DATABASE_URL=db.django_url,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        RATELIMIT_API_RATE="100000/m",
        RATELIMIT_AUTH_RATE="1000/m",
        EMBEDDING_TORCH_THREADS="1",
    )
    server = make_run(env=env, log_path=db.tmp / "make-run.log")
    try:
        server.wait_ready()
        users = [register(server.base_url, f"soak{i}") for i in range(CLIENTS)]
        sql(db, "UPDATE accounts_user SET tier = 'enterprise'")  # the soak makes more requests than free allows
        yield db, server, users
    finally:
        server.stop()
        db.cleanup()


def mixed_request(base_url: str, user: LiveUser, n: int) -> Answer:
    kind = n % 5
    if kind == 0:
        body = {"prompt": f"Soak prompt {n}: how do I keep my tomatoes healthy in July?", "provider": "claude"}
        return call(base_url, "POST", "/save-prompt", token=user.token, body=body)
    if kind == 1:
        body = {"prompt": f"Garden plan {n}?", "response": ANSWER + f" ({n})", "provider": "chatgpt"}
        return call(base_url, "POST", "/save-response", token=user.token, body=body)
    if kind == 2:
        return call(base_url, "GET", f"/context/{user.user_id}?query=tomato+watering", token=user.token)
    if kind == 3:
        return call(base_url, "GET", "/memories/?page_size=20", token=user.token)
    return call(base_url, "GET", "/memories/export", token=user.token)


def test_it_serves_two_thousand_mixed_requests_from_eight_clients_within_the_pool(served):
    db, server, users = served
    peak, stop = [0], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], client_backends(db))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    counter = itertools.count()
    try:
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            answers = list(
                pool.map(lambda n: mixed_request(server.base_url, users[n % CLIENTS], next(counter)), range(REQUESTS))
            )
    finally:
        stop.set()
        watcher.join()

    statuses = sorted({a.status for a in answers})
    print(
        f"\nmake run soak: {len(answers)} requests from {CLIENTS} clients, statuses {statuses}, peak {peak[0]} backends"
    )
    assert all(200 <= a.status < 300 for a in answers), (statuses, server.log()[-3000:])
    assert 0 < peak[0] <= MAX_BACKENDS, peak[0]
    assert call(server.base_url, "GET", "/health").status == 200
    check = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "shell", "-c",
         "from django.db import connection; connection.ensure_connection(); print('connected')"],
        cwd=ROOT, env=server.env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "connected" in check.stdout, check.stderr


def test_a_thousand_sequential_requests_leave_the_connection_count_flat(served):
    db, server, users = served
    before = client_backends(db)
    for _ in range(1000):
        assert call(server.base_url, "GET", "/auth/me", token=users[0].token).status == 200
    after = client_backends(db)
    print(f"\n1,000 sequential requests: {before} backends before, {after} after")
    assert after <= max(before, WORKERS), (before, after)
    assert after <= MAX_BACKENDS
