"""Answer coverage: how much of what a query names appears in the exchanges that would answer it.

The abstention rule (memories.search.ranking.answer_floor, docs/retrieval.md "Abstention") can read it beside the
best cosine: with CONTEXT_UNCOVERED_LIFT > 0 (off by default) the floor rises by that lift times the share of the
query left uncovered, so "how do I renew my driver's licence?" in a baker's history, whose specific words are
nowhere in the best candidates, needs a closer match than "which butter do I use for croissants?".

A word's weight is how specific it is in English: ``common - zipf`` (0 when negative), with zipf its frequency
on the Zipf scale from the wordfreq library (7 for "the", about 3 for "bridesmaids", 0 for a word it does not
know, such as most names). Common words ("what", "did", "my") weigh next to nothing, so no stop-word list is
needed, and the rule reads the same for every person and history. Words match on their first six letters, as
the token budget's query terms do (memories.search.budget): "varieties" meets "variety".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
_KEY_LETTERS = 6


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased, without a possessive "'s" ("Biscuit's" -> "biscuit")."""
    out = []
    for word in _WORD.findall(text.lower()):
        word = word.replace("\u2019", "'")
        out.append(word.removesuffix("'s"))
    return out


@lru_cache(maxsize=32768)
def _zipf(word: str) -> float:
    # Imported here: a process whose abstention never reads coverage (CONTEXT_UNCOVERED_LIFT=0) never pays for it.
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "en"))


def load() -> None:
    """Read the English word list now (about 0.1 s), not in a worker's first request."""
    _zipf("the")


def specificity(word: str, *, common: float) -> float:
    """How specific ``word`` is: ``common`` minus its Zipf frequency in English, never below 0."""
    return max(0.0, common - _zipf(word))


def coverage(query: str, evidence: Iterable[str], *, common: float) -> float:
    """The share of the query's specificity whose words appear in ``evidence`` (0..1); 1 when no word of the
    query is specific (nothing named that could be missing)."""
    weights: dict[str, float] = {}
    for word in words(query):
        key = word[:_KEY_LETTERS]
        weights[key] = max(weights.get(key, 0.0), specificity(word, common=common))
    total = sum(weights.values())
    if total <= 0:
        return 1.0
    seen = {word[:_KEY_LETTERS] for text in evidence for word in words(text)}
    return sum(weight for key, weight in weights.items() if key in seen) / total
