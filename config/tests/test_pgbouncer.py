"""The whole API through PgBouncer in transaction pooling (`make run-pooled`), under concurrency, over real HTTP.

A throwaway PostgreSQL of this test's own sits behind Debian's PgBouncer (started by testkit.pooled from the make
target); gunicorn connects through it with DATABASE_POOLER_URL, the queue's worker LISTENs on the server directly.
Eight clients save prompts and answers, search, list, import, call an MCP tool and delete at once: every answer
must be a success, the traffic must have gone through PgBouncer, and the worker must have embedded every chunk
(it heard the saves' NOTIFY on its direct connection, or polled).
"""

from __future__ import annotations

import itertools
import os
import secrets
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from config.tests.deploy_env import clean_env
from reliability.tests.live import Answer, LiveUser, call, register
from testkit.pooled import announced_port
from testkit.processes import PgBouncer, ThrowawayPostgres, make_run, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(PgBouncer.EXECUTABLE), reason="`make pgbouncer` installs it"),
]

CLIENTS = 8
REQUESTS = 240
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}


@pytest.fixture(scope="module")
def pooled():
    db = ThrowawayPostgres()
    password = secrets.token_urlsafe(16)
    env = clean_env(
        DATABASE_URL=db.django_url,
        PGBOUNCER_PORT="",  # a free port, chosen by the OS (announced in the log)
        PGBOUNCER_PASSWORD=password,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        RATELIMIT_API_RATE="100000/m",
        RATELIMIT_AUTH_RATE="1000/m",
        EMBEDDING_TORCH_THREADS="1",
    )
    server = make_run(env=env, log_path=db.tmp / "make-run-pooled.log", target="run-pooled")
    try:
        server.wait_ready()
        admin = f"postgresql://postgres:{password}@127.0.0.1:{announced_port(server)}/pgbouncer"
        try:
            users = [register(server.base_url, f"pooled{i}") for i in range(CLIENTS)]
        except AssertionError as error:
            raise AssertionError(f"{error}; {server.log_tail()}") from error
        db.sql("UPDATE accounts_user SET tier = 'enterprise'")
        yield db, server, users, admin
    finally:
        server.stop()
        db.cleanup()


def bouncer_transactions(admin: str) -> int:
    """Transactions PgBouncer has passed to the app's database (its admin console's SHOW STATS)."""
    with psycopg.connect(admin, autocommit=True, prepare_threshold=None) as conn:
        cursor = conn.execute("SHOW STATS")
        names = [column.name for column in cursor.description or []]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return sum(int(row["total_xact_count"]) for row in rows if row["database"] == "postgres")


def request(base_url: str, user: LiveUser, n: int) -> Answer:
    kind = n % 8
    if kind == 0:
        return call(base_url, "POST", "/save-prompt", token=user.token, body={"prompt": f"My bike {n} is blue."})
    if kind == 1:
        body = {"prompt": f"Tomatoes {n}?", "response": "Water early, mulch the beds, check the soil each week."}
        return call(base_url, "POST", "/save-response", token=user.token, body=body)
    if kind == 2:
        return call(base_url, "GET", f"/context/{user.user_id}?query=what+colour+is+my+bike", token=user.token)
    if kind == 3:
        return call(base_url, "GET", "/memories?page_size=5", token=user.token)
    if kind == 4:
        doc = {"memories": [{"kind": "prompt", "provider": "chatgpt", "text": f"Imported fact number {n}."}]}
        return call(base_url, "POST", "/memories/import", token=user.token, body=doc)
    if kind == 5:
        message = {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": {"name": "search_memories",
                   "arguments": {"query": "bike"}}}  # fmt: skip
        return call(base_url, "POST", "/mcp", token=user.token, body=message, headers=MCP_HEADERS)
    if kind == 6:
        return call(base_url, "GET", "/memories/export", token=user.token)
    return _delete_newest(base_url, user)


def _delete_newest(base_url: str, user: LiveUser) -> Answer:
    listed = call(base_url, "GET", "/memories?page_size=1", token=user.token)
    if listed.status != 200 or not listed.body["results"]:
        return listed
    return call(base_url, "DELETE", f"/memories/{listed.body['results'][0]['id']}", token=user.token)


def test_it_serves_the_whole_api_through_pgbouncer_under_concurrency_without_an_error(pooled):
    db, server, users, admin = pooled
    before = bouncer_transactions(admin)
    counter = itertools.count()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        answers = list(pool.map(lambda i: request(server.base_url, users[i % CLIENTS], next(counter)), range(REQUESTS)))

    failed = [(a.status, str(a.body)[:200]) for a in answers if not 200 <= a.status < 300]
    assert failed == [], (failed[:5], server.log_tail())
    mcp = [a for a in answers if isinstance(a.body, dict) and "jsonrpc" in a.body]
    assert mcp and all(a.body["result"]["isError"] is False for a in mcp)
    through = bouncer_transactions(admin) - before
    print(f"\nthrough PgBouncer: {len(answers)} requests, {through} transactions")
    assert through >= REQUESTS  # every request's queries went through PgBouncer
    # The worker embedded every chunk the saves and imports stored: it got the jobs over its direct connection.
    wait_for(lambda: db.sql("SELECT count(*) FROM memories_chunk WHERE embedding IS NULL")[0][0] == 0,
             timeout=300, what="the worker to embed every chunk", details=server.log_tail)  # fmt: skip
    listening = db.sql("SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%%'")[0][0]
    assert listening >= 1  # the worker's LISTEN, on a session of its own (PgBouncer would have dropped it)
