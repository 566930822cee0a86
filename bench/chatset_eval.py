#!/usr/bin/env python
"""Retrieval quality on our chat set (bench/data/chatset), tuning and test people side by side, in-process.

    python bench/chatset_eval.py                                   # throwaway database
    python bench/chatset_eval.py --pgdata var/chatset-pg           # kept: the next run skips the saves
    python bench/chatset_eval.py --pgdata var/chatset-pg --variant "no recency:CONTEXT_RECENCY_WEIGHT=0"

The people are split once (the ``split`` of each file): every weight, word list and threshold is chosen on the
tuning people; the test people are only reported. Each person is a user; each exchange is saved as the
extension saves it (the prompt, then the answer with its prompt, through ``memories.services.memory_save``, at
the exchange's time and provider), and the embedding worker's job is run until every vector is written.

Every question is asked at its own time (``asked_at``) with the default /context call (``context_search``,
no filters, the default budget) at top_k=10: recall@5 is over its first five (the answer for top_k=5 is exactly
that, memories/search/ranking.py), recall@10 over all ten. Recall = the mean fraction of a question's evidence
exchanges among the results. Baselines from the same rows of the same hybrid query
(``memories.search.hybrid.hybrid_candidates``), without abstention: dense only (cosine), BM25 only, and plain
reciprocal-rank fusion of the two (k=60). "no abstention" is the default ranking with abstention off.

Abstention: "near-miss" questions are in a field the person talks about but nothing they said answers them;
"unrelated" (``off_topic``) are plainly off their topics. The rate is how often the default call returns
nothing at all. Below it, how well each signal the rule can read separates on-topic questions from either group
(AUC): the best candidate's cosine, and answer coverage (memories/search/answerable.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, machine
from chatset import KINDS, SPLITS, load

if TYPE_CHECKING:
    from memories.search.hybrid import HybridRow as Row

BASELINES = ("dense", "bm25", "rrf")


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
    """The persona's user (made and filled once, every vector written) and memory id -> exchange id."""
    from accounts.models import Tier, User
    from memories import services
    from memories.embedding import pending
    from memories.models import Memory

    user, _ = User.objects.get_or_create(username=f"chatset-{persona['persona']}", defaults={"tier": Tier.PRO})
    saved = set(Memory.objects.filter(user=user).values_list("text", "provider"))
    for e in persona["exchanges"]:
        if (e["answer"], e["provider"]) not in saved:  # a run stopped half-way resumes where it stopped
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
    while pending.chunks_embed_pending().chunks:  # links are made again by relink() below
        pass
    relink(user)
    by_text = {(e["prompt"], e["provider"]): e["id"] for e in persona["exchanges"]}
    owners = {}
    for memory in Memory.objects.filter(user=user):
        owners[memory.pk] = by_text[((memory.prompt or memory.text), memory.provider)]
    return user, owners


def relink(user: Any) -> int:
    """Supersession links as the worker makes them (each prompt, in save order, against the ones before it), made
    again on every run: a kept database then follows the current SUPERSEDE_* settings."""
    from memories import supersession
    from memories.models import Kind, Memory

    Memory.objects.filter(user=user).update(superseded_by=None)
    prompts = Memory.objects.filter(user=user, kind=Kind.PROMPT).order_by("created_at", "pk")
    return sum(supersession.supersessions_detect(memory_ids=[pk]) for pk in prompts.values_list("pk", flat=True))


def supersession_links(persona: dict[str, Any], user: Any, owners: dict[int, str]) -> dict[str, int]:
    """The update questions' (stale, new) exchange pairs, how many of them the worker linked, and how many
    other links it made."""
    from memories.models import Kind, Memory

    labelled = {
        (s, e) for q in persona["questions"] if q["kind"] == "update" for s in q["stale"] for e in q["evidence"]
    }
    prompts = Memory.objects.filter(user=user, kind=Kind.PROMPT).exclude(superseded_by=None)
    pairs = prompts.values_list("pk", "superseded_by")
    made = {(owners[old], owners[new]) for old, new in pairs if new is not None}
    return {"labelled": len(labelled), "linked": len(labelled & made), "other": len(made - labelled)}


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
    by_kw = {id(r): i for i, r in enumerate(sorted(rows, key=lambda r: -float(r.bm25))) if r.bm25 > 0}
    return {id(r): 1 / (60 + by_cos[id(r)]) + (1 / (60 + by_kw[id(r)]) if id(r) in by_kw else 0.0) for r in rows}


def recall(got: list[str], wanted: list[str], k: int) -> float:
    return len(set(wanted) & set(got[:k])) / len(wanted)


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """ "name:SETTING=value,SETTING=value" -> (name, overrides); values are read as numbers."""
    name, _, assignments = text.partition(":")
    overrides = {}
    for item in filter(None, assignments.split(",")):
        key, _, value = item.partition("=")
        overrides[key.strip()] = int(value) if value.strip().lstrip("-").isdigit() else float(value)
    return name, overrides


@contextlib.contextmanager
def settings_of(overrides: dict[str, Any]) -> Iterator[None]:
    from django.test import override_settings

    with override_settings(**overrides):
        yield


def evaluate(split: str, variants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from memories.search import context, hybrid

    systems = (*variants, *(f"{v} (no abstention)" for v in variants), *BASELINES)
    scores: dict[str, dict[str, list[float]]] = {s: defaultdict(list) for s in systems}
    abstained: dict[str, dict[str, list[bool]]] = {v: defaultdict(list) for v in variants}
    newer_first: list[bool] = []  # update questions: the newer exchange above the stale one (first variant)
    misses: list[dict[str, Any]] = []
    evidence: dict[str, list[tuple[float, float]]] = defaultdict(list)  # group -> (best cosine, coverage) per prompt
    people = load(split)
    links = {"labelled": 0, "linked": 0, "other": 0}  # supersession links between prompts, by exchange
    for persona in people:
        user, owners = store(persona)
        for key, count in supersession_links(persona, user, owners).items():
            links[key] += count
        for q in persona["questions"]:
            now = datetime.fromisoformat(q["asked_at"])
            evidence["on-topic"].append(answer_evidence(user, q["query"], now))
            got: dict[str, list[str]] = {}
            for variant, overrides in variants.items():
                with settings_of(overrides):
                    for name, abstain in ((variant, True), (f"{variant} (no abstention)", False)):
                        results = context.context_search(
                            user=user, query=q["query"], top_k=10, now=now, abstain=abstain
                        )
                        got[name] = exchanges([r.memory_id for r in results], owners)
            rows = hybrid.hybrid_candidates(user=user, query=q["query"], filters=hybrid.Filters())
            for name, fn in (("dense", dense), ("bm25", bm25), ("rrf", rrf)):
                got[name] = exchanges(baseline(rows, fn), owners)
            for name in systems:
                scores[name][q["kind"]].append(recall(got[name], q["evidence"], 5))
                scores[name][q["kind"] + "@10"].append(recall(got[name], q["evidence"], 10))
            first = next(iter(variants))
            if q["kind"] == "update":
                ranking, new, old = got[first], q["evidence"][0], q["stale"][0]
                newer_first.append(new in ranking and (old not in ranking or ranking.index(new) < ranking.index(old)))
            if recall(got[first], q["evidence"], 5) < 1:
                misses.append({"id": q["id"], "kind": q["kind"], "query": q["query"], "got": got[first][:5]})
        for group in ("near_miss", "off_topic"):
            for q in persona.get(group, []):
                now = datetime.fromisoformat(q["asked_at"])
                evidence[group].append(answer_evidence(user, q["query"], now))
                for variant, overrides in variants.items():
                    with settings_of(overrides):
                        results = context.context_search(user=user, query=q["query"], top_k=5, now=now)
                    abstained[variant][group].append(not results)
                    if results and variant == next(iter(variants)):
                        got_ids = exchanges([r.memory_id for r in results], owners)
                        misses.append({"id": q["id"], "kind": group, "query": q["query"], "got": got_ids})

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
        "people": [p["persona"] for p in people],
        "questions": sum(len(p["questions"]) for p in people),
        "recall": table,
        "abstention": {
            v: {g: mean([float(x) for x in abstained[v][g]]) for g in ("near_miss", "off_topic")} for v in variants
        },
        "update: newer above stale": mean([float(x) for x in newer_first]),
        "supersession links": links,
        "near_miss questions": sum(len(p.get("near_miss", [])) for p in people),
        "off_topic questions": sum(len(p["off_topic"]) for p in people),
        "misses": misses,
        "separation": separation(evidence),
    }


def answer_evidence(user: Any, query: str, now: datetime) -> tuple[float, float]:
    """What the abstention rule reads: the best candidate's cosine and the query's answer coverage
    (memories.search.answerable) in its best exchanges, at the current CONTEXT_COVERAGE_* settings."""
    from memories.search import context, ranking
    from memories.search.ranking import Weights

    candidates = context.ranked_candidates(user=user, query=query, now=now, abstain=False)
    best = max((c.cosine for c in candidates), default=0.0)
    return best, ranking.coverage(query, candidates, Weights.from_settings())


def auc(positives: list[float], negatives: list[float]) -> float:
    """The chance that a random on-topic prompt scores above a random other one (ties count half)."""
    if not positives or not negatives:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return round(wins / (len(positives) * len(negatives)), 3)


def separation(evidence: dict[str, list[tuple[float, float]]]) -> dict[str, dict[str, float]]:
    """How well each signal tells on-topic questions from near misses and from unrelated prompts (AUC, 0.5 = not
    at all)."""
    on = evidence["on-topic"]
    return {
        signal: {
            group: auc([e[i] for e in on], [e[i] for e in evidence[group]]) for group in ("near_miss", "off_topic")
        }
        for i, signal in enumerate(("best cosine", "answer coverage"))
    }


COLUMNS = (*KINDS, "all@5", "all@10")
SHORT = {"preference": "pref", "paraphrase": "para", "temporal": "temp"}


def print_side_by_side(reports: list[dict[str, Any]]) -> None:
    for r in reports:
        print(
            f"{r['split']}: {len(r['people'])} people ({', '.join(r['people'])}), {r['questions']} questions, "
            f"{r['near_miss questions']} near-miss, {r['off_topic questions']} unrelated"
        )
    print("recall@5 per kind, all@5 and all@10 (@10: the first ten of the same call)")
    cols = [SHORT.get(c, c) for c in COLUMNS]
    block = " ".join(f"{c:>6}" for c in cols)
    width = len(block)
    print(f"{'':<28}" + " | ".join(f"{r['split']:^{width}}" for r in reports))
    print(f"{'system':<28}" + " | ".join(block for _ in reports))
    for name in reports[0]["recall"]:
        cells = [" ".join(f"{r['recall'][name][c]:>6.3f}" for c in COLUMNS) for r in reports]
        print(f"{name:<28}" + " | ".join(cells))
    print(
        "update questions, newer exchange above the stale one (default call): "
        + " | ".join(f"{r['split']} {r.get('update: newer above stale', float('nan')):.3f}" for r in reports)
    )
    print(
        "supersession links (update questions' stale -> new pairs linked, other links): "
        + " | ".join(
            f"{r['split']} {links['linked']} of {links['labelled']}, {links['other']} other"
            for r in reports
            if (links := r.get("supersession links"))
        )
    )
    print("answered with nothing (default call): near-miss / unrelated")
    for variant in reports[0]["abstention"]:
        cells = [
            f"{r['abstention'][variant]['near_miss']:.3f} / {r['abstention'][variant]['off_topic']:.3f}"
            for r in reports
        ]
        print(f"{variant:<28}" + " | ".join(f"{c:^{width}}" for c in cells))
    print("on-topic vs near-miss / vs unrelated, AUC of each signal alone (0.5: no separation)")
    for signal in reports[0].get("separation", {}):
        cells = [
            f"{r['separation'][signal]['near_miss']:.3f} / {r['separation'][signal]['off_topic']:.3f}" for r in reports
        ]
        print(f"{signal:<28}" + " | ".join(f"{c:^{width}}" for c in cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="both", choices=["both", *SPLITS])
    parser.add_argument("--pgdata", help="keep the database here (reused on the next run); default: a temp dir")
    parser.add_argument("--json", type=Path, help="write the full report (with every miss) here")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help='another default call to compare, "name:SETTING=value,..." (settings overridden for it)',
    )
    parser.add_argument("--misses", action="store_true", help="print the misses too")
    parser.add_argument(
        "--combine", type=Path, nargs="+", help="print the side-by-side tables of earlier --json runs, run nothing"
    )
    args = parser.parse_args()
    if args.combine:
        print_side_by_side([r for path in args.combine for r in json.loads(path.read_text())["reports"]])
        return 0
    setup(args.pgdata or tempfile.mkdtemp(prefix="memorylayer-chatset-"))
    variants = dict([("default", {}), *(parse_variant(v) for v in args.variant)])
    splits = SPLITS if args.split == "both" else (args.split,)
    reports = [evaluate(split, variants) for split in splits]
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "reports": reports}, indent=1, default=str))
    print_side_by_side(reports)
    if args.misses:
        for r in reports:
            for miss in r["misses"]:
                print(r["split"], json.dumps(miss))
    return 0


if __name__ == "__main__":
    sys.exit(main())
