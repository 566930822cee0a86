#!/usr/bin/env python
"""/context and /save-response over HTTP at scale, with both search engines and both embedding backends.

    python bench/scale_http.py --pgdata /tmp/scale-http-100k        # 100k chunks (kept for the next run)
    python bench/scale_http.py --rows 10000 --sizes 5000              # a quicker run

Loads the table the way bench/scale.py does (binary COPY of synthetic unit vectors clustered by topic; the
default layout is one user with 20,000 chunks plus 1,000 users sharing the rest), gives the measured users
enterprise quotas and access tokens, builds the FAISS file, then for each EMBEDDING_BACKEND (torch, onnx) and
each SEARCH_BACKEND (pgvector, faiss) starts one gunicorn process (1 worker, 1 thread) on that database and
times, one request at a time over a keep-alive connection:

- GET /context for a small user (one of the 1,000) and for the large user (real query text, embedded by the
  server; stored vectors are synthetic, so only the timing means anything, not the ranking);
- POST /save-response with a 300-word answer (chunked and embedded by the server, one model call);
- the server process's RSS (psutil) after those requests.

Then it measures, in fresh processes, import + load + first embedding time and RSS for each embedding backend,
and profiles /context in this process (cProfile, Django's test client, no HTTP) to show what dominates.
Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, Client, machine, percentiles, setup_django
from api_latency import TOPICS, VERBS
from scale import layout, load

from testkit.processes import Served, free_port

WORDS = [
    "the",
    "a",
    "garden",
    "recipe",
    "deadline",
    "budget",
    "train",
    "Lisbon",
    "piano",
    "marathon",
    "dog",
    "bank",
    "meeting",
    "contract",
    "invoice",
    "weekend",
    "sister",
    "coffee",
    "laptop",
    "Rust",
    "Python",
    "deploy",
    "bug",
    "review",
    "notes",
    "idea",
    "plan",
    "travel",
    "book",
    "walk",
]


def answer_300_words(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(300))


def query_text(rng: random.Random) -> str:
    return f"{rng.choice(VERBS)} {rng.choice(TOPICS)}?"


def start_server(port: int | None, env_extra: dict[str, str]) -> Served:
    """One gunicorn worker with one thread on the bench's database, once it answers HTTP (without ``port``: on a free
    port, another if it is taken first)."""
    env = {**os.environ, **env_extra, "HF_HUB_OFFLINE": "1", "DJANGO_SECURE_SSL_REDIRECT": "0", "TQDM_DISABLE": "1"}

    def on_port(chosen: int) -> tuple[list[str], dict[str, str]]:
        argv = [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{chosen}", "-w", "1"]
        return [*argv, "--threads", "1", "--timeout", "300", "--log-level", "warning"], env

    chosen = port or free_port()
    log_path = Path(tempfile.gettempdir()) / f"scale-http-gunicorn-{chosen}.log"  # the access log, among others
    server = Served(on_port(chosen)[0], env=env, log_path=log_path, port=chosen, own_group=False,
                    on_port=None if port else on_port)  # fmt: skip
    server.wait_answering(timeout=120)
    return server


def worker_rss_mb(master: Served) -> float:
    import psutil

    children = psutil.Process(master.pid).children()
    return round(sum(c.memory_info().rss for c in children) / 2**20)


def measure_server(args: argparse.Namespace, users: dict[str, tuple[str, str]], env_extra: dict[str, str]) -> dict:
    rng = random.Random(args.seed)
    proc = start_server(args.port, env_extra)
    url = proc.base_url
    try:
        client = Client(url)
        row: dict[str, Any] = {}
        for label, (user_id, token) in users.items():
            if label == "small":
                continue
            for _ in range(5):  # load the model, open the connection, warm the caches
                client.request("GET", f"/context/{user_id}", token=token, query={"query": query_text(rng), "top_k": 5})
            samples = []
            for _ in range(args.requests):
                status, body, ms = client.request(
                    "GET", f"/context/{user_id}", token=token, query={"query": query_text(rng), "top_k": 5}
                )
                if status != 200:
                    raise SystemExit(f"/context answered {status}: {body}")
                samples.append(ms)
            row[f"context {label}"] = percentiles(samples)
        user_id, token = users["small"]
        samples = []
        for i in range(args.saves):
            # a new text every time (the run's clock in it): a duplicate would be answered without embedding
            text = f"Run {time.time_ns()}: {answer_300_words(rng)}"
            body = {"user_id": user_id, "prompt": f"Summarise week {i}", "response": text, "provider": "claude"}
            status, answer, ms = client.request("POST", "/save-response", token=token, body=body)
            if status != 201:
                raise SystemExit(f"/save-response answered {status}: {answer}")
            samples.append(ms)
        row["save-response 300 words"] = percentiles(samples)
        row["rss_mb"] = worker_rss_mb(proc)
        return row
    finally:
        proc.stop()


STARTUP_SCRIPT = """
import os, sys, time
t0 = time.perf_counter()
import django
django.setup()
from memories.embedding import embeddings
embeddings.embed(["what did I say about my dog?"])
t1 = time.perf_counter()
samples = []
for _ in range(30):
    s = time.perf_counter(); embeddings.embed(["what did I say about my dog?"]); samples.append((time.perf_counter() - s) * 1000)
samples.sort()
import psutil
print(round(t1 - t0, 2), round(psutil.Process().memory_info().rss / 2**20), round(samples[15], 1),
      "torch" in sys.modules, "sentence_transformers" in sys.modules)
"""


def measure_startup(backend: str) -> dict[str, Any]:
    """A fresh process: Django setup, load the model, embed one query; then 30 more single-query embeddings."""
    env = {**os.environ, "EMBEDDING_BACKEND": backend, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    out = subprocess.run([sys.executable, "-c", STARTUP_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    seconds, rss, p50, has_torch, has_st = out.stdout.split()[-5:]
    return {
        "load_and_first_embed_s": float(seconds),
        "rss_mb": int(rss),
        "embed_one_query_p50_ms": float(p50),
        "torch_imported": has_torch == "True",
        "sentence_transformers_imported": has_st == "True",
    }


def profile_context(user_id: str, token: str, backend: str) -> str:
    from django.conf import settings
    from django.test import Client as DjangoClient

    settings.EMBEDDING_BACKEND = backend
    client = DjangoClient(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    rng = random.Random(3)
    for _ in range(5):
        client.get(f"/context/{user_id}", {"query": query_text(rng), "top_k": "5"})
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(20):
        client.get(f"/context/{user_id}", {"query": query_text(rng), "top_k": "5"})
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
    return out.getvalue()


def prepare_users(plan: list[tuple[str, int]], sizes: list[int]) -> dict[str, tuple[str, str]]:
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    big = User.objects.get(username=plan[0][0])
    small = User.objects.get(username=plan[len(sizes)][0])
    User.objects.filter(pk__in=[big.pk, small.pk]).update(tier="enterprise")
    return {
        f"small user ({plan[len(sizes)][1]} chunks)": (str(small.pk), str(AccessToken.for_user(small))),
        f"large user ({plan[0][1]} chunks)": (str(big.pk), str(AccessToken.for_user(big))),
        "small": (str(small.pk), str(AccessToken.for_user(small))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="total chunks in the table")
    parser.add_argument("--sizes", default="20000", help="chunk count of the large measured user")
    parser.add_argument("--crowd", type=int, default=1000, help="other users sharing the remaining rows")
    parser.add_argument("--requests", type=int, default=60, help="/context requests per user and configuration")
    parser.add_argument("--saves", type=int, default=20, help="/save-response requests per configuration")
    parser.add_argument("--backends", default="torch,onnx", help="embedding backends to measure")
    parser.add_argument("--engines", default="pgvector,faiss", help="search backends to measure")
    parser.add_argument("--port", type=int, default=None, help="the server's port (default: a free one)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pgdata", help="embedded PostgreSQL data directory (kept; default: a temp dir)")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")][:1]
    os.environ.setdefault("FAISS_INDEX_PATH", str(Path(tempfile.mkdtemp(prefix="scale-http-faiss-")) / "chunks.index"))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
    os.environ.setdefault("RATELIMIT_ALLOW_LOCAL_CACHE", "1")
    setup_django(args.pgdata or tempfile.mkdtemp(prefix="scale-http-pg-"))
    from memories.search import indexing

    plan = layout(args)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at start")
    print(f"data: {args.rows} chunks: one user with {args.sizes[0]}, {args.crowd} users sharing the rest")
    print("setup:", load(args, plan))
    indexing.index_rebuild(batch_size=10_000)
    users = prepare_users(plan, args.sizes)
    small = users.pop("small")
    results = []
    for backend in args.backends.split(","):
        for engine in args.engines.split(","):
            row = measure_server(
                args, {**users, "small": small}, {"EMBEDDING_BACKEND": backend, "SEARCH_BACKEND": engine}
            )
            results.append((backend, engine, row))
            print(f"  {backend:<5} {engine:<8} {row}", flush=True)
    startup = {backend: measure_startup(backend) for backend in args.backends.split(",")}
    for backend, row in startup.items():
        print(f"  startup {backend}: {row}")

    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    print(
        "| embeddings | search | /context small p50 / p95 ms | /context 20k p50 / p95 ms | /save-response p50 ms | RSS MB |"
    )
    print("|---|---|---:|---:|---:|---:|")
    labels = list(users)
    for backend, engine, row in results:
        a, b = row[f"context {labels[0]}"], row[f"context {labels[1]}"]
        s = row["save-response 300 words"]
        print(
            f"| {backend} | {engine} | {a['p50']} / {a['p95']} | {b['p50']} / {b['p95']} | {s['p50']} | {row['rss_mb']} |"
        )
    if not args.no_profile:
        for backend in args.backends.split(","):
            print(f"\ncProfile of 20 /context requests for the large user, EMBEDDING_BACKEND={backend}, pgvector:")
            print(profile_context(*users[labels[1]], backend))


if __name__ == "__main__":
    main()
