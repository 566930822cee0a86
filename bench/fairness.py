#!/usr/bin/env python
"""Three people on one `make run`: nobody waits for somebody else's import (docs/queue.md), measured over HTTP.

    python bench/fairness.py                        # a 20,000-message import, probes every 2 s, a 40-message import
    python bench/fairness.py --messages 2000 --port 8300

Against one `make run` (gunicorn + the worker as the Procfile starts it) on a throwaway embedded PostgreSQL, in one
run, side by side:
- idle: save-to-found by paraphrase before anything else runs (a fact saved with POST /save-prompt, then GET
  /context with a question sharing no word with it every 20 ms until it comes back): p50/p95;
- person A uploads a generated ChatGPT export of --messages messages (multipart POST /memories/import);
- while it runs, person B saves a fact and looks for it by meaning every --probe-every seconds: save-to-found
  p50/p95 during the import (the live lane), and how many were not found within 20 s;
- once A's import is under way, person C uploads a 40-message export: seconds from upload to `done` (the bulk
  lane's turns), and A's progress when C's finished;
- A's import: messages per second end to end (upload to `done`: every message stored and embedded);
- the worker's RSS (start, peak, end) and /ready's queue figures sampled during the import (live and bulk apart).
Prints JSON with the machine. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Client, machine, percentiles
from serving import MakeRun, users
from task_queue import FACTS, multipart, worker_process

from testkit.chat_exports import write_chatgpt_export
from testkit.processes import ThrowawayPostgres


def upload(server: MakeRun, token: str, path: Path) -> str:
    body, content_type = multipart(path)
    request = urllib.request.Request(
        f"{server.url}/memories/import",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        return str(json.loads(response.read())["status_url"])


def job_status(client: Client, token: str, status_url: str) -> dict[str, Any]:
    status, job, _ = client.request("GET", status_url, token=token)
    assert status == 200, job
    return dict(job)


class Probers:
    """Person B, as many people as needed so that each saves each of the FACTS once: the same fact saved a seventh
    time with another name would compete with its six older copies for the five places of /context, and a miss
    would measure that, not the queue."""

    def __init__(self, server: MakeRun, db: ThrowawayPostgres) -> None:
        self.server, self.db, self.people = server, db, users(server, db, 1)

    def __call__(self, i: int) -> tuple[str, str]:
        while len(self.people) <= i // len(FACTS):
            self.people += users(self.server, self.db, 1)
        return self.people[i // len(FACTS)]


def probe(client: Client, user: tuple[str, str], i: int, limit_s: float = 20.0) -> float | None:
    """Milliseconds from a save to its first appearance by meaning; None when not found within ``limit_s``."""
    user_id, token = user
    fact, question = FACTS[i % len(FACTS)]
    name = f"Zq{secrets.token_hex(3)}"
    status, _, _ = client.request("POST", "/save-prompt", token=token, body={"prompt": fact.format(n=name)})
    assert status == 201
    saved = time.perf_counter()
    while time.perf_counter() - saved < limit_s:
        status, answer, _ = client.request("GET", f"/context/{user_id}", token=token, query={"query": question})
        if status == 200 and any(name in c for c in answer["contexts"]):
            return (time.perf_counter() - saved) * 1000
        time.sleep(0.02)
    return None


def summary(waits: list[float | None]) -> dict[str, Any]:
    found = [w for w in waits if w is not None]
    return {"samples": len(waits), "not_found_within_20_s": len(waits) - len(found), **percentiles(found)}


def scenario(server: MakeRun, db: ThrowawayPostgres, args: argparse.Namespace) -> dict[str, Any]:
    a, c = users(server, db, 2)
    b = Probers(server, db)
    client = Client(server.url)
    tmp = Path(tempfile.mkdtemp(prefix="bench-fairness-"))
    idle = [probe(client, b(i), i) for i in range(args.idle_probes)]

    big, small = tmp / "a" / "conversations.json", tmp / "c" / "conversations.json"
    big.parent.mkdir()
    small.parent.mkdir()
    write_chatgpt_export(big, args.messages)
    write_chatgpt_export(small, args.small)
    worker = worker_process(server)
    rss: list[float] = [worker.memory_info().rss / 2**20]
    lanes: list[dict[str, Any]] = []
    stop = threading.Event()
    watched: dict[str, str] = {}  # A's status URL, once uploaded: progress goes to stderr every 10 s

    def sample() -> None:
        sampler_client, last_report = Client(server.url), time.perf_counter()
        while not stop.is_set():
            rss.append(worker.memory_info().rss / 2**20)
            status, ready, _ = sampler_client.request("GET", "/ready")
            if status == 200:
                lanes.append(ready["queue"])
            if "a" in watched and time.perf_counter() - last_report >= 10:
                last_report = time.perf_counter()
                job = job_status(sampler_client, a[1], watched["a"])
                elapsed = last_report - started
                print(
                    f"[{elapsed:6.0f} s] A: {job['done']}/{job['total']} ({job['done'] / elapsed:.1f} msg/s), "
                    f"probes {len(during)}, worker RSS {rss[-1]:.0f} MB",
                    file=sys.stderr,
                    flush=True,
                )
            time.sleep(1.0)

    during: list[float | None] = []
    started = time.perf_counter()
    sampler = threading.Thread(target=sample)
    sampler.start()
    a_url = watched["a"] = upload(server, a[1], big)
    a_accepted = time.perf_counter() - started
    while job_status(client, a[1], a_url)["done"] == 0:  # A's import under way before C and B start
        time.sleep(0.2)

    small_result: dict[str, Any] = {}

    def small_import() -> None:
        began = time.perf_counter()
        url = upload(server, c[1], small)
        while (job := job_status(Client(server.url), c[1], url))["status"] not in ("done", "failed"):
            time.sleep(0.2)
        a_then = job_status(Client(server.url), a[1], a_url)
        small_result.update(
            messages=args.small,
            status=job["status"],
            seconds=round(time.perf_counter() - began, 1),
            big_import_done_then=f"{a_then['done']} of {a_then['total']}",
        )
        print(f"C's import: {small_result}", file=sys.stderr, flush=True)

    small_thread = threading.Thread(target=small_import)
    small_thread.start()
    while (job := job_status(client, a[1], a_url))["status"] not in ("done", "failed"):
        probe_started = time.perf_counter()
        i = args.idle_probes + len(during)
        during.append(probe(client, b(i), i))
        time.sleep(max(0.0, args.probe_every - (time.perf_counter() - probe_started)))
    seconds = time.perf_counter() - started
    small_thread.join()
    stop.set()
    sampler.join()
    return {
        "save_to_found_idle_ms": summary(idle),
        "save_to_found_during_import_ms": summary(during),
        "small_import_during": small_result,
        "big_import": {
            "messages": args.messages,
            "status": job["status"],
            "imported": job["imported"],
            "accepted_s": round(a_accepted, 1),
            "seconds": round(seconds, 1),
            "messages_per_second": round(job["done"] / seconds, 1),
        },
        "worker_rss_mb": {"start": round(rss[0]), "peak": round(max(rss)), "end": round(rss[-1])},
        "queue_during_import": {
            "live_oldest_wait_s_max": max((q["live"]["oldest_waiting_seconds"] for q in lanes), default=0.0),
            "bulk_waiting_max": max((q["bulk"]["waiting"] for q in lanes), default=0),
            "bulk_oldest_wait_s_max": max((q["bulk"]["oldest_waiting_seconds"] for q in lanes), default=0.0),
            "samples": len(lanes),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20000, help="person A's import (default 20,000)")
    parser.add_argument("--small", type=int, default=40, help="person C's import (default 40)")
    parser.add_argument("--probe-every", type=float, default=2.0, help="seconds between B's saves (default 2)")
    parser.add_argument("--idle-probes", type=int, default=10)
    parser.add_argument("--port", type=int, default=None, help="make run's port (default: a free one)")
    parser.add_argument("--label", default="", help="printed with the figures, e.g. 'contended'")
    args = parser.parse_args()
    db = ThrowawayPostgres(prefix="memorylayer-bench-")
    # a 20,000-message import outlasts the default 15-minute access token
    server = MakeRun(db, "onnx", port=args.port, JWT_ACCESS_LIFETIME_SECONDS="86400")
    try:
        result = {
            "machine": machine(),
            "label": args.label,
            "make_run_ready_s": round(server.ready_after, 1),
            **scenario(server, db, args),
        }
    finally:
        server.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
