"""The per-user hybrid (dense + keyword) search behind /context: ``context_search`` is its one entry point.

Ranking, in one place (the README's "Retrieval quality" section has the measurements behind the weights):

    relevance = w_dense * z(cosine) + w_keyword * z(BM25)
    order     = relevance + w_priority * (priority - normal) + w_recency * 0.5^(age_days / half_life)

z(x) is x in standard deviations above the mean over all of the user's chunks (that match the filters), so
the two signals share a scale. ``score`` in the answer is ``relevance``; ``min_score`` filters on it; a pinned
memory whose relevance clears the pin threshold is always returned, taking the place of the lowest-ranked
unpinned one if needed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from core.timing import phase
from memories.embedding import embeddings
from memories.embedding.inputs import prompt_head
from memories.embedding.vectors import vector_literal
from memories.models import Kind, Priority
from memories.search.dense import dense_candidates, large_user

# Rows fetched per wanted result, so that several chunks of one memory do not crowd others out.
OVERFETCH = 4
# Stops dividing by (almost) zero when a user's chunks all score alike, e.g. a single memory.
_MIN_STD = 1e-6
_WORD = re.compile(r"\w+")
# A prompt that already names who said it, as an imported chat turn does ("Caroline: I went to ...").
_SPEAKER_LABEL = re.compile(r"^[A-Z][\w.'-]{0,30}(?: [A-Z][\w.'-]{0,30}){0,2}: \S")


@dataclass(frozen=True)
class ContextFilters:
    provider: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_score: float | None = None


@dataclass(frozen=True)
class ContextResult:
    memory_id: int
    text: str
    score: float
    provider: str
    kind: str
    created_at: datetime
    priority: int
    pinned: bool = False
    rank_score: float = field(default=0.0, compare=False)


@dataclass
class _Candidate:
    chunk_text: str
    memory_id: int
    kind: str
    provider: str
    text: str
    prompt: str
    priority: int
    pinned: bool
    created_at: datetime
    relevance: float
    rank_score: float


# Both halves read only the user's own chunks (``mine``); the z-score statistics are taken over the same set.
# The keyword half ORs the query's stemmed, stop-worded lexemes (plainto_tsquery would AND them, which finds
# nothing for most natural-language questions) and scores matches with BM25 computed from the tsvector:
# term frequency = number of positions, document length = number of distinct lexemes, IDF over the user's chunks.
_SEARCH_SQL = """
WITH mine AS MATERIALIZED (
    SELECT c.id, c.embedding <=> %(vector)s::vector AS distance, c.search_vector
    FROM memories_chunk c JOIN memories_memory m ON m.id = c.memory_id
    WHERE c.user_id = %(user_id)s {filters}
),
terms AS (SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', %(words)s))),
hits AS (
    SELECT mine.id, length(mine.search_vector) AS dl, t.lexeme,
           coalesce(array_length(t.positions, 1), 1) AS tf
    FROM mine, unnest(mine.search_vector) AS t(lexeme, positions, weights)
    WHERE mine.search_vector @@ websearch_to_tsquery('english', %(any_words)s)
      AND t.lexeme IN (SELECT lexeme FROM terms)
),
stats AS (
    SELECT count(*)::float8 AS n, greatest(avg(length(search_vector)), 1)::float8 AS avgdl,
           avg(1 - distance)::float8 AS cos_mean, coalesce(stddev_pop(1 - distance), 0)::float8 AS cos_std
    FROM mine
),
df AS (SELECT lexeme, count(*)::float8 AS df FROM hits GROUP BY lexeme),
keyword AS (
    SELECT h.id, sum(
        ln(1 + (s.n - df.df + 0.5) / (df.df + 0.5))
        * h.tf * (%(k1)s + 1) / (h.tf + %(k1)s * (1 - %(b)s + %(b)s * h.dl / s.avgdl))
    )::float8 AS bm25
    FROM hits h JOIN df USING (lexeme) CROSS JOIN stats s
    GROUP BY h.id
),
kw_stats AS (
    SELECT coalesce(sum(bm25), 0) / greatest(s.n, 1) AS kw_mean,
           coalesce(sum(bm25 * bm25), 0) / greatest(s.n, 1) AS kw_sq
    FROM keyword CROSS JOIN stats s GROUP BY s.n
),
candidates AS (
    (SELECT id FROM mine ORDER BY distance LIMIT %(limit)s)
    UNION
    (SELECT id FROM keyword ORDER BY bm25 DESC LIMIT %(limit)s)
    UNION
    (SELECT c.id FROM memories_chunk c JOIN memories_memory m ON m.id = c.memory_id
     WHERE c.user_id = %(user_id)s AND m.pinned AND c.id IN (SELECT id FROM mine))
)
SELECT c.text, m.id, m.kind, m.provider, m.text, m.prompt, m.priority, m.pinned, m.created_at,
       1 - mine.distance, coalesce(k.bm25, 0), s.cos_mean, s.cos_std,
       coalesce(ks.kw_mean, 0), sqrt(greatest(coalesce(ks.kw_sq - ks.kw_mean * ks.kw_mean, 0), 0))
FROM candidates
JOIN mine ON mine.id = candidates.id
JOIN memories_chunk c ON c.id = candidates.id
JOIN memories_memory m ON m.id = c.memory_id
LEFT JOIN keyword k ON k.id = candidates.id
CROSS JOIN stats s
LEFT JOIN kw_stats ks ON true
"""


def _query_words(query: str) -> tuple[str, str]:
    """The query's words, plain and joined with " or " (websearch_to_tsquery's OR, which never fails to parse)."""
    words = [w for w in _WORD.findall(query) if w.lower() != "or"]
    return " ".join(words), " or ".join(words)


# Each filter once: (ContextFilters attribute, Memory column, comparison). The SQL of the hybrid query and the ORM
# filter handed to the dense engines are both built from this table.
_FILTERS = (
    ("provider", "provider", "exact"),
    ("kind", "kind", "exact"),
    ("since", "created_at", "gte"),
    ("until", "created_at", "lte"),
)
_SQL_COMPARISON = {"exact": "=", "gte": ">=", "lte": "<="}


def _active(filters: ContextFilters) -> Iterator[tuple[str, str, str, Any]]:
    for name, column, comparison in _FILTERS:
        value = getattr(filters, name)
        if value is not None:
            yield name, column, comparison, value


def _filter_sql(filters: ContextFilters) -> tuple[str, dict[str, Any]]:
    active = list(_active(filters))
    sql = "".join(f" AND m.{column} {_SQL_COMPARISON[comparison]} %({name})s" for name, column, comparison, _ in active)
    return sql, {name: value for name, _, _, value in active}


def _filter_q(filters: ContextFilters) -> Q:
    q = Q()
    for _, column, comparison, value in _active(filters):
        q &= Q(**{f"memory__{column}__{comparison}": value})
    return q


def _fetch(*, user: User, query: str, filters: ContextFilters, limit: int) -> list[tuple[Any, ...]]:
    """The scored candidates, in one statement for a user below SEARCH_HNSW_MIN_USER_CHUNKS chunks.

    The full scan carries its own size guard (``mine`` is empty for a larger user), so the common case needs
    no separate count; only an empty answer is checked against the size, and a large user then takes the
    pooled path.
    """
    vector = embeddings.embed([query])[0]
    words, any_words = _query_words(query)
    filter_sql, params = _filter_sql(filters)
    params.update(
        vector=vector_literal(vector),
        user_id=user.pk,
        words=words,
        any_words=any_words,
        k1=settings.CONTEXT_BM25_K1,
        b=settings.CONTEXT_BM25_B,
        limit=limit,
        full_scan_max=settings.SEARCH_HNSW_MIN_USER_CHUNKS,
    )
    guard = " AND (SELECT count(*) FROM memories_chunk WHERE user_id = %(user_id)s) < %(full_scan_max)s"
    rows = _run(filter_sql + guard, params)
    if rows or not large_user(user):
        return rows
    # Scoring every chunk of a very large user costs a full scan per query. Instead the pool is the dense
    # engine's nearest chunks (FAISS or pgvector HNSW, memories.search.dense) plus the keyword matches (GIN index)
    # plus pinned memories; the z-score statistics are then taken over that pool.
    dense = dense_candidates(
        user=user,
        vector=vector,
        limit=max(limit, settings.CONTEXT_LARGE_USER_POOL),
        filters=_filter_q(filters),
        hnsw=True,  # large_user() was just checked: no second count
    )
    params["dense_ids"] = [chunk_id for chunk_id, _ in dense]
    filter_sql += (
        " AND (c.id = ANY(%(dense_ids)s) OR m.pinned"
        " OR c.search_vector @@ websearch_to_tsquery('english', %(any_words)s))"
    )
    return _run(filter_sql, params)


def _run(filter_sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with phase("search"), connection.cursor() as cursor:
        cursor.execute(_SEARCH_SQL.format(filters=filter_sql), params)
        return list(cursor.fetchall())


def _recency(created_at: datetime, now: datetime) -> float:
    age_days = max((now - created_at).total_seconds(), 0.0) / 86400
    return float(0.5 ** (age_days / settings.CONTEXT_RECENCY_HALF_LIFE_DAYS))


def _candidate(row: tuple[Any, ...], now: datetime) -> _Candidate:
    (chunk_text, memory_id, kind, provider, text, prompt, priority, pinned, created_at) = row[:9]
    cosine, bm25, cos_mean, cos_std, kw_mean, kw_std = (float(x) for x in row[9:])
    relevance = settings.CONTEXT_DENSE_WEIGHT * (cosine - cos_mean) / max(cos_std, _MIN_STD)
    relevance += settings.CONTEXT_KEYWORD_WEIGHT * (bm25 - kw_mean) / max(kw_std, _MIN_STD) if kw_std else 0.0
    rank_score = (
        relevance
        + settings.CONTEXT_PRIORITY_WEIGHT * (priority - Priority.NORMAL)
        + settings.CONTEXT_RECENCY_WEIGHT * _recency(created_at, now)
    )
    return _Candidate(
        chunk_text, memory_id, kind, provider, text, prompt, priority, pinned, created_at, relevance, rank_score
    )


def _normalized(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def _exchange_key(candidate: _Candidate) -> tuple[str, str | int]:
    """One exchange = a prompt saved by /save-prompt and the answer saved with that same prompt by
    /save-response; both would otherwise show the same question twice in one answer."""
    if candidate.kind == Kind.PROMPT:
        return ("exchange", _normalized(candidate.text))
    if candidate.prompt:
        return ("exchange", _normalized(candidate.prompt))
    return ("memory", candidate.memory_id)


def _merge(candidates: list[_Candidate]) -> list[_Candidate]:
    """Best chunk per exchange; when both its prompt and its answer matched, the answer stands for it
    (its context string carries the prompt too), at the better of the two scores."""
    best: dict[tuple[str, str | int], _Candidate] = {}
    for cand in sorted(candidates, key=lambda c: c.rank_score, reverse=True):
        key = _exchange_key(cand)
        kept = best.get(key)
        if kept is None:
            best[key] = cand
        elif kept.kind == Kind.PROMPT and cand.kind == Kind.RESPONSE:
            cand.relevance, cand.rank_score = kept.relevance, kept.rank_score
            cand.pinned = cand.pinned or kept.pinned
            best[key] = cand
    return sorted(best.values(), key=lambda c: c.rank_score, reverse=True)


def _select(candidates: list[_Candidate], *, top_k: int, pin_threshold: float) -> list[_Candidate]:
    chosen = candidates[:top_k]
    for pinned in (c for c in candidates[top_k:] if c.pinned and c.relevance >= pin_threshold):
        unpinned = [i for i, c in enumerate(chosen) if not (c.pinned and c.relevance >= pin_threshold)]
        if not unpinned:
            break
        chosen[unpinned[-1]] = pinned
    return sorted(chosen, key=lambda c: c.rank_score, reverse=True)


def format_context(*, kind: str, provider: str, text: str, prompt: str, created_at: datetime) -> str:
    """A context string: when, and who said it (the person, or the assistant answering them)."""
    when = created_at.astimezone(UTC).strftime("%a %Y-%m-%d %H:%M UTC")
    if kind == Kind.RESPONSE:
        asked = prompt_head(prompt) if prompt else ""
        prefix = f"[{when}] You asked ({provider}): {asked}\n" if asked else f"[{when}] "
        return f"{prefix}Assistant ({provider}) answered: {text}"
    if _SPEAKER_LABEL.match(text):
        return f"[{when}] ({provider}) {text}"
    return f"[{when}] You ({provider}): {text}"


def context_search(*, user: User, query: str, top_k: int, filters: ContextFilters | None = None) -> list[ContextResult]:
    """The ``top_k`` most relevant memories of ``user`` for ``query``, best first, one entry per exchange."""
    filters = filters or ContextFilters()
    limit = max(settings.CONTEXT_CANDIDATES, top_k * OVERFETCH)
    now = timezone.now()
    candidates = [_candidate(row, now) for row in _fetch(user=user, query=query, filters=filters, limit=limit)]
    if filters.min_score is not None:
        candidates = [c for c in candidates if c.relevance >= filters.min_score]
    pin_threshold = filters.min_score if filters.min_score is not None else settings.CONTEXT_PIN_MIN_SCORE
    chosen = _select(_merge(candidates), top_k=top_k, pin_threshold=pin_threshold)
    return [
        ContextResult(
            memory_id=c.memory_id,
            text=format_context(
                kind=c.kind, provider=c.provider, text=c.chunk_text, prompt=c.prompt, created_at=c.created_at
            ),
            score=round(c.relevance, 4),
            provider=c.provider,
            kind=c.kind,
            created_at=c.created_at,
            priority=c.priority,
            pinned=c.pinned,
            rank_score=round(c.rank_score, 4),
        )
        for c in chosen
    ]
