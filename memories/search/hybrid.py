"""The hybrid query: a user's candidate chunks for a query, each with its raw dense and keyword evidence.

``hybrid_candidates`` is the one public entry point (the ranking, memories.search.ranking, and the benchmarks'
baselines all read its rows). A row carries the chunk, its memory's fields, the chunk's cosine similarity to the
query, its BM25 score, and the mean and spread of both signals over all of the user's chunks that match the
filters (the statistics the ranking's z-scores need). The pool is at most ``limit`` (CONTEXT_CANDIDATES) nearest
chunks plus at most ``limit`` best keyword matches plus the pinned and standing memories: it does not depend on
how many results the caller wants, so neither does the ranking.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from django.conf import settings
from django.db.models import Q

from accounts.models import User
from core.db_routing import read_connection
from core.timing import phase
from memories.embedding import embeddings
from memories.embedding.vectors import vector_literal
from memories.search.dense import dense_candidates, large_user

_WORD = re.compile(r"\w+")
# The space searched: the one named, else the person's default (a person without one has no memories yet).
_SPACE_SQL = (
    "COALESCE(%(space_id)s::bigint, (SELECT id FROM accounts_space WHERE user_id = %(user_id)s AND is_default))"
)


@dataclass(frozen=True)
class Filters:
    """What /context narrows the search to (``min_score`` is applied by the ranking, on cosine).

    ``space_id``: the one space searched, plus the person's standing preferences shared with every space
    (Memory.all_spaces); None means the person's default space (looked up inside the search statement), never
    all of them.
    """

    provider: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_score: float | None = None
    space_id: int | None = None


class HybridRow(NamedTuple):
    """One candidate chunk; the column names of the query below, in its order."""

    chunk_id: int
    chunk_text: str
    memory_id: int
    kind: str
    provider: str
    text: str
    prompt: str
    priority: int
    pinned: bool
    standing: bool
    created_at: datetime
    superseded_by: int | None  # the later memory that restates this one (memories.supersession)
    successor_said: str | None  # what the person said in that later memory (its prompt): its exchange
    cosine: float | None  # None: the worker has not written this chunk's vector yet
    bm25: float
    cos_mean: float
    cos_std: float
    kw_mean: float
    kw_std: float


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
    (SELECT id FROM mine WHERE distance IS NOT NULL ORDER BY distance LIMIT %(limit)s)
    UNION
    (SELECT id FROM keyword ORDER BY bm25 DESC LIMIT %(limit)s)
    UNION
    (SELECT c.id FROM memories_chunk c JOIN memories_memory m ON m.id = c.memory_id
     WHERE c.user_id = %(user_id)s AND (m.pinned OR m.standing) AND c.id IN (SELECT id FROM mine))
)
SELECT c.id AS chunk_id, c.text AS chunk_text, m.id AS memory_id, m.kind, m.provider, m.text, m.prompt,
       m.priority, m.pinned, m.standing, m.created_at, m.superseded_by_id,
       CASE WHEN sm.kind = 'prompt' THEN sm.text ELSE nullif(sm.prompt, '') END AS successor_said,
       1 - mine.distance AS cosine, coalesce(k.bm25, 0) AS bm25,
       s.cos_mean, s.cos_std, coalesce(ks.kw_mean, 0) AS kw_mean,
       sqrt(greatest(coalesce(ks.kw_sq - ks.kw_mean * ks.kw_mean, 0), 0)) AS kw_std
FROM candidates
JOIN mine ON mine.id = candidates.id
JOIN memories_chunk c ON c.id = candidates.id
JOIN memories_memory m ON m.id = c.memory_id
LEFT JOIN memories_memory sm ON sm.id = m.superseded_by_id
LEFT JOIN keyword k ON k.id = candidates.id
CROSS JOIN stats s
LEFT JOIN kw_stats ks ON true
"""


def _query_words(query: str) -> tuple[str, str]:
    """The query's words, plain and joined with " or " (websearch_to_tsquery's OR, which never fails to parse)."""
    words = [w for w in _WORD.findall(query) if w.lower() != "or"]
    return " ".join(words), " or ".join(words)


# Each filter once: (Filters attribute, Memory column, comparison). The SQL of the hybrid query and the ORM
# filter handed to the dense engines are both built from this table.
_FILTERS = (
    ("provider", "provider", "exact"),
    ("kind", "kind", "exact"),
    ("since", "created_at", "gte"),
    ("until", "created_at", "lte"),
)
_SQL_COMPARISON = {"exact": "=", "gte": ">=", "lte": "<="}


def _active(filters: Filters) -> Iterator[tuple[str, str, str, Any]]:
    for name, column, comparison in _FILTERS:
        value = getattr(filters, name)
        if value is not None:
            yield name, column, comparison, value


def _filter_sql(filters: Filters) -> tuple[str, dict[str, Any]]:
    active = list(_active(filters))
    sql = "".join(f" AND m.{column} {_SQL_COMPARISON[comparison]} %({name})s" for name, column, comparison, _ in active)
    sql = f" AND (m.space_id = {_SPACE_SQL} OR m.all_spaces)" + sql
    return sql, {"space_id": filters.space_id, **{name: value for name, _, _, value in active}}


def _filter_q(filters: Filters) -> Q:
    # The dense engines get the space too: a FAISS hit in another space is dropped when resolved in the database.
    # (The engines only ever see the user's own chunks, so "a default space" is this user's.)
    if filters.space_id is None:
        q = Q(memory__space__is_default=True) | Q(memory__all_spaces=True)
    else:
        q = Q(memory__space_id=filters.space_id) | Q(memory__all_spaces=True)
    for _, column, comparison, value in _active(filters):
        q &= Q(**{f"memory__{column}__{comparison}": value})
    return q


def hybrid_candidates(*, user: User, query: str, filters: Filters, limit: int | None = None) -> list[HybridRow]:
    """The user's candidate chunks for ``query`` with both raw signals (``limit``: CONTEXT_CANDIDATES).

    One statement for a user below SEARCH_HNSW_MIN_USER_CHUNKS chunks.

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
        limit=limit or settings.CONTEXT_CANDIDATES,
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
        limit=max(params["limit"], settings.CONTEXT_LARGE_USER_POOL),
        filters=_filter_q(filters),
        hnsw=True,  # large_user() was just checked: no second count
    )
    params["dense_ids"] = [chunk_id for chunk_id, _ in dense]
    filter_sql += (
        " AND (c.id = ANY(%(dense_ids)s) OR m.pinned OR m.standing"
        " OR c.search_vector @@ websearch_to_tsquery('english', %(any_words)s))"
    )
    return _run(filter_sql, params)


def _run(filter_sql: str, params: dict[str, Any]) -> list[HybridRow]:
    with phase("search"), read_connection().cursor() as cursor:
        cursor.execute(_SEARCH_SQL.format(filters=filter_sql), params)
        return [HybridRow(*row) for row in cursor.fetchall()]


# The memory saved right after each given one, in the same space (a conversation's next turn).
_NEXT_SQL = """
SELECT m.id, nxt.id
FROM memories_memory m
CROSS JOIN LATERAL (
    SELECT n.id FROM memories_memory n
    WHERE n.user_id = %(user_id)s AND n.space_id = m.space_id AND (n.created_at, n.id) > (m.created_at, m.id)
    ORDER BY n.created_at, n.id
    LIMIT 1
) nxt
WHERE m.user_id = %(user_id)s AND m.id = ANY(%(ids)s)
"""


def next_turns(*, user: User, memory_ids: list[int]) -> dict[int, int]:
    """memory id -> the id of the user's memory saved right after it in the same space (by time, then id)."""
    if not memory_ids:
        return {}
    with read_connection().cursor() as cursor:
        cursor.execute(_NEXT_SQL, {"user_id": user.pk, "ids": memory_ids})
        return dict(cursor.fetchall())
