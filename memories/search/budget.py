"""Fitting the context into what the extension can afford: whole sentences, best first, within a token budget.

Tokens are counted with the embedding model's word-piece tokenizer (``memories.embedding.embeddings``), which
for English text is within a few percent of the chat models' own counts; the budget is a ceiling on the sum
over the context strings returned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from memories.embedding.embeddings import count_tokens

# Where a sentence ends: ., ! or ? followed by space, or a line break (lists, headings and code lines).
_BOUNDARY = re.compile(r"(?<=[.!?])\s+|\n+")
# A context string shorter than this is not worth adding (a date and a half sentence).
MIN_USEFUL_TOKENS = 24


def sentences(text: str) -> list[str]:
    return [s for s in _BOUNDARY.split(text) if s.strip()]


def whole_sentences(chunk: str, *, within: str) -> str:
    """``chunk`` without the partial sentences its window cut at either end.

    A chunk is a token window of the memory's text (``within``); its first and last sentences are often cut
    in the middle. They are dropped unless the chunk starts (or ends) where the text does, or nothing else
    would be left.
    """
    parts = sentences(chunk)
    if len(parts) <= 2:
        return chunk.strip()
    stripped = within.strip()
    if not stripped.startswith(chunk.strip()[:40]) and not _ends_sentence(_before(within, chunk)):
        parts = parts[1:]
    if not stripped.endswith(chunk.strip()[-40:]) and not _ends_sentence(parts[-1]):
        parts = parts[:-1]
    return _join(chunk, parts) if parts else chunk.strip()


def _before(text: str, chunk: str) -> str:
    at = text.find(chunk.strip()[:40])
    return text[:at].rstrip() if at > 0 else ""


def _ends_sentence(text: str) -> bool:
    return not text or text.rstrip()[-1:] in ".!?:\n"


def _join(chunk: str, parts: list[str]) -> str:
    """The parts as they stood in ``chunk`` (its own spacing and line breaks), first to last."""
    start = chunk.find(parts[0])
    end = chunk.rfind(parts[-1]) + len(parts[-1])
    return chunk[start:end].strip() if 0 <= start < end else " ".join(parts)


def trim_to(text: str, max_tokens: int) -> str | None:
    """The longest run of ``text``'s first sentences within ``max_tokens``, or None if not even one fits."""
    if count_tokens(text) <= max_tokens:
        return text
    kept: list[str] = []
    for part in sentences(text):
        if count_tokens(" ".join([*kept, part])) > max_tokens:
            break
        kept.append(part)
    return _join(text, kept) if kept else None


_WORDS = re.compile(r"[a-z0-9]{3,}")
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "you",
        "your",
        "with",
        "that",
        "this",
        "what",
        "was",
        "were",
        "are",
        "have",
        "has",
        "had",
        "how",
        "did",
        "does",
        "can",
        "could",
        "would",
        "should",
        "about",
        "from",
        "into",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "just",
        "also",
        "then",
        "than",
        "them",
        "they",
        "their",
        "there",
        "here",
        "some",
        "any",
    ]
)


def query_terms(query: str) -> frozenset[str]:
    return frozenset(w[:6] for w in _WORDS.findall(query.lower()) if w not in _STOP)


def focus(passage: str, *, terms: frozenset[str], max_tokens: int) -> str | None:
    """The part of ``passage`` that answers: the sentence sharing most words with the query, grown with its
    neighbours while it fits ``max_tokens``; None if not even that sentence fits."""
    if count_tokens(passage) <= max_tokens:
        return passage
    parts = sentences(passage)
    hits = [len(terms & {w[:6] for w in _WORDS.findall(p.lower())}) for p in parts]
    anchor = max(range(len(parts)), key=lambda i: (hits[i], -i))
    first = last = anchor
    if count_tokens(parts[anchor]) > max_tokens:
        return None
    while True:
        grown = False
        for lo, hi in ((first, last + 1), (first - 1, last)):
            inside = lo >= 0 and hi < len(parts) and (lo, hi) != (first, last)
            if inside and count_tokens(" ".join(parts[lo : hi + 1])) <= max_tokens:
                first, last, grown = lo, hi, True
                break
        if not grown:
            return _join(passage, parts[first : last + 1])


def pack_stream(
    texts: Iterable[str], *, budget: int, terms: frozenset[str] = frozenset(), slots: int
) -> Iterator[str | None]:
    """Best first, within ``budget`` tokens in all: the i-th text gets an equal share of what is left among
    the ``slots`` - i places still to fill (all of what is left from the last slot on), cut to its most relevant
    sentences (``focus``); a text that cannot fit even one sentence is left out (None). ``budget`` <= 0 means no
    budget. What a text gets depends only on the texts before it, never on how many come after: packing a
    longer list starts with exactly what packing its first k gave.
    """
    left = budget
    for i, text in enumerate(texts):
        if budget <= 0:
            yield text
            continue
        share = max(left // max(slots - i, 1), MIN_USEFUL_TOKENS)
        fitted = focus(text, terms=terms, max_tokens=min(share, left)) if left >= MIN_USEFUL_TOKENS else None
        if fitted is not None:
            left -= count_tokens(fitted)
        yield fitted


def pack(texts: list[str], *, budget: int, terms: frozenset[str] = frozenset()) -> list[str | None]:
    """``pack_stream`` over a list, sharing the budget among all of its texts."""
    return list(pack_stream(texts, budget=budget, terms=terms, slots=len(texts)))
