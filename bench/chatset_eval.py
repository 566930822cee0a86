#!/usr/bin/env python
"""Retrieval quality on our realistic chat set (bench/data/chatset), in-process, the default /context call.

    python bench/chatset_eval.py                         # dev split, throwaway database
    python bench/chatset_eval.py --split heldout
    python bench/chatset_eval.py --split all --pgdata var/chatset-pg --json var/chatset.json

Each persona is a user; each exchange is saved as the extension saves it: the prompt (POST /save-prompt) and then
the answer with its prompt (POST /save-response), through ``memories.services.memory_save``, at the exchange's
time and provider. Every question is then asked with ``context_search`` exactly as ``GET /context?query=`` does
by default (top_k 5, no filters, the default budget; @10 asks with top_k=10), at the question's own time (``asked_at``: "last month" is
relative to it). Reported per kind: evidence recall@5 (mean fraction of a question's evidence exchanges among
the results) and @10 (top_k=10), how often an update question ranks the newer exchange above the stale one,
and for the off-topic questions how often nothing at all comes back. Baselines from the same run and the same
stored chunks, without abstention: dense only (cosine), BM25 only, and plain reciprocal-rank fusion (k=60).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, machine
from chatset import KINDS, load

Row = tuple[Any, ...]


def setup(pgdata: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("DJANGO_SECRET_KEY", "chatset-bench-" + "c" * 40)
    os.environ["EMBEDDED_PGDATA"] = pgdata
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def store(persona: dict[str, Any]) -> tuple[Any, dict[int, str]]:
    """The persona's user (made and filled once) and memory id -> exchange id."""
    from accounts.models import Tier, User
    from memories import services
    from memories.models import Memory

    user, created = User.objects.get_or_create(username=f"chatset-{persona['persona']}", defaults={"tier": Tier.PRO})
    if created or not Memory.objects.filter(user=user).exists():
        for e in persona["exchanges"]:
            when = datetime.fromisoformat(e["timestamp"])
            services.memory_save(user=user, kind="prompt", provider=e["provider"], text=e["prompt"], created_at=when)
            services.memory_save(
                user=user,
                kind="response",
                provider=e["provider"],
                text=e["answer"],
                prompt=e["prompt"],
                created_at=when,
            )
    by_text = {(e["prompt"], e["provider"]): e["id"] for e in persona["exchanges"]}
    owners = {}
    for memory in Memory.objects.filter(user=user):
        owners[memory.pk] = by_text[((memory.prompt or memory.text), memory.provider)]
    return user, owners


def exchanges(memory_ids: list[int], owners: dict[int, str]) -> list[str]:
    out: list[str] = []
    for memory_id in memory_ids:
        exchange = owners[memory_id]
        if exchange not in out:
            out.append(exchange)
    return out


def baseline(rows: list[Row], score: Callable[[list[Row]], dict[int, float]]) -> list[int]:
    scores = score(rows)
    return [r.memory_id for r in sorted(rows, key=lambda r: -scores[id(r)])]


def dense(rows: list[Row]) -> dict[int, float]:
    return {id(r): float(r.cosine or 0.0) for r in rows}


def bm25(rows: list[Row]) -> dict[int, float]:
    return {id(r): float(r.bm25) for r in rows}


def rrf(rows: list[Row]) -> dict[int, float]:
    by_cos = {id(r): i for i, r in enumerate(sorted(rows, key=lambda r: -float(r.cosine or 0.0)))}
    by_kw = {id(r): i for i, r in enumerate(sorted(rows, key=lambda r: -float(r.bm25))) if float(r.bm25) > 0}
    return {id(r): 1 / (60 + by_cos[id(r)]) + (1 / (60 + by_kw[id(r)]) if id(r) in by_kw else 0.0) for r in rows}


def recall(got: list[str], wanted: list[str], k: int) -> float:
    return len(set(wanted) & set(got[:k])) / len(wanted)


def evaluate(split: str) -> dict[str, Any]:
    from memories.search import context, hybrid

    systems = ("default", "no abstention", "dense", "bm25", "rrf")
    scores: dict[str, dict[str, list[float]]] = {s: defaultdict(list) for s in systems}
    newer_first: list[bool] = []
    abstained: list[bool] = []
    misses: list[dict[str, Any]] = []
    for persona in load(split):
        user, owners = store(persona)
        for q in persona["questions"]:
            now = datetime.fromisoformat(q["asked_at"])
            got: dict[str, list[str]] = {}
            got10: dict[str, list[str]] = {}
            for name, abstain in (("default", True), ("no abstention", False)):
                for k, into in ((5, got), (10, got10)):
                    results = context.context_search(user=user, query=q["query"], top_k=k, now=now, abstain=abstain)
                    into[name] = exchanges([r.memory_id for r in results], owners)
            rows = hybrid.hybrid_candidates(user=user, query=q["query"], filters=hybrid.Filters())
            for name, fn in (("dense", dense), ("bm25", bm25), ("rrf", rrf)):
                got[name] = exchanges(baseline(rows, fn), owners)
            for name in systems:
                scores[name][q["kind"]].append(recall(got[name], q["evidence"], 5))
                scores[name][q["kind"] + "@10"].append(recall(got10.get(name, got[name]), q["evidence"], 10))
            if q["kind"] == "update":
                ranking = got["default"]
                new, old = q["evidence"][0], q["stale"][0]
                newer_first.append(new in ranking and (old not in ranking or ranking.index(new) < ranking.index(old)))
            if recall(got["default"], q["evidence"], 5) < 1:
                misses.append(
                    {
                        "id": q["id"],
                        "kind": q["kind"],
                        "query": q["query"],
                        "got": got["default"][:5],
                        "wanted": q["evidence"],
                    }
                )
        for q in persona["off_topic"]:
            now = datetime.fromisoformat(q["asked_at"])
            results = context.context_search(user=user, query=q["query"], top_k=5, now=now)
            abstained.append(not results)
            if results:
                misses.append(
                    {
                        "id": q["id"],
                        "kind": "off-topic",
                        "query": q["query"],
                        "got": exchanges([r.memory_id for r in results], owners),
                    }
                )

    def mean(values: list[float]) -> float:
        return round(sum(values) / len(values), 3) if values else float("nan")

    table: dict[str, dict[str, float]] = {}
    for name in systems:
        row = {kind: mean(scores[name][kind]) for kind in KINDS}
        row["all@5"] = mean([v for kind in KINDS for v in scores[name][kind]])
        row["all@10"] = mean([v for kind in KINDS for v in scores[name][kind + "@10"]])
        table[name] = row
    return {
        "split": split,
        "questions": len(scores["default"]["fact"]) and sum(len(scores["default"][k]) for k in KINDS),
        "recall@5 by kind": table,
        "update: newer ranked above stale": mean([float(x) for x in newer_first]),
        "off-topic answered with no context": mean([float(x) for x in abstained]),
        "off-topic questions": len(abstained),
        "misses": misses,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="dev", choices=["dev", "heldout", "all"])
    parser.add_argument("--pgdata", help="keep the database here (reused on the next run); default: a temp dir")
    parser.add_argument("--json", type=Path, help="write the full report (with every miss) here")
    parser.add_argument("--misses", action="store_true", help="print the misses too")
    args = parser.parse_args()
    setup(args.pgdata or tempfile.mkdtemp(prefix="memorylayer-chatset-"))
    report = evaluate(args.split)
    report["machine"] = machine()
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    print(f"chat set, {args.split} split: {report['questions']} questions, {report['off-topic questions']} off-topic")
    header = ["system", *KINDS, "all@5", "all@10"]
    print("  ".join(f"{h:>13}" for h in header))
    for name, row in report["recall@5 by kind"].items():
        print("  ".join([f"{name:>13}", *(f"{row[h]:>13.3f}" for h in header[1:])]))
    print(f"update questions, newer exchange ranked above the stale one: {report['update: newer ranked above stale']}")
    print(
        f"off-topic questions answered with no context (default call): {report['off-topic answered with no context']}"
    )
    if args.misses:
        for miss in report["misses"]:
            print(json.dumps(miss))
    return 0


if __name__ == "__main__":
    sys.exit(main())
