#!/usr/bin/env python
"""Choose the fusion weights on the LoCoMo dev split, in-process, from a database kept by bench/locomo.py.

    python bench/locomo.py --split dev --pgdata var/locomo-dev-pg --json var/locomo-dev.json
    python bench/tune_locomo.py --pgdata var/locomo-dev-pg --json var/locomo-dev.json

Each question's candidate rows (cosine, BM25 and the user's statistics) are fetched once with the product's
own SQL (memories.search.hybrid.hybrid_candidates); the fusions below are then recomputed from them, so only the ranking
changes between rows of the table. Tune on dev only: the held-out conversations are for checking.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memories.search.hybrid import HybridRow as Row

ROOT = Path(__file__).resolve().parent.parent


def zscore(wd: float, wk: float) -> Callable[[list[Row]], list[int]]:
    def rank(rows: list[Row]) -> list[int]:
        def score(r: Row) -> float:
            cos = float(r.cosine or 0.0)
            dense = (cos - r.cos_mean) / max(r.cos_std, 1e-6)
            return wd * dense + (wk * (r.bm25 - r.kw_mean) / r.kw_std if r.kw_std else 0.0)

        return _best_memories(rows, score)

    return rank


def rrf(k: int, wk: float) -> Callable[[list[Row]], list[int]]:
    def rank(rows: list[Row]) -> list[int]:
        dense = {id(r): i for i, r in enumerate(sorted(rows, key=lambda r: -float(r.cosine or 0.0)))}
        keyword = {id(r): i for i, r in enumerate(sorted(rows, key=lambda r: -r.bm25)) if r.bm25 > 0}

        def score(r: Row) -> float:
            s = 1 / (k + dense[id(r)])
            return s + (wk / (k + keyword[id(r)]) if id(r) in keyword else 0.0)

        return _best_memories(rows, score)

    return rank


def _best_memories(rows: list[Row], score: Callable[[Row], float]) -> list[int]:
    out: list[int] = []
    for r in sorted(rows, key=score, reverse=True):
        if r.memory_id not in out:
            out.append(r.memory_id)
    return out[:10]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pgdata", required=True)
    parser.add_argument("--json", type=Path, required=True, help="the --json output of bench/locomo.py")
    parser.add_argument("--bm25-grid", action="store_true", help="also try BM25's k1 and b (refetches rows)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("DJANGO_SECRET_KEY", "locomo-bench-" + "b" * 40)
    os.environ["EMBEDDED_PGDATA"] = args.pgdata
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.test import override_settings

    from accounts.models import User
    from memories.search import hybrid

    report = json.loads(args.json.read_text())
    questions = [
        (User.objects.get(pk=conv["user_id"]), q["question"], set(q["wanted"]))
        for conv in report["details"]
        for q in conv["questions"]
    ]

    def fetch() -> list[tuple[set[int], list[Row]]]:
        empty = hybrid.Filters()
        return [(wanted, hybrid.hybrid_candidates(user=u, query=text, filters=empty)) for u, text, wanted in questions]

    if args.bm25_grid:
        print(f"{'BM25 (z-score fusion, weights 1:1)':<34}{'recall@5':>10}{'recall@10':>11}")
        for k1 in (0.9, 1.2, 1.6):
            for b in (0.4, 0.75, 0.9):
                with override_settings(CONTEXT_BM25_K1=k1, CONTEXT_BM25_B=b):
                    r5, r10 = evaluate(fetch(), zscore(1, 1))
                print(f"{f'k1={k1} b={b}':<34}{r5:>10.3f}{r10:>11.3f}")
    cases = fetch()

    fusions: dict[str, Callable[[list[Row]], list[int]]] = {"dense only": zscore(1, 0), "BM25 only": zscore(0, 1)}
    fusions |= {f"z-score, keyword weight {wk}": zscore(1, wk) for wk in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)}
    fusions |= {f"RRF k=60, keyword weight {wk}": rrf(60, wk) for wk in (1.0, 1.5)}
    print(f"{'fusion':<34}{'recall@5':>10}{'recall@10':>11}")
    for name, rank in fusions.items():
        r5, r10 = evaluate(cases, rank)
        print(f"{name:<34}{r5:>10.3f}{r10:>11.3f}")
    return 0


def evaluate(cases: list[tuple[set[int], list[Row]]], rank: Callable[[list[Row]], list[int]]) -> tuple[float, float]:
    r5 = r10 = 0.0
    for wanted, rows in cases:
        got = rank(rows)
        r5 += len(wanted & set(got[:5])) / len(wanted)
        r10 += len(wanted & set(got[:10])) / len(wanted)
    return r5 / len(cases), r10 / len(cases)


if __name__ == "__main__":
    sys.exit(main())
