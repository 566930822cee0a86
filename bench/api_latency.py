#!/usr/bin/env python
"""Latency of /context and /save-response over HTTP, with N memories for each of M users.

    python bench/api_latency.py                      # starts gunicorn (2 workers) on a throwaway database
    python bench/api_latency.py --base-url http://127.0.0.1:8000   # a running server with the same env

Prints p50/p95/p99 per endpoint and the machine it ran on. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Client, machine, make_users, percentiles, server, setup_django, temp_pgdata

TOPICS = [
    "my dog Max",
    "the trip to Kyoto",
    "learning Rust",
    "baking sourdough",
    "marathon training",
    "the new job at the bank",
    "my sister's wedding",
    "fixing the bike",
    "jazz piano lessons",
    "tax returns",
    "the garden tomatoes",
    "a Python memory leak",
    "moving to Lisbon",
    "the book club",
    "camping gear",
]
VERBS = ["I want to remember", "Remind me about", "Notes on", "Question about", "Update on", "Thinking about"]


def sentence(rng: random.Random, i: int) -> str:
    topic = rng.choice(TOPICS)
    return f"{rng.choice(VERBS)} {topic}: detail #{i} — {rng.choice(TOPICS)} and {rng.choice(TOPICS)} came up again."


def run(args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    setup_django(None if args.base_url else temp_pgdata("bench-latency-pg-"))
    users = make_users(f"bench-{int(time.time())}", args.users)
    results: dict = {"machine": machine(), "users": args.users, "memories_per_user": args.memories}
    with server(args.base_url, args.port, args.workers) as url:
        results["server"] = (
            url if args.base_url else f"gunicorn, {args.workers} workers x 4 threads (started by the bench)"
        )

        def seed(job: tuple[int, tuple[str, str]]) -> float:
            i, (user_id, token) = job
            status, body, ms = Client(url).request(
                "POST",
                "/save-prompt",
                token=token,
                body={"user_id": user_id, "prompt": sentence(random.Random(i), i), "provider": "claude"},
            )
            if status >= 300:
                raise RuntimeError(f"seed failed: {status} {body}")
            return ms

        jobs = [(u * args.memories + i, users[u]) for u in range(args.users) for i in range(args.memories)]
        start = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            seed_ms = list(pool.map(seed, jobs))
        results["seed"] = {"saves": len(jobs), "seconds": round(time.perf_counter() - start, 1), **percentiles(seed_ms)}

        def one(kind: str, i: int, client: Client) -> tuple[str, int, float]:
            user_id, token = users[i % len(users)]
            if kind == "context":
                status, _, ms = client.request(
                    "GET",
                    f"/context/{user_id}",
                    token=token,
                    query={"query": f"what did I say about {rng.choice(TOPICS)}?", "top_k": 5},
                )
            else:
                status, _, ms = client.request(
                    "POST",
                    "/save-response",
                    token=token,
                    body={
                        "user_id": user_id,
                        "prompt": f"Tell me about {rng.choice(TOPICS)} ({i})",
                        "response": sentence(rng, 10_000 + i) * 3,
                        "provider": "gemini",
                    },
                )
            return kind, status, ms

        plan = ["context"] * args.requests + ["save-response"] * (args.requests // 2)
        rng.shuffle(plan)
        local = threading.local()

        def client() -> Client:
            if not hasattr(local, "client"):
                local.client = Client(url)
            return local.client

        with ThreadPoolExecutor(args.concurrency) as pool:  # warm every worker's model and connections
            list(pool.map(lambda i: one("context", i, client()), range(4 * args.concurrency)))
        samples: dict[str, list[float]] = {"context": [], "save-response": []}
        errors = 0
        start = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            for kind, status, ms in pool.map(lambda p: one(p[1], p[0], client()), enumerate(plan)):
                if status >= 300:
                    errors += 1
                samples[kind].append(ms)
        elapsed = time.perf_counter() - start
        results["measure"] = {
            "concurrency": args.concurrency,
            "seconds": round(elapsed, 1),
            "throughput_rps": round(len(plan) / elapsed, 1),
            "errors": errors,
            **{kind: percentiles(ms) for kind, ms in samples.items()},
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", help="measure this running server instead of starting one")
    parser.add_argument(
        "--port", type=int, default=None, help="port for the server the bench starts (default: a free one)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--memories", type=int, default=200, help="memories seeded per user")
    parser.add_argument("--requests", type=int, default=400, help="/context requests (plus half as many saves)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the raw JSON only")
    args = parser.parse_args()
    results = run(args)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"machine: {results['machine']}")
    print(f"server:  {results['server']}")
    s = results["seed"]
    print(
        f"seeded {s['saves']} memories ({args.users} users x {args.memories}) in {s['seconds']} s; /save-prompt p50 {s['p50']} ms, p95 {s['p95']} ms"
    )
    m = results["measure"]
    print(
        f"measured {m['seconds']} s at concurrency {m['concurrency']}: {m['throughput_rps']} req/s, {m['errors']} errors"
    )
    print(f"{'endpoint':<16}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for kind in ("context", "save-response"):
        r = m[kind]
        print(f"{kind:<16}{r['n']:>6}{r['p50']:>10}{r['p95']:>10}{r['p99']:>10}{r['mean']:>10}")


if __name__ == "__main__":
    main()
