#!/usr/bin/env python
"""Open-loop load: 80% GET /context, 20% POST /save-prompt, at a fixed rate over many users, for a while.

    make serve PORT=8108 &                                            # the production-like server
    python bench/load.py --base-url http://127.0.0.1:8108 --rate 10 --duration 60
    python bench/load.py --rate 10                                    # or: starts gunicorn itself

Open loop: request i is scheduled at start + i/rate whether or not earlier ones have answered, and its latency
is measured from that scheduled time, so a server that falls behind shows it in the percentiles instead of
slowing the load down (no coordinated omission). Users are enterprise tier (no daily quota), made in-process
with the same settings and secret as the server (`make serve` reads var/secret_key and var/pgdata, and so
does this script when run from the same checkout).

Prints throughput, p50/p95/p99 (overall and per endpoint), the error count by status, the machine, and the
load average of the machine before and after (other processes compete for the same cores). Not a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, Client, machine, make_users, percentiles, server, setup_django, temp_pgdata

WORDS = [
    "garden",
    "recipe",
    "marathon",
    "Lisbon",
    "piano",
    "invoice",
    "dentist",
    "passport",
    "bicycle",
    "sourdough",
    "Kyoto",
    "Rust",
    "deadline",
    "wedding",
    "camping",
    "budget",
    "allergy",
    "lecture",
    "podcast",
]


@dataclass
class Outcome:
    kind: str
    status: int  # 0: no HTTP answer (connection error)
    latency_ms: float  # from the scheduled start
    service_ms: float  # from the moment the request was sent


def sentence(rng: random.Random, i: int) -> str:
    return f"Note {i}: " + " ".join(rng.choice(WORDS) for _ in range(12)) + "."


def run(args: argparse.Namespace) -> dict:
    if not os.environ.get("DJANGO_SECRET_KEY") and (ROOT / "var" / "secret_key").exists() and args.base_url:
        os.environ["DJANGO_SECRET_KEY"] = (ROOT / "var" / "secret_key").read_text().strip()  # as `make serve`
    setup_django(None if args.base_url else temp_pgdata("bench-load-pg-"))
    users = make_users(f"load-{int(time.time())}", args.users)
    results: dict = {
        "machine": machine(),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
        "target_rate": args.rate,
        "duration_s": args.duration,
        "users": args.users,
        "mix": "80% GET /context, 20% POST /save-prompt",
    }
    local = threading.local()

    with server(args.base_url, args.port, args.workers) as url:
        results["server"] = url if args.base_url else f"gunicorn, {args.workers} workers (started by the bench)"

        def client() -> Client:
            if not hasattr(local, "client"):
                local.client = Client(url)
            return local.client

        # A few memories per user first, so /context searches something.
        def seed(i: int) -> None:
            _, token = users[i % len(users)]
            status, body, _ = client().request(
                "POST", "/save-prompt", token=token, body={"prompt": sentence(random.Random(i), i)}
            )
            if status >= 300:
                raise RuntimeError(f"seeding failed: {status} {body}")

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(seed, range(args.users * args.seed_per_user)))

        rng = random.Random(args.seed)
        plan = [
            ("context" if rng.random() < 0.8 else "save", rng.randrange(len(users)), i)
            for i in range(int(args.rate * args.duration))
        ]
        outcomes: list[Outcome] = []
        lock = threading.Lock()

        def fire(kind: str, user_index: int, i: int, scheduled: float) -> None:
            user_id, token = users[user_index]
            sent = time.perf_counter()
            try:
                if kind == "context":
                    query = " ".join(random.Random(i).choice(WORDS) for _ in range(3))
                    status, _, _ = client().request(
                        "GET", f"/context/{user_id}", token=token, query={"query": query, "top_k": 5}
                    )
                else:
                    body = {"prompt": sentence(random.Random(10**6 + i), 10**6 + i)}
                    status, _, _ = client().request("POST", "/save-prompt", token=token, body=body)
            except (OSError, http.client.HTTPException):
                status = 0
            done = time.perf_counter()
            with lock:
                outcomes.append(Outcome(kind, status, (done - scheduled) * 1000, (done - sent) * 1000))

        start = time.perf_counter() + 0.5
        with ThreadPoolExecutor(args.max_in_flight) as pool:
            for n, (kind, user_index, i) in enumerate(plan):
                scheduled = start + n / args.rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(fire, kind, user_index, i, scheduled)
        elapsed = time.perf_counter() - start

    ok = [o for o in outcomes if 200 <= o.status < 300]
    errors = Counter(o.status for o in outcomes if not 200 <= o.status < 300)
    overall = percentiles([o.latency_ms for o in outcomes])
    results.update(
        requests=len(outcomes),
        seconds=round(elapsed, 1),
        throughput_rps=round(len(ok) / elapsed, 2),
        latency_ms=overall,
        service_ms=percentiles([o.service_ms for o in outcomes]),
        by_endpoint={
            kind: percentiles([o.latency_ms for o in outcomes if o.kind == kind]) for kind in ("context", "save")
        },
        errors=sum(errors.values()),
        errors_by_status={str(k): v for k, v in sorted(errors.items())},
        loadavg_after=[round(x, 2) for x in os.getloadavg()],
    )
    # "Held": every scheduled request answered 2xx, and the p99 from the schedule stayed within the SLO.
    results["held"] = results["errors"] == 0 and len(outcomes) == len(plan) and overall.get("p99", 1e9) <= args.slo_ms
    results["slo_p99_ms"] = args.slo_ms
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", help="a running server (e.g. `make serve`); default: start gunicorn here")
    parser.add_argument(
        "--port", type=int, default=None, help="port for the gunicorn started here (default: a free one)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=10.0, help="requests per second, scheduled (default 10)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seed-per-user", type=int, default=4, help="memories saved per user before the run")
    parser.add_argument("--max-in-flight", type=int, default=64, help="client threads (the open loop's ceiling)")
    parser.add_argument("--slo-ms", type=float, default=1000.0, help="p99 bound for 'held' (default 1000 ms)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
