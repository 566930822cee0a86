#!/usr/bin/env python
"""Where one machine stops: `make run-pooled` (PgBouncer in transaction pooling) as data and clients grow.

    python bench/scale_pooled.py                                        # the full run: 1,000 -> 100,000 chunks,
                                                                        # 1 -> 100,000 people, 200 saving clients
    python bench/scale_pooled.py --chunks 1000,3000 --people 1,300 --clients 20 --saves 2   # a quick check

On a throwaway PostgreSQL, starts `make run-pooled` twice (one gunicorn worker each): one that always scores a
person's chunks exactly (SEARCH_HNSW_MIN_USER_CHUNKS huge) and one that always walks the HNSW index with an
iterative scan (SEARCH_HNSW_MIN_USER_CHUNKS=0). Then:

1. one person grows to each --chunks size; GET /context p50/p95 on both servers;
2. simulated people (each --per-person chunks) are added up to each --people count, beside that person (fixed at
   the first --chunks size); /context p50/p95 on both servers, and PostgreSQL's table + index size;
3. --clients concurrent clients save --saves answers each through PgBouncer: p50/p95, errors, saves/s.

Simulated rows are written with bulk SQL (INSERT ... SELECT generate_series), never through the model: random unit
vectors (pgvector's l2_normalize) and generated text; only timings mean anything, not rankings. The measured
people are real accounts (registered over HTTP). Prints the machine and Markdown tables. Nothing asserts a time.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, machine, percentiles

from testkit.processes import Served, ThrowawayPostgres, free_port, free_port_in, make_run

sys.path.insert(0, str(ROOT))
# The live-test helpers read the settings' BASE_DIR; the test settings need no secret (the servers get their own).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
from config.tests.deploy_env import clean_env
from reliability.tests.live import LiveUser, call, register

CHUNKS_PER_MEMORY = 50
SECRET_KEY = secrets.token_urlsafe(50)  # both servers: a token from one is valid on the other
QUERIES = ["what did I plan for the garden", "my bike", "the trip to Lisbon", "which book was I reading"]

# Values for the NOT NULL columns without a default that bulk rows must fill, by PostgreSQL type.
_FILLERS = {"boolean": "false", "integer": "0", "bigint": "0", "smallint": "0", "text": "''",
            "character varying": "''", "timestamp with time zone": "now()", "date": "current_date",
            "jsonb": "'{}'::jsonb", "uuid": "gen_random_uuid()"}  # fmt: skip


def required_columns(db: ThrowawayPostgres, table: str, given: set[str]) -> dict[str, str]:
    rows = db.sql(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
        "AND is_nullable = 'NO' AND column_default IS NULL AND is_generated = 'NEVER' AND is_identity = 'NO'",
        table,
    )
    return {name: _FILLERS[kind] for name, kind in rows if name not in given}


def insert_select(db: ThrowawayPostgres, table: str, columns: dict[str, str], source: str, *params: Any) -> None:
    """INSERT INTO ``table`` the rows of ``source`` (a FROM clause) with ``columns`` (name -> SQL expression)."""
    filled = {**required_columns(db, table, set(columns)), **columns}
    names, values = ", ".join(filled), ", ".join(filled.values())
    db.sql(f"INSERT INTO {table} ({names}) SELECT {values} FROM {source}", *params)


def grow_person(db: ThrowawayPostgres, user_id: str, chunks: int) -> None:
    """Give ``user_id`` memories and chunks (random unit vectors) until they hold ``chunks`` chunks."""
    have = db.sql("SELECT count(*) FROM memories_chunk WHERE user_id = %s", user_id)[0][0]
    if have >= chunks:
        return
    first, last = have // CHUNKS_PER_MEMORY, (chunks - 1) // CHUNKS_PER_MEMORY
    insert_select(db, "memories_memory", {
        "user_id": "%s::uuid", "kind": "'prompt'", "provider": "'claude'", "text": "'bench memory ' || g",
        "content_hash": "%s || '-' || g", "priority": "2", "created_at": "now() - g * interval '1 minute'",
    }, "generate_series(%s::int, %s::int) g", user_id, user_id, first, last)  # fmt: skip
    chunk_rows(db, f"m.user_id = '{user_id}'::uuid", have, chunks)


def chunk_rows(db: ThrowawayPostgres, memories_where: str, start: int, stop: int) -> None:
    """Chunks ``start``..``stop`` (positions by memory) for the memories matching ``memories_where``."""
    vector = "(SELECT l2_normalize(array_agg(random() - 0.5)::vector) FROM generate_series(1, 384) d WHERE m.id > 0)"
    source = (
        f"(SELECT m.id, m.user_id, row_number() OVER (PARTITION BY m.user_id ORDER BY m.id) - 1 AS k "
        f"FROM memories_memory m WHERE {memories_where}) m, generate_series(0, {CHUNKS_PER_MEMORY - 1}) p"
    )
    insert_select(db, "memories_chunk", {
        "memory_id": "m.id", "user_id": "m.user_id", "position": "p", "text": "'bench chunk ' || m.id || ' ' || p",
        "embedding": vector,
    }, source + f" WHERE m.k * {CHUNKS_PER_MEMORY} + p >= {start} AND m.k * {CHUNKS_PER_MEMORY} + p < {stop}")  # fmt: skip


def add_people(db: ThrowawayPostgres, people: int, per_person: int) -> None:
    """Simulated people (accounts without a password) with ``per_person`` chunks each, up to ``people`` of them."""
    have = db.sql("SELECT count(*) FROM accounts_user WHERE username LIKE 'sim-%%'")[0][0]
    if have >= people:
        return
    insert_select(db, "accounts_user", {
        "id": "gen_random_uuid()", "username": "'sim-' || g", "email": "'sim-' || g || '@example.com'",
        "password": "'!'", "tier": "'free'", "date_joined": "now()", "is_active": "true",
    }, "generate_series(%s::int, %s::int) g", have, people - 1)  # fmt: skip
    memories = max(1, per_person // CHUNKS_PER_MEMORY)
    insert_select(db, "memories_memory", {
        "user_id": "u.id", "kind": "'prompt'", "provider": "'claude'", "text": "'sim memory ' || g",
        "content_hash": "u.id::text || '-' || g", "priority": "2", "created_at": "now()",
    }, f"accounts_user u, generate_series(0, {memories - 1}) g WHERE u.username LIKE 'sim-%%' "
       "AND NOT EXISTS (SELECT 1 FROM memories_memory x WHERE x.user_id = u.id)")  # fmt: skip
    chunk_rows(
        db,
        "m.user_id IN (SELECT id FROM accounts_user WHERE username LIKE 'sim-%%') "
        "AND NOT EXISTS (SELECT 1 FROM memories_chunk c WHERE c.memory_id = m.id)",
        0,
        per_person,
    )


def analyze(db: ThrowawayPostgres) -> str:
    db.sql("ANALYZE memories_chunk")
    db.sql("ANALYZE memories_memory")
    return db.sql("SELECT pg_size_pretty(pg_total_relation_size('memories_chunk'))")[0][0]


def context_latency(server: Served, user: LiveUser, requests: int) -> dict[str, float]:
    for query in QUERIES[:2]:  # warm the model, the caches and the connections
        call(server.base_url, "GET", f"/context/{user.user_id}?query={query.replace(' ', '+')}", token=user.token)
    samples = []
    for n in range(requests):
        path = f"/context/{user.user_id}?query={QUERIES[n % len(QUERIES)].replace(' ', '+')}"
        start = time.perf_counter()
        answer = call(server.base_url, "GET", path, token=user.token)
        samples.append((time.perf_counter() - start) * 1000)
        assert answer.status == 200, (answer.status, answer.body)
    return percentiles(samples)


def concurrent_saves(server: Served, users: list[LiveUser], clients: int, saves: int) -> dict[str, Any]:
    def client(i: int) -> list[tuple[int, float]]:
        out = []
        for n in range(saves):
            body = {"prompt": f"Client {i} question {n}?", "response": f"Client {i} answer {n}: water the beds early."}
            start = time.perf_counter()
            answer = call(server.base_url, "POST", "/save-response", token=users[i % len(users)].token, body=body)
            out.append((answer.status, (time.perf_counter() - start) * 1000))
        return out

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = [row for rows in pool.map(client, range(clients)) for row in rows]
    elapsed = time.perf_counter() - start
    ok = [ms for status, ms in results if 200 <= status < 300]
    errors = sorted({status for status, _ in results if not 200 <= status < 300})
    return {**percentiles(ok), "errors": len(results) - len(ok), "statuses": errors,
            "saves_per_s": round(len(ok) / elapsed, 1)}  # fmt: skip


def port(ports: str | None, after: int = 0) -> int:
    """A free port, within ``ports`` ("first-last") when given (a shared machine's share), above ``after``."""
    if not ports:
        return free_port()
    first, last = (int(x) for x in ports.split("-"))
    return free_port_in(max(first, after + 1), last)


def start(db: ThrowawayPostgres, name: str, hnsw_min: int, log_dir: Path, ports: str | None) -> Served:
    bouncer = port(ports)
    env = clean_env(
        DATABASE_URL=db.django_url, DJANGO_SECRET_KEY=SECRET_KEY, WEB_CONCURRENCY="1",
        SEARCH_HNSW_MIN_USER_CHUNKS=str(hnsw_min), RATELIMIT_API_RATE="1000000/m", RATELIMIT_AUTH_RATE="100000/m",
        PGBOUNCER_PORT=str(bouncer), PGBOUNCER_POOL_SIZE="20", EMBEDDING_TORCH_THREADS="1",
    )  # fmt: skip
    server = make_run(env=env, log_path=log_dir / f"{name}.log", target="run-pooled", port=port(ports, after=bouncer))
    server.wait_ready()
    return server


def table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    print(f"\n### {title}\n\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(x) for x in row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", default="1000,10000,100000", help="one person's sizes")
    parser.add_argument("--people", default="1,1000,10000,100000", help="people counts (simulated)")
    parser.add_argument("--per-person", type=int, default=50, help="chunks of each simulated person")
    parser.add_argument("--requests", type=int, default=40, help="/context requests per measurement")
    parser.add_argument("--clients", type=int, default=200, help="concurrent saving clients")
    parser.add_argument("--saves", type=int, default=5, help="saves per client")
    parser.add_argument("--ports", help="FIRST-LAST: take every port from this range (default: any free port)")
    args = parser.parse_args()
    sizes = [int(x) for x in args.chunks.split(",")]
    people = [int(x) for x in args.people.split(",")]
    print(f"machine: {machine()}")
    db = ThrowawayPostgres(prefix="memorylayer-bench-pooled-")
    log_dir = Path(tempfile.mkdtemp(prefix="bench-pooled-logs-"))
    servers: dict[str, Served] = {}
    try:
        servers["exact"] = start(db, "exact", 10**9, log_dir, args.ports)
        servers["hnsw"] = start(db, "hnsw", 0, log_dir, args.ports)
        base = servers["exact"].base_url
        person = register(base, "bench")
        savers = [register(base, "saver") for _ in range(10)]
        db.sql("UPDATE accounts_user SET tier = 'enterprise'")
        rows = []
        for size in sizes:
            started = time.perf_counter()
            grow_person(db, person.user_id, size)
            loaded, table_size = time.perf_counter() - started, analyze(db)
            exact, hnsw = (context_latency(servers[k], person, args.requests) for k in ("exact", "hnsw"))
            rows.append(
                [f"{size:,}", table_size, f"{loaded:.1f}", exact["p50"], exact["p95"], hnsw["p50"], hnsw["p95"]]
            )
        table("/context as one person grows (ms)", ["chunks", "table", "load s", "exact p50", "exact p95",
              "HNSW p50", "HNSW p95"], rows)  # fmt: skip
        rows = []
        for count in people:
            started = time.perf_counter()
            add_people(db, count, args.per_person)
            loaded, table_size = time.perf_counter() - started, analyze(db)
            exact, hnsw = (context_latency(servers[k], person, args.requests) for k in ("exact", "hnsw"))
            rows.append(
                [f"{count:,}", table_size, f"{loaded:.1f}", exact["p50"], exact["p95"], hnsw["p50"], hnsw["p95"]]
            )
        table(f"/context of one person ({sizes[-1]:,} chunks) as people are added ({args.per_person} chunks each)",
              ["people", "table", "load s", "exact p50", "exact p95", "HNSW p50", "HNSW p95"], rows)  # fmt: skip
        saves = concurrent_saves(servers["exact"], savers, args.clients, args.saves)
        table(f"{args.clients} concurrent clients saving through PgBouncer ({args.saves} each)",
              ["p50 ms", "p95 ms", "errors", "statuses", "saves/s"],
              [[saves.get("p50"), saves.get("p95"), saves["errors"], saves["statuses"], saves["saves_per_s"]]])  # fmt: skip
    finally:
        for server in servers.values():
            server.stop()
        db.cleanup()


if __name__ == "__main__":
    main()
