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
from typing import Any, Protocol

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from pgvector.django import CosineDistance

from accounts.models import User
from core.db_routing import read_alias, read_connection
from memories.embedding.vectors import vector_literal
from memories.models import Chunk
from memories.search import search_index

logger = logging.getLogger(__name__)

Candidates = list[tuple[int, float]]

# FAISS hits fetched beyond the limit, so that a few deleted or filtered-out chunks do not cost a second pass.
FAISS_MARGIN = 8


@dataclass(frozen=True)
class DenseResult:
    engine: str  # "faiss", "pgvector-exact" or "pgvector-hnsw"
    candidates: Candidates


def dense_candidates(
    *,
    user: User,
    vector: Sequence[float] | np.ndarray,
    limit: int,
    filters: Q | None = None,
    hnsw: bool | None = None,
) -> Candidates:
    """The ``limit`` chunks of ``user`` nearest to ``vector``: (chunk id, cosine distance), nearest first.

    ``filters`` is a Q over Chunk (e.g. ``Q(memory__provider="claude")``), applied inside every engine.
    ``hnsw`` tells pgvector the user's size when the caller already counted it (None: count here).
    """
    return dense_search(user=user, vector=vector, limit=limit, filters=filters, hnsw=hnsw).candidates


def dense_search(
    *,
    user: User,
    vector: Sequence[float] | np.ndarray,
    limit: int,
    filters: Q | None = None,
    hnsw: bool | None = None,
) -> DenseResult:
    """Like dense_candidates, also naming the engine that answered (for tests, the bench and logs)."""
    vector = np.asarray(vector, dtype=np.float32)
    if limit <= 0:
        return DenseResult("none", [])
    return dense_engine().search(user=user, vector=vector, limit=limit, filters=filters, hnsw=hnsw)


class DenseEngine(Protocol):
    """One way to find a user's nearest chunks; SEARCH_BACKEND picks the engine (``dense_engine``)."""

    uses_index_file: bool  # whether /ready and index_status report a FAISS file for it

    def search(
        self, *, user: User, vector: np.ndarray, limit: int, filters: Q | None, hnsw: bool | None
    ) -> DenseResult: ...


class PgvectorEngine:
    uses_index_file = False

    def search(
        self, *, user: User, vector: np.ndarray, limit: int, filters: Q | None, hnsw: bool | None
    ) -> DenseResult:
        return pgvector_search(user=user, vector=vector, limit=limit, filters=filters, hnsw=hnsw)


class FaissEngine:
    """FAISS while its file is usable; pgvector answers meanwhile (a broken file is logged once by search_index)."""

    uses_index_file = True

    def search(
        self, *, user: User, vector: np.ndarray, limit: int, filters: Q | None, hnsw: bool | None
    ) -> DenseResult:
        try:
            index = search_index.current_index()
        except search_index.IndexUnavailable:
            return pgvector_search(user=user, vector=vector, limit=limit, filters=filters, hnsw=hnsw)
        return DenseResult("faiss", faiss_candidates(index, user=user, vector=vector, limit=limit, filters=filters))


ENGINES: dict[str, type[PgvectorEngine] | type[FaissEngine]] = {"pgvector": PgvectorEngine, "faiss": FaissEngine}


def dense_engine() -> DenseEngine:
    """The engine SEARCH_BACKEND names (system check memories.E010 refuses any other value)."""
    return ENGINES[settings.SEARCH_BACKEND]()


def large_user(user: User) -> bool:
    """At least SEARCH_HNSW_MIN_USER_CHUNKS chunks: searched through HNSW here, fused over a pool in /context."""
    return Chunk.objects.filter(user=user).count() >= settings.SEARCH_HNSW_MIN_USER_CHUNKS


def _user_chunks(user: User, filters: Q | None) -> QuerySet[Chunk]:
    # chunks still waiting for their vector (the queue's worker is on them) are the keyword half's alone
    chunks = Chunk.objects.filter(user=user, embedding__isnull=False)
    return chunks.filter(filters) if filters is not None else chunks


def _sorted(pairs: Candidates, limit: int) -> Candidates:
    return sorted(pairs, key=lambda pair: (pair[1], pair[0]))[:limit]


# --- pgvector ---------------------------------------------------------------------------------------------


def pgvector_search(
    *, user: User, vector: np.ndarray, limit: int, filters: Q | None = None, hnsw: bool | None = None
) -> DenseResult:
    """pgvector, exact for small users and HNSW for large ones (``hnsw`` forces the choice)."""
    if hnsw is None:
        hnsw = large_user(user)
    chunks = _user_chunks(user, filters)
    if hnsw:
        return DenseResult("pgvector-hnsw", _hnsw(chunks, vector, limit))
    return DenseResult("pgvector-exact", exact_candidates(chunks, vector, limit))


def exact_candidates(chunks: QuerySet[Chunk], vector: np.ndarray, limit: int) -> Candidates:
    """Exact nearest rows of ``chunks``: the rows are materialised first, so no vector index is used."""
    rows_sql, params = _row_source(chunks)
    # The CTE keeps (id, distance) only: materialising whole rows (1.5 kB vectors) spills past work_mem.
    sql = (
        f"WITH q AS MATERIALIZED (SELECT %s::vector AS v), "  # noqa: S608 - Django's compiled, parameterised SQL
        f"c AS MATERIALIZED (SELECT s.id, s.embedding <=> q.v AS distance FROM ({rows_sql}) s, q) "
        "SELECT id, distance FROM c ORDER BY distance, id LIMIT %s"
    )
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [vector_literal(vector), *params, limit])
        return [(int(i), float(d)) for i, d in cursor.fetchall()]


def _row_source(chunks: QuerySet[Chunk]) -> tuple[str, tuple[Any, ...]]:
    """SQL (and parameters) selecting id and embedding of ``chunks``, filters and all, for raw queries."""
    sql, params = chunks.order_by().values("id", "embedding").query.sql_with_params()
    return sql, tuple(params)


def _hnsw(chunks: QuerySet[Chunk], vector: np.ndarray, limit: int) -> Candidates:
    # relaxed_order keeps scanning the graph until `limit` rows pass the user filter (off: 0.2 of 5 rows
    # came back for a small user on 150k rows); it may return them slightly out of order, hence the sort.
    with transaction.atomic(using=read_alias()), read_connection().cursor() as cursor:
        cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(settings.SEARCH_HNSW_EF_SEARCH)])
        cursor.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
        rows = list(
            chunks.annotate(distance=CosineDistance("embedding", vector.tolist()))
            .order_by("distance")
            .values_list("id", "distance")[:limit]
        )
    return _sorted([(int(i), float(d)) for i, d in rows], limit)


# --- FAISS ------------------------------------------------------------------------------------------------


def faiss_candidates(
    index: search_index.LoadedIndex, *, user: User, vector: np.ndarray, limit: int, filters: Q | None = None
) -> Candidates:
    """FAISS over the user's indexed rows plus exact search over rows newer than the index, merged.

    The index may hold chunks deleted since the build: FAISS's hits are resolved in the database (in the same
    round trip as the fresh rows) and, if too few survive, FAISS is asked for more, up to every indexed row
    of the user.
    """
    chunks = _user_chunks(user, filters)
    literal = vector_literal(vector)
    available = index.user_rows(user.pk)
    k = min(available, limit + FAISS_MARGIN)
    hits = [chunk_id for chunk_id, _ in index.search(user.pk, vector, k)]
    indexed, fresh = _resolve_with_fresh(chunks, hits, index.max_chunk_id, literal, limit)
    while len(indexed) < limit and k < available:
        k = min(available, k * 4)
        hits = [chunk_id for chunk_id, _ in index.search(user.pk, vector, k)]
        indexed, _ = _resolve_with_fresh(chunks, hits, None, literal, limit)
    return _sorted(indexed + fresh, limit)


def _resolve_with_fresh(
    chunks: QuerySet[Chunk], ids: list[int], max_id: int | None, literal: str, limit: int
) -> tuple[Candidates, Candidates]:
    """(those of ``ids`` that still exist in ``chunks``, the ``limit`` nearest ``chunks`` above ``max_id``).

    Distances come from pgvector for both, so scores equal the pgvector engine's to the last digit. The
    parts are Django's compiled, parameterised SQL for ``chunks``; nothing from a request is pasted in.
    """
    parts: list[str] = []
    params: list[Any] = [literal]
    if ids:
        known_sql, known_params = _row_source(chunks.filter(id__in=ids))
        parts.append(f"(SELECT 0 AS fresh, s.id, s.embedding <=> q.v AS distance FROM ({known_sql}) s, q)")  # noqa: S608
        params += known_params
    if max_id is not None:
        fresh_sql, fresh_params = _row_source(chunks.filter(id__gt=max_id))
        # OFFSET 0 fences the subquery (like MATERIALIZED): the ORDER BY cannot become an HNSW index scan
        parts.append(
            "(SELECT 1, f.id, f.distance FROM (SELECT s.id, s.embedding <=> q.v AS distance "  # noqa: S608
            f"FROM ({fresh_sql}) s, q OFFSET 0) f ORDER BY f.distance, f.id LIMIT %s)"
        )
        params += [*fresh_params, limit]
    if not parts:
        return [], []
    sql = "WITH q AS MATERIALIZED (SELECT %s::vector AS v) " + " UNION ALL ".join(parts)
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    indexed = [(int(i), float(d)) for fresh, i, d in rows if not fresh]
    return indexed, [(int(i), float(d)) for fresh, i, d in rows if fresh]
