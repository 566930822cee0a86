#!/usr/bin/env python
"""Evidence recall of /context on LoCoMo (Maharana et al., ACL 2024), through the real HTTP API.

For each conversation: a fresh enterprise user; every turn saved with one POST /save-prompt (text
"<speaker>: <text>" plus the shared image's caption, timestamp = the session's date), in order; then every
category 1-4 question asked with GET /context?top_k=10. Reports evidence recall@5/@10 (mean fraction of a
question's evidence turns among the top k), all-evidence@k, per category, and save/context latency p50/p95.

    python bench/locomo.py                       # dev split, own server on 127.0.0.1:8102, throwaway database
    python bench/locomo.py --split heldout --json var/locomo-heldout.json
    python bench/locomo.py --base-url http://127.0.0.1:8000   # a running server; this process must see the
                                                              # same database (same DATABASE_URL / EMBEDDED_PGDATA)

In-process (quick, to compare variants; the HTTP run above is the reported one): ask the questions of an earlier
HTTP run again, on its kept database, with ``context_search`` called directly (settings overridden per
``--variant``), beside dense, BM25 and plain RRF ranked from the same rows of the same hybrid query:

    python bench/locomo.py --split dev --pgdata var/locomo-dev-pg --json var/locomo-dev.json   # saves once
    python bench/locomo.py --in-process --pgdata var/locomo-dev-pg --json var/locomo-dev.json \
        --variant "keyword 0.75:CONTEXT_KEYWORD_WEIGHT=0.75"

Users and their access tokens are made in-process with Django (the server is only talked to over HTTP).
The data (CC BY-NC 4.0) is read from ../shared/data/locomo/ and never copied into the project.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # chatset_eval and _common, for --in-process
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "locomo" / "locomo10.json"
SPLITS = {
    "dev": ["conv-26", "conv-30", "conv-41", "conv-42"],
    "heldout": ["conv-43", "conv-44", "conv-47", "conv-48", "conv-49", "conv-50"],
}
SPLITS["all"] = SPLITS["dev"] + SPLITS["heldout"]
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
TOP_K = 10
KS = (5, 10)
_DIA = re.compile(r"D:?(\d+):(\d+)")


# --- data ---------------------------------------------------------------------------------------------
def session_date(value: str) -> datetime:
    """ "1:56 pm on 8 May, 2023" -> an aware datetime (LoCoMo gives no zone: UTC)."""
    return datetime.strptime(value.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def turns(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    """Every turn in order, with the text to save and its session's date (sessions without turns skipped)."""
    out = []
    sessions = sorted(
        (int(k.split("_")[1]) for k in conversation if re.fullmatch(r"session_\d+", k)),
    )
    for n in sessions:
        when = session_date(conversation[f"session_{n}_date_time"])
        for turn in conversation[f"session_{n}"]:
            text = f"{turn['speaker']}: {turn['text']}"
            if turn.get("blip_caption"):
                text += f" [shares {turn['blip_caption']}]"
            out.append({"dia_id": turn["dia_id"], "text": text, "timestamp": when.isoformat()})
    return out


def evidence_ids(raw: list[Any]) -> list[str]:
    """Clean evidence: several ids in one string, "D:11:26", "D30:05", bare "D" (see the data's README)."""
    ids: list[str] = []
    for entry in raw:
        for part in re.split(r"[;\s]+", str(entry)):
            match = _DIA.fullmatch(part.strip())
            if match:
                ids.append(f"D{int(match[1])}:{int(match[2])}")
    return ids


# --- HTTP -----------------------------------------------------------------------------------------------
def call(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> tuple[int, Any, float]:
    """One request; a 429 (the per-user burst limit of a server run with its defaults) waits and retries."""
    for _ in range(30):
        status, payload, ms, retry_after = _call_once(method, url, token, body)
        if status != 429:
            break
        time.sleep(retry_after)
    return status, payload, ms


def _call_once(method: str, url: str, token: str, body: dict[str, Any] | None) -> tuple[int, Any, float, float]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    started = time.perf_counter()
    retry_after = 2.0
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
        retry_after = float(error.headers.get("Retry-After") or 2)
    elapsed = (time.perf_counter() - started) * 1000
    return status, json.loads(payload or b"null"), elapsed, retry_after


def make_user(sample_id: str) -> tuple[str, str]:
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import Tier, User

    username = f"locomo-{sample_id}-{os.getpid()}-{int(time.time())}"
    user = User.objects.create_user(username=username, tier=Tier.ENTERPRISE)
    return str(user.pk), str(AccessToken.for_user(user))


def run_conversation(base: str, sample: dict[str, Any], log: Any) -> dict[str, Any]:
    user_id, token = make_user(sample["sample_id"])
    memory_of: dict[str, int] = {}
    save_ms: list[float] = []
    for turn in turns(sample["conversation"]):
        body = {"user_id": user_id, "prompt": turn["text"], "provider": "chatgpt", "timestamp": turn["timestamp"]}
        status, payload, ms = call("POST", f"{base}/save-prompt", token, body)
        if status not in (200, 201):
            raise RuntimeError(f"save {turn['dia_id']} answered {status}: {payload}")
        memory_of[turn["dia_id"]] = payload["memory_id"]
        save_ms.append(ms)
    log(f"{sample['sample_id']}: saved {len(memory_of)} turns")
    questions, context_ms = [], []
    for qa in sample["qa"]:
        if qa.get("category") not in CATEGORIES:
            continue
        wanted = {memory_of[d] for d in evidence_ids(qa.get("evidence", [])) if d in memory_of}
        if not wanted:
            continue  # empty evidence, or only ids that do not exist
        query = urllib.parse.urlencode({"query": qa["question"], "top_k": TOP_K})
        status, payload, ms = call("GET", f"{base}/context/{user_id}?{query}", token)
        if status != 200:
            raise RuntimeError(f"context answered {status}: {payload}")
        context_ms.append(ms)
        got = [r["memory_id"] for r in payload["results"]]
        questions.append({"category": qa["category"], "question": qa["question"], "wanted": sorted(wanted), "got": got})
    log(f"{sample['sample_id']}: asked {len(questions)} questions")
    return {
        "sample_id": sample["sample_id"],
        "user_id": user_id,
        "questions": questions,
        "save_ms": save_ms,
        "context_ms": context_ms,
    }


# --- figures --------------------------------------------------------------------------------------------
def recall(questions: list[dict[str, Any]], k: int) -> tuple[float, float]:
    if not questions:
        return 0.0, 0.0
    fractions = [len(set(q["wanted"]) & set(q["got"][:k])) / len(q["wanted"]) for q in questions]
    return statistics.fmean(fractions), statistics.fmean(f == 1.0 for f in fractions)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0


def summarize(conversations: list[dict[str, Any]], split: str) -> dict[str, Any]:
    questions = [q for c in conversations for q in c["questions"]]
    rows = {"all": questions} | {
        f"{n} {name}": [q for q in questions if q["category"] == n] for n, name in CATEGORIES.items()
    }
    table = {}
    for label, qs in rows.items():
        row: dict[str, Any] = {"questions": len(qs)}
        for k in KS:
            row[f"recall@{k}"], row[f"all@{k}"] = (round(x, 4) for x in recall(qs, k))
        table[label] = row
    save_ms = [ms for c in conversations for ms in c["save_ms"]]
    context_ms = [ms for c in conversations for ms in c["context_ms"]]
    return {
        "split": split,
        "conversations": [c["sample_id"] for c in conversations],
        "turns_saved": len(save_ms),
        "recall": table,
        "latency_ms": {
            "save_p50": round(percentile(save_ms, 50), 1),
            "save_p95": round(percentile(save_ms, 95), 1),
            "context_p50": round(percentile(context_ms, 50), 1),
            "context_p95": round(percentile(context_ms, 95), 1),
        },
    }


def print_table(summary: dict[str, Any]) -> None:
    print(f"\nLoCoMo evidence recall, split={summary['split']} ({', '.join(summary['conversations'])})")
    header = f"{'category':<16}{'questions':>10}" + "".join(f"{f'recall@{k}':>11}{f'all@{k}':>8}" for k in KS)
    print(header)
    print("-" * len(header))
    for label, row in summary["recall"].items():
        cells = "".join(f"{row[f'recall@{k}']:>11.3f}{row[f'all@{k}']:>8.3f}" for k in KS)
        print(f"{label:<16}{row['questions']:>10}{cells}")
    lat = summary["latency_ms"]
    print(
        f"\nlatency over HTTP: save p50 {lat['save_p50']} ms, p95 {lat['save_p95']} ms "
        f"({summary['turns_saved']} saves); context p50 {lat['context_p50']} ms, p95 {lat['context_p95']} ms"
    )


# --- server ---------------------------------------------------------------------------------------------
def start_server(port: int | None, env: dict[str, str]) -> Any:
    """gunicorn (2 workers) on the bench's database, once it answers HTTP (testkit.processes runs it; without
    ``port``, on a free port, another if it is taken first)."""
    from testkit.processes import Served, free_port  # importable once setup_django() has put the root on sys.path

    def on_port(chosen: int) -> tuple[list[str], dict[str, str]]:
        argv = [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{chosen}", "-w", "2"]
        return [*argv, "--timeout", "120", "--log-level", "warning"], env

    chosen = port or free_port()
    log_path = Path(tempfile.gettempdir()) / f"locomo-gunicorn-{chosen}.log"
    server = Served(on_port(chosen)[0], env=env, log_path=log_path, port=chosen, own_group=False,
                    on_port=None if port else on_port)  # fmt: skip
    server.wait_answering(timeout=120)
    return server


def setup_django(pgdata: str | None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("DJANGO_SECRET_KEY", "locomo-bench-" + "b" * 40)
    if pgdata:
        os.environ["EMBEDDED_PGDATA"] = pgdata
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- in-process ---------------------------------------------------------------------------------------
def ask_again(report: dict[str, Any], variants: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Every question of an earlier run asked again in-process: per system, the questions with what they got."""
    from chatset_eval import baseline, bm25, dense, rrf, settings_of

    from accounts.models import User
    from memories.search import context, hybrid

    systems: dict[str, list[dict[str, Any]]] = {name: [] for name in (*variants, "dense", "bm25", "rrf")}
    for conversation in report["details"]:
        user = User.objects.get(pk=conversation["user_id"])
        for q in conversation["questions"]:
            for name, overrides in variants.items():
                with settings_of(overrides):
                    results = context.context_search(user=user, query=q["question"], top_k=TOP_K)
                systems[name].append(q | {"got": [r.memory_id for r in results]})
            rows = hybrid.hybrid_candidates(user=user, query=q["question"], filters=hybrid.Filters())
            for name, fn in (("dense", dense), ("bm25", bm25), ("rrf", rrf)):
                got = list(dict.fromkeys(baseline(rows, fn)))[:TOP_K]
                systems[name].append(q | {"got": got})
    return systems


def print_systems(split: str, systems: dict[str, list[dict[str, Any]]]) -> None:
    columns = [f"{n} {name}" for n, name in CATEGORIES.items()]
    print(f"\nLoCoMo evidence recall, split={split}, in-process (recall@5 per category, then all @5 and @10)")
    header = f"{'system':<34}" + "".join(f"{c.split()[1][:11]:>12}" for c in columns) + f"{'all@5':>8}{'all@10':>8}"
    print(header)
    print("-" * len(header))
    for name, questions in systems.items():
        table = summarize([{"sample_id": "", "questions": questions, "save_ms": [], "context_ms": []}], split)
        row = table["recall"]
        cells = "".join(f"{row[c]['recall@5']:>12.3f}" for c in columns)
        print(f"{name:<34}{cells}{row['all']['recall@5']:>8.3f}{row['all']['recall@10']:>8.3f}")


def in_process(args: argparse.Namespace) -> int:
    from _common import machine
    from chatset_eval import parse_variant

    if not args.json or not args.pgdata:
        raise SystemExit("--in-process needs --json and --pgdata of an earlier run")
    setup_django(args.pgdata)
    report = json.loads(args.json.read_text())
    variants = dict([("default", {}), *(parse_variant(v) for v in args.variant)])
    systems = ask_again(report, variants)
    print(machine())
    print_systems(report["split"], systems)
    if args.out:
        args.out.write_text(json.dumps({"machine": machine(), "split": report["split"], "systems": systems}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--in-process", action="store_true", help="ask an earlier run's questions again in-process (see above)"
    )
    parser.add_argument(
        "--variant", action="append", default=[], help='with --in-process: "name:SETTING=value,..." (repeatable)'
    )
    parser.add_argument("--out", type=Path, help="with --in-process: write every system's answers here")
    parser.add_argument("--split", choices=sorted(SPLITS), default="dev")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="path to locomo10.json")
    parser.add_argument("--base-url", help="a running server (default: start one on --port)")
    parser.add_argument("--port", type=int, default=None, help="port for the bench's own server (default: free)")
    parser.add_argument("--pgdata", help="keep the bench database here (default: a temp dir, deleted)")
    parser.add_argument("--workers", type=int, default=2, help="conversations run in parallel")
    parser.add_argument("--json", type=Path, help="also write the summary (and per-question hits) here")
    args = parser.parse_args()
    if args.in_process:
        return in_process(args)

    samples = {s["sample_id"]: s for s in json.loads(args.data.read_text())}
    chosen = [samples[sid] for sid in SPLITS[args.split]]
    pgdata = args.pgdata
    if not args.base_url and not pgdata:
        # The embedded server deletes this directory when its last user (this process) exits.
        pgdata = tempfile.mkdtemp(prefix="locomo-bench-pg-")
        os.environ["EMBEDDED_PG_CLEANUP"] = "delete"
    server = None
    try:
        setup_django(None if args.base_url else pgdata)
        base = args.base_url
        if not base:
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
            # Plain HTTP on loopback: without DEBUG the settings may redirect every request to HTTPS.
            env = os.environ | {
                "EMBEDDED_PGDATA": str(pgdata),
                "EMBEDDING_TORCH_THREADS": "1",
                "HF_HUB_OFFLINE": "1",
                "DJANGO_SECURE_SSL_REDIRECT": "0",
                # A backfill saves a whole conversation in a minute or two, far past the per-user burst limit;
                # this measures retrieval, not the limiter.
                "RATELIMIT_API_RATE": "100000/m",
                "RATELIMIT_ALLOW_LOCAL_CACHE": "1",
                "LOG_LEVEL": "WARNING",  # no access log line per request in the bench's output
            }
            server = start_server(args.port, env)
            base = server.base_url
        base = base.rstrip("/")
        lock = threading.Lock()

        def log(message: str) -> None:
            with lock:
                print(message, file=sys.stderr, flush=True)

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            conversations = list(pool.map(lambda s: run_conversation(base, s, log), chosen))
        summary = summarize(conversations, args.split)
        summary["wall_seconds"] = round(time.monotonic() - started, 1)
        print_table(summary)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(summary | {"details": conversations}, indent=1))
    finally:
        if server is not None:
            server.stop(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
