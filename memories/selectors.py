"""Reads of a person's own memories: listing, one memory, the export rows. The /context search is
``memories.search.context``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from accounts.models import User
from core.exceptions import NotFound
from memories.embedding import queues
from memories.models import Memory, SpaceScope, space_ids
from memories.search import indexing

EXPORT_FIELDS = ("id", "space_id", "kind", "provider", "prompt", "text", "priority", "pinned", "created_at")


def _scoped(memories: QuerySet[Memory], space: SpaceScope | None) -> QuerySet[Memory]:
    return memories if space is None else memories.filter(space_id__in=space_ids(space))


def memory_list(
    *,
    user: User,
    space: SpaceScope | None,
    provider: str | None = None,
    kind: str | None = None,
    priority: int | None = None,
    pinned: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: str | None = None,
) -> QuerySet[Memory]:
    """``user``'s memories in ``space`` (None: every space), newest first, narrowed by whichever filters are given."""
    memories = _scoped(Memory.objects.filter(user=user), space)
    exact = {"provider": provider, "kind": kind, "priority": priority, "pinned": pinned}
    memories = memories.filter(**{name: value for name, value in exact.items() if value is not None})
    if since is not None:
        memories = memories.filter(created_at__gte=since)
    if until is not None:
        memories = memories.filter(created_at__lt=until)
    if q:
        memories = memories.filter(Q(text__icontains=q) | Q(prompt__icontains=q))
    return memories.order_by("-created_at", "-id")


def memory_get(*, user: User, memory_id: int, space: SpaceScope | None) -> Memory:
    """One of ``user``'s memories (in ``space``, when given); another user's memory, or one in another space, is
    as absent as one that never existed."""
    memory = _scoped(Memory.objects.filter(user=user, pk=memory_id), space).first()
    if memory is None:
        raise NotFound("Memory not found")
    return memory


def memory_export_rows(*, user: User, space: SpaceScope | None, chunk_size: int = 500) -> Iterator[dict[str, Any]]:
    """Every memory of ``user`` in ``space`` (None: every space), oldest first, as plain dicts, fetched
    ``chunk_size`` rows at a time."""
    rows = _scoped(Memory.objects.filter(user=user), space).order_by("created_at", "id").values(*EXPORT_FIELDS)
    return rows.iterator(chunk_size=chunk_size)


_QUEUE_SQL = """
SELECT j.queue_name,
       count(*) FILTER (WHERE j.status = 'todo'),
       count(*) FILTER (WHERE j.status = 'doing'),
       extract(epoch FROM now() - min(e.at) FILTER (WHERE j.status = 'todo'))::float8
FROM procrastinate_jobs j
LEFT JOIN LATERAL (
    SELECT at FROM procrastinate_events WHERE job_id = j.id AND type = 'deferred' ORDER BY at LIMIT 1
) e ON true
WHERE j.status IN ('todo', 'doing')
GROUP BY j.queue_name
"""


def queue_status() -> dict[str, Any]:
    """The task queue at a glance (/ready, the staff dashboard): per lane (live: saves' embeddings; bulk: imports and
    re-embedding) and in total, jobs waiting and running and how long the oldest waiting job has waited (seconds, 0
    when none); chunks stored but not embedded yet; re-embedding runs not finished."""
    with connection.cursor() as cursor:
        cursor.execute(_QUEUE_SQL)
        rows = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM memories_chunk WHERE embedding IS NULL")
        pending = int(cursor.fetchone()[0])
    lanes = {name: _lane([row for row in rows if row[0] == name]) for name in (queues.LIVE_QUEUE, queues.BULK_QUEUE)}
    return {**_lane(rows), **lanes, "pending_chunks": pending, "reembed": indexing.reembed_runs_active()}


def _lane(rows: list[tuple[str, int, int, float | None]]) -> dict[str, Any]:
    oldest = max((float(row[3]) for row in rows if row[3] is not None), default=0.0)
    return {
        "waiting": sum(int(row[1]) for row in rows),
        "running": sum(int(row[2]) for row in rows),
        "oldest_waiting_seconds": round(oldest, 1),
    }
