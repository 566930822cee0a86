#!/usr/bin/env python
"""`make run` as a user runs it, measured over HTTP, for each embedding backend side by side in one run.

    python bench/serving.py                          # onnx and torch, rates 40 60 80 req/s, 20 s each
    python bench/serving.py --backends onnx --rates 60 --duration 30

For each backend: `make run` (gunicorn, 2 workers x 4 threads, the pool, EMBEDDING_BACKEND=<backend>) on a free
port and a throwaway embedded PostgreSQL of this bench (DATABASE_URL); 8 enterprise users with 40 saved prompts
each. Then, all against that one server:
- start-up: seconds from `make run` to the first 200 from /ready (migrations included), and each worker's RSS;
- one bare query embedding in this process with the same backend (p50 of 200), and `/context` over HTTP, one at
  a time (p50/p95 of 300), with the mean of each Server-Timing phase; their ratio is the cost of everything
  around the model;
- open loop at each rate: a 1:1 mix of GET /context and POST /save-prompt (requests scheduled at fixed times,
  latency measured from the schedule, so a server that falls behind shows it): achieved req/s, p50/p95, errors;
- each worker's RSS after all of that (over 1,000 requests).
Prints JSON with the machine. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, Client, machine, percentiles

from testkit.processes import ThrowawayPostgres, make_run

WORDS = [
    "garden",
    "tomato",
    "watering",
    "trip",
    "kyoto",
    "rust",
    "borrow",
    "checker",
    "sourdough",
    "marathon",
    "knee",
    "wedding",
    "budget",
    "bike",
    "chain",
    "piano",
    "lessons",
    "taxes",
    "lisbon",
    "flat",
    "lease",
    "invoice",
    "client",
    "figma",
    "daycare",
    "toddler",
    "sleep",
    "thesis",
    "zebrafish",
    "bakery",
    "flour",
    "supplier",
    "robotics",
    "physics",
    "lesson",
    "car",
    "insurance",
    "blood",
    "pressure",
    "allotment",
]


def sentence(rng: random.Random, n: int) -> str:
    return f"Note {n}: " + " ".join(rng.choice(WORDS) for _ in range(14)) + "."


class MakeRun:
    """`make run` with EMBEDDING_BACKEND=<backend> on the bench's own database (testkit.processes runs it)."""

    def __init__(self, db: ThrowawayPostgres, backend: str, port: int | None = None, **env_extra: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "EMBEDDED_"))}
        env.update(
            DATABASE_URL=db.django_url,
            DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
            EMBEDDING_BACKEND=backend,
            RATELIMIT_API_RATE="1000000/m",
            RATELIMIT_AUTH_RATE="10000/m",
            LOG_LEVEL="WARNING",
            **env_extra,
        )
        self.served = make_run(env=env, log_path=db.tmp / f"make-run-{backend}.log", port=port)
        self.url = self.served.base_url
        self.process = self.served.process
        self.ready_after = self.served.wait_ready(timeout=600)

    def workers(self) -> list[psutil.Process]:
        found = []
        for proc in psutil.Process(self.process.pid).children(recursive=True):
            try:
                if (
                    "gunicorn" in " ".join(proc.cmdline())
                    and proc.parent()
                    and "gunicorn" in " ".join(proc.parent().cmdline())
                ):
                    found.append(proc)
            except psutil.Error:
                continue
        return found

    def rss_mb(self) -> list[int]:
        return sorted(round(p.memory_info().rss / 2**20) for p in self.workers())

    def stop(self) -> None:
        self.served.stop()


def users(server: MakeRun, db: ThrowawayPostgres, count: int) -> list[tuple[str, str]]:
    made = []
    client = Client(server.url)
    for i in range(count):
        name, password = f"bench-{i}-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
        status, body, _ = client.request(
            "POST", "/auth/register", body={"username": name, "email": f"{name}@example.com", "password": password}
        )
        assert status == 201, body
        status, token, _ = client.request("POST", "/auth/token/", body={"username": name, "password": password})
        assert status == 200, token
        made.append((body["user_id"], token["access"]))
    db.sql("UPDATE accounts_user SET tier = 'enterprise'")
    return made


def bare_embedding_ms(backend: str) -> float:
    """p50 of one short query embedded in this process with ``backend`` (the model loaded first)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + "x" * 50)
    sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings

    django.setup()
    settings.EMBEDDING_BACKEND = backend
    from memories.embedding import embeddings

    embeddings.embed(["warm up"])
    rng = random.Random(3)
    samples = []
    for _ in range(200):
        query = " ".join(rng.choice(WORDS) for _ in range(6))
        started = time.perf_counter()
        embeddings.embed([query])
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)["p50"]


def phases(header: str) -> dict[str, float]:
    out = {}
    for part in header.split(","):
        name, _, dur = part.strip().partition(";dur=")
        if dur:
            out[name] = float(dur)
    return out


def sequential_context(server: MakeRun, people: list[tuple[str, str]], n: int) -> dict[str, Any]:
    client = Client(server.url)
    rng = random.Random(5)
    samples, timing = [], defaultdict(list)
    for i in range(n + 10):
        user_id, token = people[i % len(people)]
        query = " ".join(rng.choice(WORDS) for _ in range(6))
        status, _, ms = client.request("GET", f"/context/{user_id}", token=token, query={"query": query})
        assert status == 200, status
        if i >= 10:  # warm-up excluded
            samples.append(ms)
            for name, dur in phases(client.headers.get("Server-Timing", "")).items():
                timing[name].append(dur)
    return {
        "latency_ms": percentiles(samples),
        "server_timing_mean_ms": {k: round(sum(v) / len(v), 2) for k, v in timing.items()},
    }


def open_loop(server: MakeRun, people: list[tuple[str, str]], rate: float, duration: float) -> dict[str, Any]:
    local = threading.local()
    rng = random.Random(int(rate))
    plan = [("context" if i % 2 else "save", rng.randrange(len(people)), i) for i in range(int(rate * duration))]
    outcomes: list[tuple[str, int, float]] = []
    lock = threading.Lock()

    def fire(kind: str, who: int, i: int, scheduled: float) -> None:
        if not hasattr(local, "client"):
            local.client = Client(server.url)
        user_id, token = people[who]
        text = sentence(random.Random(10**6 * rate + i), i)
        try:
            if kind == "context":
                status, _, _ = local.client.request("GET", f"/context/{user_id}", token=token, query={"query": text})
            else:
                status, _, _ = local.client.request("POST", "/save-prompt", token=token, body={"prompt": text})
        except OSError:
            status = 0
        with lock:
            outcomes.append((kind, status, (time.perf_counter() - scheduled) * 1000))

    start = time.perf_counter() + 0.3
    with ThreadPoolExecutor(64) as pool:
        for n, (kind, who, i) in enumerate(plan):
            scheduled = start + n / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(fire, kind, who, i, scheduled)
    elapsed = time.perf_counter() - start
    ok = [o for o in outcomes if 200 <= o[1] < 300]
    return {
        "rate_scheduled": rate,
        "requests": len(outcomes),
        "achieved_rps": round(len(ok) / elapsed, 1),
        "latency_ms": percentiles([o[2] for o in outcomes]),
        "context_ms": percentiles([o[2] for o in outcomes if o[0] == "context"]),
        "save_ms": percentiles([o[2] for o in outcomes if o[0] == "save"]),
        "errors": dict(Counter(str(o[1]) for o in outcomes if not 200 <= o[1] < 300)),
    }


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    db = ThrowawayPostgres(prefix="memorylayer-bench-")
    server = MakeRun(db, backend)
    try:
        result: dict[str, Any] = {"ready_after_s": round(server.ready_after, 1), "rss_mb_at_start": server.rss_mb()}
        people = users(server, db, 8)
        client = Client(server.url)
        for n in range(40 * len(people)):
            status, body, _ = client.request(
                "POST", "/save-prompt", token=people[n % len(people)][1], body={"prompt": sentence(random.Random(n), n)}
            )
            assert status == 201, body
        result["bare_embedding_p50_ms"] = bare_embedding_ms(backend)
        result["context_sequential"] = sequential_context(server, people, args.sequential)
        result["context_p50_over_bare_embedding"] = round(
            result["context_sequential"]["latency_ms"]["p50"] / result["bare_embedding_p50_ms"], 2
        )
        result["open_loop_1_to_1"] = [open_loop(server, people, rate, args.duration) for rate in args.rates]
        result["rss_mb_after"] = server.rss_mb()
        result["requests_served"] = (
            40 * len(people) + args.sequential + 10 + sum(r["requests"] for r in result["open_loop_1_to_1"])
        )
        return result
    finally:
        server.stop()
        db.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", default=["onnx", "torch"])
    parser.add_argument("--rates", nargs="+", type=float, default=[40.0, 60.0, 80.0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per rate (default 20)")
    parser.add_argument("--sequential", type=int, default=300, help="one-at-a-time /context requests (default 300)")
    args = parser.parse_args()
    out: dict[str, Any] = {"machine": machine(), "loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    for backend in args.backends:
        out[backend] = run_backend(backend, args)
    out["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
