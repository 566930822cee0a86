#!/usr/bin/env python
"""Dense search at scale: pgvector exact, pgvector HNSW and FAISS side by side, for users of several sizes.

    python bench/scale.py                              # 150k chunks: users of 1k, 5k, 10k, 20k, 50k + 1,000 small
    python bench/scale.py --rows 20000 --sizes 1000,5000   # a quicker run
    python bench/scale.py --pgdata /tmp/scale-pg       # keep the data between runs (loaded once)

Inserts chunks with synthetic unit vectors (each user's vectors cluster around a few topics, like real
embeddings; queries are perturbed copies of the user's own vectors) by binary COPY, builds the HNSW index and
the FAISS file, then times ``memories.search.dense`` in this process (database round trips included, no HTTP, no
embedding) and computes recall@k against exact search. Prints the machine and a Markdown table.
Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, percentiles, setup_django

DIM = 384
CHUNKS_PER_MEMORY = 50


def clustered(rng: np.random.Generator, n: int) -> np.ndarray:
    topics = rng.standard_normal((max(1, n // 200), DIM)).astype(np.float32)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    # per-dimension noise 1/sqrt(DIM): two chunks of one topic have cosine similarity about 0.5
    vectors = topics[rng.integers(0, len(topics), n)] + rng.standard_normal((n, DIM)).astype(np.float32) / np.sqrt(DIM)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def layout(args: argparse.Namespace) -> list[tuple[str, int]]:
    """(username, chunk count): the measured users, then the crowd that fills the table up to --rows."""
    sized = [(f"scale-user-{n}", n) for n in args.sizes]
    rest = args.rows - sum(n for _, n in sized)
    if rest < args.crowd:
        raise SystemExit(f"--rows {args.rows} leaves too few rows for {args.crowd} crowd users")
    crowd = [(f"scale-crowd-{i}", rest // args.crowd + (1 if i < rest % args.crowd else 0)) for i in range(args.crowd)]
    return sized + crowd


def load(args: argparse.Namespace, plan: list[tuple[str, int]]) -> dict[str, float]:
    import psycopg
    from django.db import connection
    from pgvector.psycopg import register_vector

    from accounts.models import User
    from accounts.services import space_default
    from memories.models import Chunk, Memory

    if Chunk.objects.count() == args.rows and User.objects.filter(username=plan[0][0]).exists():
        print(f"reusing the {args.rows} rows already loaded")
        return {}
    timings: dict[str, float] = {}
    Chunk.objects.all().delete()
    Memory.objects.all().delete()
    User.objects.filter(username__startswith="scale-").delete()
    users = User.objects.bulk_create([User(username=name) for name, _ in plan])
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS chunk_embedding_hnsw_idx")
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as raw:
        register_vector(raw)
        for user, (_, n) in zip(users, plan, strict=True):
            space = space_default(user=user)
            memories = Memory.objects.bulk_create(
                Memory(
                    user=user,
                    space=space,
                    kind="prompt",
                    provider="claude",
                    text=f"m{i}",
                    content_hash=f"{user.pk}-{i}",
                )
                for i in range(0, n, CHUNKS_PER_MEMORY)
            )
            vectors = clustered(rng, n)
            with (
                raw.cursor() as cur,
                cur.copy(
                    "COPY memories_chunk (memory_id, user_id, position, text, embedding) FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.set_types(["bigint", "uuid", "integer", "text", "vector"])
                for i in range(n):
                    memory = memories[i // CHUNKS_PER_MEMORY]
                    copy.write_row((memory.pk, user.pk, i % CHUNKS_PER_MEMORY, f"chunk {i}", vectors[i]))
        timings["copy_s"] = round(time.perf_counter() - start, 1)
        start = time.perf_counter()
        raw.execute("SET maintenance_work_mem = '2GB'")
        raw.execute(
            "CREATE INDEX chunk_embedding_hnsw_idx ON memories_chunk USING hnsw (embedding vector_cosine_ops) "
            "WITH (m = 16, ef_construction = 64)"
        )
        timings["hnsw_build_s"] = round(time.perf_counter() - start, 1)
        raw.execute("VACUUM ANALYZE memories_chunk")
        raw.execute("VACUUM ANALYZE memories_memory")
    return timings


def queries_for(user: Any, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    from memories.models import Chunk

    ids = list(Chunk.objects.filter(user=user).values_list("id", flat=True))
    picked = rng.choice(ids, size=min(n, len(ids)), replace=False)
    rows = {c.pk: np.asarray(c.embedding, dtype=np.float32) for c in Chunk.objects.filter(pk__in=picked.tolist())}
    out = []
    for chunk_id in picked:
        q = rows[int(chunk_id)] + rng.standard_normal(DIM).astype(np.float32) / np.sqrt(DIM)
        out.append(q / np.linalg.norm(q))
    return out


def measure(search: Any, queries: list[np.ndarray], truth: list[set[int]] | None, k: int) -> dict[str, Any]:
    for q in queries[:3]:
        search(q)  # warm caches and connections
    samples, found, sizes = [], 0, []
    results = []
    for q in queries:
        start = time.perf_counter()
        ids = search(q)
        samples.append((time.perf_counter() - start) * 1000)
        results.append(set(ids))
        sizes.append(len(ids))
    stats = percentiles(samples)
    row: dict[str, Any] = {"p50": stats["p50"], "p95": stats["p95"], "rows": round(sum(sizes) / len(sizes), 2)}
    if truth is not None:
        found = sum(len(r & t) for r, t in zip(results, truth, strict=True))
        row["recall"] = round(found / sum(len(t) for t in truth), 4)
    row["_results"] = results
    return row


def run(args: argparse.Namespace) -> None:
    import psutil
    from django.conf import settings
    from django.db import connection, transaction
    from pgvector.django import CosineDistance

    from accounts.models import User
    from memories.models import Chunk
    from memories.search import dense, indexing, search_index

    plan = layout(args)
    print(f"machine: {machine()}")
    print(f"data: {args.rows} chunks, measured users of {', '.join(map(str, args.sizes))} chunks, {args.crowd} others")
    timings = load(args, plan)

    start = time.perf_counter()
    rebuilt = indexing.index_rebuild(batch_size=10_000)
    timings["faiss_build_s"] = round(time.perf_counter() - start, 1)
    rss_before = psutil.Process().memory_info().rss
    search_index.current_index()
    timings["faiss_load_rss_mb"] = round((psutil.Process().memory_info().rss - rss_before) / 2**20)
    timings["faiss_file_mb"] = round(rebuilt.path.stat().st_size / 2**20)
    print("setup:", timings)

    rng = np.random.default_rng(args.seed + 1)
    k = args.k
    table = []
    for name, size in plan[: len(args.sizes)]:
        user = User.objects.get(username=name)
        queries = queries_for(user, args.queries, rng)

        def exact(q: np.ndarray, user: Any = user) -> list[int]:
            return [i for i, _ in dense.pgvector_search(user=user, vector=q, limit=k, hnsw=False).candidates]

        base = measure(exact, queries, None, k)
        truth = base["_results"]
        rows = {"pgvector exact": {**base, "recall": 1.0}}

        def naive(q: np.ndarray, user: Any = user) -> list[int]:
            # what the ORM does once an HNSW index exists: a filtered HNSW scan, no iterative scan
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL hnsw.iterative_scan = off")
                return list(
                    Chunk.objects.filter(user=user)
                    .annotate(d=CosineDistance("embedding", q))
                    .order_by("d")
                    .values_list("id", flat=True)[:k]
                )

        rows["pgvector ORM, iterative_scan off"] = measure(naive, queries, truth, k)
        for ef in args.ef:
            settings.SEARCH_HNSW_EF_SEARCH = ef

            def hnsw(q: np.ndarray, user: Any = user) -> list[int]:
                return [i for i, _ in dense.pgvector_search(user=user, vector=q, limit=k, hnsw=True).candidates]

            rows[f"pgvector HNSW ef_search={ef}"] = measure(hnsw, queries, truth, k)
        settings.SEARCH_HNSW_EF_SEARCH = args.ef[-1]
        settings.SEARCH_BACKEND = "faiss"

        def faiss(q: np.ndarray, user: Any = user) -> list[int]:
            result = dense.dense_search(user=user, vector=q, limit=k)
            assert result.engine == "faiss"
            return [i for i, _ in result.candidates]

        rows["FAISS (+ fresh rows, resolved in PG)"] = measure(faiss, queries, truth, k)
        settings.SEARCH_BACKEND = "pgvector"

        def auto(q: np.ndarray, user: Any = user) -> list[int]:
            return [i for i, _ in dense.dense_candidates(user=user, vector=q, limit=k)]

        chosen = dense.pgvector_search(user=user, vector=queries[0], limit=k).engine.split("-")[1]
        rows[f"pgvector auto (-> {chosen})"] = measure(auto, queries, truth, k)
        for engine, row in rows.items():
            row.pop("_results")
            table.append((size, engine, row))
            print(f"  user {size:>6}: {engine:<40} {row}", flush=True)

    print()
    print(f"Dense top-{k}, {args.queries} queries per user, threshold SEARCH_HNSW_MIN_USER_CHUNKS={args.threshold}")
    print()
    print("| user's chunks | engine | p50 ms | p95 ms | rows returned | recall@10 |")
    print("|---:|---|---:|---:|---:|---:|")
    for size, engine, row in table:
        print(f"| {size:,} | {engine} | {row['p50']} | {row['p95']} | {row['rows']} | {row['recall']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=150_000, help="total chunks in the table")
    parser.add_argument("--sizes", default="1000,5000,10000,20000,50000", help="chunk counts of the measured users")
    parser.add_argument("--crowd", type=int, default=1000, help="other users sharing the remaining rows")
    parser.add_argument("--queries", type=int, default=50, help="queries per measured user")
    parser.add_argument("--ef", default="40,100,200", help="hnsw.ef_search values to measure")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pgdata", help="embedded PostgreSQL data directory (kept; default: a temp dir)")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.ef = [int(s) for s in args.ef.split(",")]
    os.environ.setdefault("FAISS_INDEX_PATH", str(Path(tempfile.mkdtemp(prefix="scale-faiss-")) / "chunks.index"))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    setup_django(args.pgdata or tempfile.mkdtemp(prefix="scale-pg-"))
    from django.conf import settings

    args.threshold = settings.SEARCH_HNSW_MIN_USER_CHUNKS
    run(args)


if __name__ == "__main__":
    main()
