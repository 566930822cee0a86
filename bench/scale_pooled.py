#!/usr/bin/env python
"""Where one machine stops: `make run-pooled` (PgBouncer in transaction pooling) as data and clients grow.

    python bench/scale_pooled.py                                        # the full run: 1,000 -> 100,000 chunks,
                                                                        # 1 -> 100,000 people, 200 saving clients
    python bench/scale_pooled.py --chunks 1000,3000 --people 1,300 --clients 20 --saves 2   # a quick check

On a throwaway PostgreSQL, starts `make run-pooled` twice (one gunicorn worker each, each behind its own PgBouncer
on a free port): one that always scores a person's chunks exactly (SEARCH_HNSW_MIN_USER_CHUNKS huge) and one that
always walks the HNSW index with an iterative scan (SEARCH_HNSW_MIN_USER_CHUNKS=0). Then:

1. one person grows to each --chunks size; GET /context p50/p95 on both servers;
2. simulated people (each --per-person chunks) are added up to each --people count; /context p50/p95 on both
   servers for a typical person (--typical chunks) and for the person grown in 1 (its last size);
3. PostgreSQL's memory after each step: shared_buffers, its processes' RSS and PSS, the chunk table's heap and
   index sizes;
4. --clients concurrent clients save --saves answers each through PgBouncer: p50/p95, errors, saves/s.

Every figure is printed with the 1-minute load average beside it (the machine may be shared). Simulated rows are
written with bulk SQL, never through the model: random unit vectors from numpy, COPY'd into a staging table and
joined in (``INSERT ... SELECT``), and generated text; only timings mean anything, not rankings. A load that adds
many rows drops the HNSW index and builds it again (the build time is printed apart). The measured people are
real accounts (registered over HTTP). Prints the machine and Markdown tables. Nothing asserts a time.
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

from testkit.processes import Served, ThrowawayPostgres, make_run

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


def person_space(db: ThrowawayPostgres, where: str) -> None:
    """A default space for every account matching ``where`` that has none (memories must name one)."""
    insert_select(db, "accounts_space", {
        "user_id": "u.id", "name": "'Personal'", "is_default": "true", "created_at": "now()",
    }, f"accounts_user u WHERE {where} AND NOT EXISTS "
       "(SELECT 1 FROM accounts_space s WHERE s.user_id = u.id AND s.is_default)")  # fmt: skip


def grow_person(db: ThrowawayPostgres, user_id: str, chunks: int) -> float:
    """Give ``user_id`` memories and chunks (random unit vectors) until they hold ``chunks``; the index seconds."""
    have = db.sql("SELECT count(*) FROM memories_chunk WHERE user_id = %s", user_id)[0][0]
    if have >= chunks:
        return 0.0
    person_space(db, f"u.id = '{user_id}'::uuid")
    first, last = have // CHUNKS_PER_MEMORY, (chunks - 1) // CHUNKS_PER_MEMORY
    have_memories = db.sql("SELECT count(*) FROM memories_memory WHERE user_id = %s", user_id)[0][0]
    insert_select(db, "memories_memory", {
        "user_id": "%s::uuid", "space_id": "(SELECT id FROM accounts_space WHERE user_id = %s::uuid AND is_default)",
        "kind": "'prompt'", "provider": "'claude'", "text": "'bench memory ' || g", "content_hash": "%s || '-' || g",
        "priority": "2", "created_at": "now() - g * interval '1 minute'",
    }, "generate_series(%s::int, %s::int) g", user_id, user_id, user_id, max(first, have_memories), last)  # fmt: skip
    return chunk_rows(db, f"m.user_id = '{user_id}'::uuid", have, chunks)


def copy_vectors(db: ThrowawayPostgres, count: int, seed: int) -> None:
    """``count`` random unit vectors (numpy) into the staging table bench_vectors (k = 1..count), by binary COPY."""
    import numpy as np
    from pgvector.psycopg import register_vector

    rng = np.random.default_rng(seed)
    with db.connect() as conn:
        register_vector(conn)
        conn.execute("CREATE UNLOGGED TABLE IF NOT EXISTS bench_vectors (k bigint PRIMARY KEY, embedding vector(384))")
        conn.execute("TRUNCATE bench_vectors")
        with (
            conn.cursor() as cursor,
            cursor.copy("COPY bench_vectors (k, embedding) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(["bigint", "vector"])
            for offset in range(0, count, 10_000):
                block = rng.standard_normal((min(10_000, count - offset), 384)).astype(np.float32)
                block /= np.linalg.norm(block, axis=1, keepdims=True)
                for i, vector in enumerate(block):
                    copy.write_row((offset + i + 1, vector))


def chunk_rows(db: ThrowawayPostgres, memories_where: str, start: int, stop: int) -> float:
    """Chunks ``start``..``stop`` (positions by memory) for the memories matching ``memories_where``; returns the
    seconds spent rebuilding the HNSW index.

    Vectors come from numpy by COPY (a staging table joined by row number). A large load drops the HNSW index and
    builds it again afterwards (one bulk build is much faster than inserting into the graph row by row).
    """
    numbered = (
        f"(SELECT m.id, m.user_id, p, row_number() OVER (ORDER BY m.id, p) AS r FROM "
        f"(SELECT m.id, m.user_id, row_number() OVER (PARTITION BY m.user_id ORDER BY m.id) - 1 AS k "
        f"FROM memories_memory m WHERE {memories_where}) m, generate_series(0, {CHUNKS_PER_MEMORY - 1}) p "
        f"WHERE m.k * {CHUNKS_PER_MEMORY} + p >= {start} AND m.k * {CHUNKS_PER_MEMORY} + p < {stop}) s"
    )
    count = db.sql(f"SELECT count(*) FROM {numbered}")[0][0]
    if not count:
        return 0.0
    copy_vectors(db, count, seed=count + start)
    total = db.sql("SELECT count(*) FROM memories_chunk")[0][0]
    rebuild = count >= 20_000 and count > total  # more than doubling: one bulk build beats inserting into the graph
    definition = db.sql("SELECT pg_get_indexdef('chunk_embedding_hnsw_idx'::regclass)")[0][0] if rebuild else None
    if definition:
        db.sql("DROP INDEX chunk_embedding_hnsw_idx")
    insert_select(db, "memories_chunk", {
        "memory_id": "s.id", "user_id": "s.user_id", "position": "s.p", "text": "'bench chunk ' || s.id || ' ' || s.p",
        "embedding": "v.embedding",
    }, numbered + " JOIN bench_vectors v ON v.k = s.r")  # fmt: skip
    if not definition:
        return 0.0
    started = time.perf_counter()
    with db.connect() as conn:
        # The bench's own direct session: the graph built in memory (it spills to disk far slower otherwise).
        conn.execute("SET maintenance_work_mem = '4GB'")
        conn.execute("SET max_parallel_maintenance_workers = 1")
        conn.execute(definition)
    return time.perf_counter() - started


def add_people(db: ThrowawayPostgres, people: int, per_person: int) -> float:
    """Simulated people (accounts without a password) with ``per_person`` chunks each, up to ``people`` of them;
    returns the seconds spent rebuilding the HNSW index."""
    have = db.sql("SELECT count(*) FROM accounts_user WHERE username LIKE 'sim-%%'")[0][0]
    if have >= people:
        return 0.0
    insert_select(db, "accounts_user", {
        "id": "gen_random_uuid()", "username": "'sim-' || g", "email": "'sim-' || g || '@example.com'",
        "password": "'!'", "tier": "'free'", "date_joined": "now()", "is_active": "true",
    }, "generate_series(%s::int, %s::int) g", have, people - 1)  # fmt: skip
    person_space(db, "u.username LIKE 'sim-%%'")
    memories = max(1, -(-per_person // CHUNKS_PER_MEMORY))
    insert_select(db, "memories_memory", {
        "user_id": "u.id", "space_id": "s.id", "kind": "'prompt'", "provider": "'claude'", "text": "'sim memory ' || g",
        "content_hash": "u.id::text || '-' || g", "priority": "2", "created_at": "now()",
    }, f"accounts_user u JOIN accounts_space s ON s.user_id = u.id AND s.is_default, generate_series(0, {memories - 1}) g "
       "WHERE u.username LIKE 'sim-%%' AND NOT EXISTS (SELECT 1 FROM memories_memory x WHERE x.user_id = u.id)")  # fmt: skip
    return chunk_rows(
        db,
        "m.user_id IN (SELECT id FROM accounts_user WHERE username LIKE 'sim-%%') "
        "AND NOT EXISTS (SELECT 1 FROM memories_chunk c WHERE c.memory_id = m.id)",
        0,
        per_person,
    )


def analyze(db: ThrowawayPostgres) -> str:
    db.sql("VACUUM ANALYZE memories_chunk")  # also sets the visibility map, as autovacuum would on a live server
    db.sql("ANALYZE memories_memory")
    return db.sql("SELECT pg_size_pretty(pg_total_relation_size('memories_chunk'))")[0][0]


def load() -> str:
    """The machine's 1-minute load average (`uptime`), printed beside each figure: the machine is shared."""
    return f"{os.getloadavg()[0]:.1f}"


def memory(db: ThrowawayPostgres) -> dict[str, str]:
    """PostgreSQL's memory: shared_buffers, its processes' RSS and PSS (shared pages split between them), and the
    chunk table's heap and index sizes."""
    import psutil

    pid = int((Path(db.server.pgdata) / "postmaster.pid").read_text().split()[0])
    processes = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    rss = pss = 0
    for process in processes:
        try:
            info = process.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss, pss = rss + info.rss, pss + getattr(info, "pss", info.rss)
    sizes = dict(db.sql(
        "SELECT indexrelname, pg_size_pretty(pg_relation_size(indexrelid)) FROM pg_stat_user_indexes "
        "WHERE relname = 'memories_chunk'"
    ))  # fmt: skip
    return {
        "shared_buffers": db.sql("SHOW shared_buffers")[0][0],
        "pg RSS (sum)": f"{rss / 2**20:,.0f} MB",
        "pg PSS (sum)": f"{pss / 2**20:,.0f} MB",
        "chunk heap": db.sql("SELECT pg_size_pretty(pg_table_size('memories_chunk'))")[0][0],
        "HNSW index": sizes.get("chunk_embedding_hnsw_idx", "-"),
        "other chunk indexes": db.sql(
            "SELECT pg_size_pretty(pg_indexes_size('memories_chunk') - "
            "pg_relation_size('chunk_embedding_hnsw_idx'::regclass))"
        )[0][0],
    }


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


def start(db: ThrowawayPostgres, name: str, hnsw_min: int, log_dir: Path) -> Served:
    env = clean_env(
        DATABASE_URL=db.django_url, DJANGO_SECRET_KEY=SECRET_KEY, WEB_CONCURRENCY="1",
        SEARCH_HNSW_MIN_USER_CHUNKS=str(hnsw_min), RATELIMIT_API_RATE="1000000/m", RATELIMIT_AUTH_RATE="100000/m",
        PGBOUNCER_PORT="", PGBOUNCER_POOL_SIZE="20", EMBEDDING_TORCH_THREADS="1",
        JWT_ACCESS_LIFETIME_SECONDS="86400",  # the run outlasts a default access token (the 100,000 people load)
    )  # fmt: skip
    server = make_run(env=env, log_path=log_dir / f"{name}.log", target="run-pooled")
    server.wait_ready()
    return server


def table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    print(f"\n### {title}\n\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(x) for x in row) + " |")


def both(servers: dict[str, Served], user: LiveUser, requests: int) -> list[Any]:
    """/context p50 and p95 on the exact server, then on the HNSW one, each with the load average as it ran."""
    out: list[Any] = []
    for name in ("exact", "hnsw"):
        figures = context_latency(servers[name], user, requests)
        out += [figures["p50"], figures["p95"], load()]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", default="1000,10000,100000", help="one person's sizes")
    parser.add_argument("--people", default="1,1000,10000,100000", help="people counts (simulated)")
    parser.add_argument("--per-person", type=int, default=3, help="chunks of each simulated person")
    parser.add_argument("--typical", type=int, default=1000, help="chunks of a second measured person, a typical one")
    parser.add_argument("--requests", type=int, default=40, help="/context requests per measurement")
    parser.add_argument("--clients", type=int, default=200, help="concurrent saving clients")
    parser.add_argument("--saves", type=int, default=5, help="saves per client")
    args = parser.parse_args()
    sizes = [int(x) for x in args.chunks.split(",")]
    people = [int(x) for x in args.people.split(",")]
    print(f"machine: {machine()}; load average at the start: {load()}", flush=True)
    db = ThrowawayPostgres(prefix="memorylayer-bench-pooled-")
    log_dir = Path(tempfile.mkdtemp(prefix="bench-pooled-logs-"))
    servers: dict[str, Served] = {}
    head = ["exact p50", "exact p95", "load", "HNSW p50", "HNSW p95", "load"]
    try:
        servers["exact"] = start(db, "exact", 10**9, log_dir)
        servers["hnsw"] = start(db, "hnsw", 0, log_dir)
        base = servers["exact"].base_url
        person, typical = register(base, "bench"), register(base, "typical")
        savers = [register(base, "saver") for _ in range(10)]
        db.sql("UPDATE accounts_user SET tier = 'enterprise'")
        rows, memories = [], []
        for size in sizes:
            started = time.perf_counter()
            index_s = grow_person(db, person.user_id, size)
            loaded, table_size = time.perf_counter() - started, analyze(db)
            rows.append(
                [f"{size:,}", table_size, f"{loaded:.1f} ({index_s:.1f})", *both(servers, person, args.requests)]
            )
            memories.append([f"{size:,} chunks, 1 person", *memory(db).values()])
            print(rows[-1], flush=True)
        table("/context as one person grows (ms; load = 1-minute load average)",
              ["chunks", "table", "load s (index s)", *head], rows)  # fmt: skip
        grow_person(db, typical.user_id, args.typical)
        rows = []
        for count in people:
            started = time.perf_counter()
            index_s = add_people(db, count, args.per_person)
            loaded, table_size = time.perf_counter() - started, analyze(db)
            rows.append([f"{count:,}", table_size, f"{loaded:.1f} ({index_s:.1f})",
                         *both(servers, typical, args.requests), *both(servers, person, args.requests)])  # fmt: skip
            memories.append([f"+ {count:,} simulated people", *memory(db).values()])
            print(rows[-1], flush=True)
        table(f"/context as people are added ({args.per_person} chunks each; ms): a person of {args.typical:,} chunks, "
              f"then the person of {sizes[-1]:,}", ["people", "table", "load s (index s)",
              *(f"{args.typical:,}: {h}" for h in head), *(f"{sizes[-1]:,}: {h}" for h in head)], rows)  # fmt: skip
        table("PostgreSQL memory and sizes", ["after", *memory(db).keys()], memories)
        before = load()
        saves = concurrent_saves(servers["exact"], savers, args.clients, args.saves)
        table(f"{args.clients} concurrent clients saving through PgBouncer ({args.saves} each)",
              ["p50 ms", "p95 ms", "errors", "statuses", "saves/s", "load before", "load after"],
              [[saves.get("p50"), saves.get("p95"), saves["errors"], saves["statuses"], saves["saves_per_s"], before,
                load()]])  # fmt: skip
    finally:
        for server in servers.values():
            server.stop()
        db.cleanup()


if __name__ == "__main__":
    main()
