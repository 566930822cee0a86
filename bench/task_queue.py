#!/usr/bin/env python
"""The save path with the task queue, measured over HTTP against `make run` (gunicorn + the worker), in one run.

    python bench/task_queue.py                       # 200 saves, 30 save-to-found probes, a 20,000-message import
    python bench/task_queue.py --messages 5000 --saves 100

Against one `make run` on a throwaway embedded PostgreSQL (DATABASE_URL), side by side:
- POST /save-response with a ~300-word answer, one at a time, and GET /auth/me the same way: p50/p95 and the ratio
  of the two p50s (what a save costs beyond an authenticated request);
- save-to-found: a fact saved, then GET /context with a paraphrase sharing no word with it, every 20 ms, until the
  new memory comes back (found by meaning: the worker has embedded it): p50/p95 of that time;
- a generated ChatGPT export (testkit.chat_exports) uploaded with POST /memories/import, polled until `done`:
  messages per second end to end (upload to done, every message embedded) and the worker's RSS over the import.
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
import uuid
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Client, machine, percentiles
from serving import MakeRun, phases, users

from testkit.chat_exports import write_chatgpt_export
from testkit.processes import ThrowawayPostgres

ANSWER = " ".join(
    f"Step {i}: water the tomatoes early, mulch the beds, check the soil moisture and note the harvest."
    for i in range(1, 21)
)  # about 300 words

# (what is saved, a question about it that shares no word with it); {n} makes each saved fact new.
FACTS = [
    ("My daughter {n} started violin lessons at the conservatory.", "which instrument is my kid learning?"),
    ("I adopted a kitten called {n} from the shelter.", "what pet did we get recently?"),
    ("Our landlord {n} raised the rent by twelve percent.", "how much more will housing cost us?"),
    ("I was diagnosed with celiac disease by Dr {n}.", "what can't I eat because of my illness?"),
    ("My manager {n} moved me onto the payments team.", "which department did my boss transfer me to?"),
    ("We booked flights to Reykjavik with {n} for February.", "where are we travelling this winter?"),
]


def timed(
    client: Client, method: str, path: str, token: str, body: Any = None, spent: dict[str, list[float]] | None = None
) -> float:
    started = time.perf_counter()
    status, answer, _ = client.request(method, path, token=token, body=body)
    assert status in (200, 201), (status, answer)
    if spent is not None:  # the server's own account of the request (Server-Timing: auth, look, store, ...)
        for name, dur in phases(client.headers.get("Server-Timing", "")).items():
            spent.setdefault(name, []).append(dur)
    return (time.perf_counter() - started) * 1000


def save_latency(server: MakeRun, user: tuple[str, str], n: int) -> dict[str, Any]:
    client = Client(server.url)
    _, token = user
    for _ in range(10):  # warm both paths
        timed(client, "GET", "/auth/me", token)
    saves, mes = [], []
    save_spent: dict[str, list[float]] = {}
    me_spent: dict[str, list[float]] = {}
    for i in range(n):  # interleaved, so both see the same machine
        body = {"prompt": f"How do I grow tomatoes, take {i}?", "response": f"{ANSWER} ({i})", "provider": "chatgpt"}
        saves.append(timed(client, "POST", "/save-response", token, body, save_spent))
        mes.append(timed(client, "GET", "/auth/me", token, spent=me_spent))
    save, me = percentiles(saves), percentiles(mes)
    return {
        "save_response_300_words": save,
        "auth_me": me,
        "ratio_p50": round(save["p50"] / me["p50"], 2),
        "server_timing_p50_ms": {"save": _p50s(save_spent), "auth_me": _p50s(me_spent)},
    }


def _p50s(spent: dict[str, list[float]]) -> dict[str, float]:
    return {name: percentiles(values)["p50"] for name, values in sorted(spent.items())}


def save_to_found(server: MakeRun, user: tuple[str, str], n: int) -> dict[str, Any]:
    client = Client(server.url)
    user_id, token = user
    waits, missed = [], 0
    for i in range(n):
        fact, question = FACTS[i % len(FACTS)]
        name = f"Zq{secrets.token_hex(3)}"
        status, _, _ = client.request("POST", "/save-prompt", token=token, body={"prompt": fact.format(n=name)})
        assert status == 201
        saved = time.perf_counter()
        found = False
        while not found and time.perf_counter() - saved < 20:
            status, answer, _ = client.request("GET", f"/context/{user_id}", token=token, query={"query": question})
            found = status == 200 and any(name in c for c in answer["contexts"])
            if not found:
                time.sleep(0.02)
        if found:
            waits.append((time.perf_counter() - saved) * 1000)
        else:
            missed += 1  # the ranking did not bring it back for that paraphrase: not a queue delay
    return {"samples": n, "not_found_within_20_s": missed, **(percentiles(waits) if waits else {})}


def worker_process(server: MakeRun) -> psutil.Process:
    found = [
        proc
        for proc in psutil.Process(server.process.pid).children(recursive=True)
        if "procrastinate" in " ".join(proc.cmdline()) and "python" in proc.name()
    ]
    if not found:
        raise SystemExit("no worker process under make run")
    return max(found, key=lambda proc: proc.memory_info().rss)  # the worker itself, not honcho's shell


def multipart(path: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: application/json\r\n\r\n"
    ).encode()
    return head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def import_export(server: MakeRun, user: tuple[str, str], messages: int) -> dict[str, Any]:
    import urllib.request

    _, token = user
    path = Path(tempfile.mkdtemp(prefix="bench-import-")) / "conversations.json"
    size = write_chatgpt_export(path, messages)
    worker = worker_process(server)
    rss: list[float] = [worker.memory_info().rss / 2**20]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            rss.append(worker.memory_info().rss / 2**20)
            time.sleep(0.5)

    sampler = threading.Thread(target=sample)
    sampler.start()
    body, content_type = multipart(path)
    started = time.perf_counter()
    request = urllib.request.Request(
        f"{server.url}/memories/import",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        queued = json.loads(response.read())
    accepted_ms = (time.perf_counter() - started) * 1000
    client = Client(server.url)
    while True:
        status, job, _ = client.request("GET", queued["status_url"], token=token)
        assert status == 200, job
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.5)
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    return {
        "messages": messages,
        "file_mb": round(size / 2**20, 1),
        "status": job["status"],
        "imported": job["imported"],
        "accepted_ms": round(accepted_ms),
        "seconds": round(seconds, 1),
        "messages_per_second": round(job["done"] / seconds, 1),
        "worker_rss_mb": {"start": round(rss[0]), "peak": round(max(rss)), "end": round(rss[-1])},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--probes", type=int, default=30)
    parser.add_argument("--messages", type=int, default=20000)
    args = parser.parse_args()
    db = ThrowawayPostgres(prefix="memorylayer-bench-")
    server = MakeRun(db, "onnx")
    try:
        people = users(server, db, 3)
        result = {
            "machine": machine(),
            "make_run_ready_s": round(server.ready_after, 1),
            "saves": save_latency(server, people[0], args.saves),
            "save_to_found_by_paraphrase_ms": save_to_found(server, people[1], args.probes),
            "import": import_export(server, people[2], args.messages) if args.messages else None,
        }
    finally:
        server.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
