"""Dense (vector) candidates for one user's query, from whichever engine serves them.

``dense_candidates`` is the one entry point retrieval uses. It returns (chunk id, cosine distance) pairs,
nearest first, only of rows that exist now and belong to ``user``:

- SEARCH_BACKEND=faiss and a usable index: FAISS over that user's rows of the index, plus an exact
  PostgreSQL search over the user's chunks newer than the index, merged. FAISS candidates are resolved in
  the database (deleted chunks drop out, ``filters`` apply) and their distances are taken from pgvector, so
  both engines rank and score identically.
- otherwise pgvector: an exact scan of the user's rows through a MATERIALIZED CTE (the planner cannot
  swap in the HNSW index, whose filtered scan loses rows), or, for users with at least
  SEARCH_HNSW_MIN_USER_CHUNKS chunks, the HNSW index with ef_search and an iterative scan set by SET LOCAL.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from pgvector.django import CosineDistance

from accounts.models import User
from memories import search_index
from memories.models import Chunk

logger = logging.getLogger(__name__)

Candidates = list[tuple[int, float]]

# FAISS hits fetched beyond the limit, so that a few deleted or filtered-out chunks do not cost a second pass.
FAISS_MARGIN = 8


@dataclass(frozen=True)
class DenseResult:
    engine: str  # "faiss", "pgvector-exact" or "pgvector-hnsw"
    candidates: Candidates


def dense_candidates(
    *, user: User, vector: Sequence[float] | np.ndarray, limit: int, filters: Q | None = None
) -> Candidates:
    """The ``limit`` chunks of ``user`` nearest to ``vector``: (chunk id, cosine distance), nearest first.

    ``filters`` is a Q over Chunk (e.g. ``Q(memory__provider="claude")``), applied inside every engine.
    """
    return dense_search(user=user, vector=vector, limit=limit, filters=filters).candidates


def dense_search(
    *, user: User, vector: Sequence[float] | np.ndarray, limit: int, filters: Q | None = None
) -> DenseResult:
    """Like dense_candidates, also naming the engine that answered (for tests, the bench and logs)."""
    vector = np.asarray(vector, dtype=np.float32)
    if limit <= 0:
        return DenseResult("none", [])
    if settings.SEARCH_BACKEND == "faiss":
        try:
            index = search_index.current_index()
        except search_index.IndexUnavailable:
            pass  # logged once per broken file by search_index; pgvector answers meanwhile
        else:
            return DenseResult("faiss", faiss_candidates(index, user=user, vector=vector, limit=limit, filters=filters))
    return pgvector_search(user=user, vector=vector, limit=limit, filters=filters)


def _user_chunks(user: User, filters: Q | None) -> QuerySet[Chunk]:
    chunks = Chunk.objects.filter(user=user)
    return chunks.filter(filters) if filters is not None else chunks


def _sorted(pairs: Candidates, limit: int) -> Candidates:
    return sorted(pairs, key=lambda pair: (pair[1], pair[0]))[:limit]


# --- pgvector ---------------------------------------------------------------------------------------------


def pgvector_search(
    *, user: User, vector: np.ndarray, limit: int, filters: Q | None = None, hnsw: bool | None = None
) -> DenseResult:
    """pgvector, exact for small users and HNSW for large ones (``hnsw`` forces the choice)."""
    if hnsw is None:
        hnsw = Chunk.objects.filter(user=user).count() >= settings.SEARCH_HNSW_MIN_USER_CHUNKS
    chunks = _user_chunks(user, filters)
    if hnsw:
        return DenseResult("pgvector-hnsw", _hnsw(chunks, vector, limit))
    return DenseResult("pgvector-exact", exact_candidates(chunks, vector, limit))


def exact_candidates(chunks: QuerySet[Chunk], vector: np.ndarray, limit: int) -> Candidates:
    """Exact nearest rows of ``chunks``: the rows are materialised first, so no vector index is used."""
    inner, params = chunks.order_by().values("id", "embedding").query.sql_with_params()
    sql = (
        f"WITH c AS MATERIALIZED ({inner}) "  # noqa: S608 - inner is Django's own compiled, parameterised SQL
        "SELECT id, embedding <=> %s::vector AS distance FROM c ORDER BY distance, id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, _literal(vector), limit])
        return [(int(i), float(d)) for i, d in cursor.fetchall()]


def _hnsw(chunks: QuerySet[Chunk], vector: np.ndarray, limit: int) -> Candidates:
    # relaxed_order keeps scanning the graph until `limit` rows pass the user filter (off: 0.2 of 5 rows
    # came back for a small user on 150k rows); it may return them slightly out of order, hence the sort.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(settings.SEARCH_HNSW_EF_SEARCH)])
        cursor.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
        rows = list(
            chunks.annotate(distance=CosineDistance("embedding", vector))
            .order_by("distance")
            .values_list("id", "distance")[:limit]
        )
    return _sorted([(int(i), float(d)) for i, d in rows], limit)


def _literal(vector: np.ndarray) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


# --- FAISS ------------------------------------------------------------------------------------------------


def faiss_candidates(
    index: search_index.LoadedIndex, *, user: User, vector: np.ndarray, limit: int, filters: Q | None = None
) -> Candidates:
    chunks = _user_chunks(user, filters)
    indexed = _indexed_candidates(index, chunks, user=user, vector=vector, limit=limit)
    fresh = exact_candidates(chunks.filter(id__gt=index.max_chunk_id), vector, limit)
    return _sorted(indexed + fresh, limit)


def _indexed_candidates(
    index: search_index.LoadedIndex, chunks: QuerySet[Chunk], *, user: User, vector: np.ndarray, limit: int
) -> Candidates:
    """The user's nearest indexed chunks that still exist and pass the filters.

    The index may hold chunks deleted since the build: each pass resolves FAISS's hits in the database and,
    if too few survive, asks FAISS for more, up to every indexed row of the user.
    """
    available = index.user_rows(user.pk)
    k = min(available, limit + FAISS_MARGIN)
    while k > 0:
        hits = index.search(user.pk, vector, k)
        found = _resolve(chunks, [chunk_id for chunk_id, _ in hits], vector)
        if len(found) >= limit or k >= available:
            return found
        k = min(available, k * 4)
    return []


def _resolve(chunks: QuerySet[Chunk], ids: list[int], vector: np.ndarray) -> Candidates:
    rows = (
        chunks.filter(id__in=ids).annotate(distance=CosineDistance("embedding", vector)).values_list("id", "distance")
    )
    return [(int(i), float(d)) for i, d in rows]
