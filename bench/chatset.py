#!/usr/bin/env python
"""Our realistic chat set (bench/data/chatset/*.json): loading and a structural check.

One file per persona:

    {"persona": "lena", "split": "tuning" | "test", "about": "...",
     "exchanges": [{"id": "lena-001", "provider": "chatgpt|claude|gemini|grok",
                    "timestamp": "2026-01-14T09:12:00+00:00", "prompt": "...", "answer": "..."}],
     "questions": [{"id": "lena-q01", "kind": "fact|preference|paraphrase|update|temporal|multi",
                    "query": "...", "asked_at": "...", "evidence": ["lena-014"], "stale": ["lena-003"]}],
     "near_miss": [{"id": "lena-n01", "query": "...", "asked_at": "..."}],
     "off_topic": [{"id": "lena-o01", "query": "...", "asked_at": "..."}]}

The split is by person, fixed here once: weights, word lists and thresholds are chosen on the tuning people,
the test people are only reported (bench/chatset_eval.py prints both). A near-miss question is in a field the
person talks about, but nothing they said answers it ("what flour does Kenji's bakery use for croissants" when
he never mentioned croissants); an off-topic one is plainly unrelated to them. Both should get no context.

    python bench/chatset.py            # prints the counts, exits 1 on a structural error
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "chatset"
PROVIDERS = {"chatgpt", "claude", "gemini", "grok"}
KINDS = ("fact", "preference", "paraphrase", "update", "temporal", "multi")
SPLITS = ("tuning", "test")


def load(split: str = "all") -> list[dict[str, Any]]:
    """Every persona file (sorted by name), optionally only one split."""
    personas = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(DATA.glob("*.json"))]
    return [p for p in personas if split == "all" or p["split"] == split]


def problems(persona: dict[str, Any]) -> list[str]:
    name = persona.get("persona", "?")
    out: list[str] = []
    if persona.get("split") not in SPLITS:
        out.append(f"{name}: split must be one of {SPLITS}")
    ids = [e["id"] for e in persona["exchanges"]]
    if len(ids) != len(set(ids)):
        out.append(f"{name}: duplicate exchange ids")
    last = None
    for e in persona["exchanges"]:
        if e["provider"] not in PROVIDERS:
            out.append(f"{e['id']}: provider {e['provider']!r}")
        when = datetime.fromisoformat(e["timestamp"])
        if when.tzinfo is None:
            out.append(f"{e['id']}: timestamp without a zone")
        if last and when < last:
            out.append(f"{e['id']}: exchanges out of time order")
        last = when
        if not e["prompt"].strip() or not e["answer"].strip():
            out.append(f"{e['id']}: empty prompt or answer")
    known = set(ids)
    for q in persona["questions"]:
        if q["kind"] not in KINDS:
            out.append(f"{q['id']}: kind {q['kind']!r}")
        for ref in q["evidence"] + q.get("stale", []):
            if ref not in known:
                out.append(f"{q['id']}: unknown exchange {ref}")
        if not q["evidence"]:
            out.append(f"{q['id']}: no evidence")
        if q["kind"] == "update" and not q.get("stale"):
            out.append(f"{q['id']}: an update question names the stale exchange")
        if q["kind"] == "multi" and len(q["evidence"]) < 2:
            out.append(f"{q['id']}: a multi question has two or more evidence exchanges")
        if last and datetime.fromisoformat(q["asked_at"]) < last:
            out.append(f"{q['id']}: asked before the last exchange")
    for q in persona["off_topic"] + persona.get("near_miss", []):
        if not q["query"].strip():
            out.append(f"{q['id']}: empty query")
        if last and datetime.fromisoformat(q["asked_at"]) < last:
            out.append(f"{q['id']}: asked before the last exchange")
    return out


def main() -> int:
    personas = load()
    errors = [msg for p in personas for msg in problems(p)]
    exchanges = sum(len(p["exchanges"]) for p in personas)
    words = [len(e["answer"].split()) for p in personas for e in p["exchanges"]]
    kinds = Counter(q["kind"] for p in personas for q in p["questions"])
    providers = Counter(e["provider"] for p in personas for e in p["exchanges"])
    print(f"personas {len(personas)} ({Counter(p['split'] for p in personas)}), exchanges {exchanges}")
    if words:
        words.sort()
        print(f"answer words: median {words[len(words) // 2]}, min {words[0]}, max {words[-1]}")
    print(f"providers {dict(providers)}")
    print(f"questions {sum(kinds.values())} {dict(kinds)}")
    print(f"off-topic {sum(len(p['off_topic']) for p in personas)}")
    for split in SPLITS:
        people = [p for p in personas if p["split"] == split]
        print(
            f"{split}: {len(people)} people, {sum(len(p['questions']) for p in people)} questions, "
            f"{sum(len(p.get('near_miss', [])) for p in people)} near-miss"
        )
    for msg in errors:
        print("ERROR", msg)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
