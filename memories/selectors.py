"""Reads, including the per-user vector search behind /context."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from accounts.models import User
from memories import embeddings
from memories.dense import dense_candidates
from memories.models import Chunk, Kind, Memory
from memories.services import prompt_head
from memorylayer.errors import ServiceError

# Rows fetched per wanted result, so that several chunks of one memory do not crowd others out.
OVERFETCH = 4


@dataclass(frozen=True)
class ContextResult:
    memory_id: int
    text: str
    score: float
    provider: str
    kind: str
    created_at: datetime
    priority: int


def _format(chunk: Chunk) -> str:
    memory = chunk.memory
    when = memory.created_at.strftime("%Y-%m-%d")
    if memory.kind == Kind.RESPONSE:
        asked = prompt_head(memory.prompt) if memory.prompt else ""
        prefix = f"[{when}] You asked ({memory.provider}): {asked}\n" if asked else f"[{when}] "
        return f"{prefix}Assistant ({memory.provider}) answered: {chunk.text}"
    return f"[{when}] You ({memory.provider}): {chunk.text}"


def context_search(*, user: User, query: str, top_k: int) -> list[ContextResult]:
    """The ``top_k`` memories of ``user`` closest in meaning to ``query``, best first, one entry per memory."""
    vector = embeddings.embed([query])[0]
    candidates = dense_candidates(user=user, vector=vector, limit=top_k * OVERFETCH)
    loaded = Chunk.objects.select_related("memory").defer("embedding").in_bulk([chunk_id for chunk_id, _ in candidates])
    rows = [loaded[chunk_id] for chunk_id, _ in candidates if chunk_id in loaded]
    distances = dict(candidates)
    results: list[ContextResult] = []
    seen: set[int] = set()
    for chunk in rows:
        if chunk.memory_id in seen:
            continue
        seen.add(chunk.memory_id)
        memory = chunk.memory
        results.append(
            ContextResult(
                memory_id=memory.pk,
                text=_format(chunk),
                score=round(1.0 - distances[chunk.pk], 4),
                provider=memory.provider,
                kind=memory.kind,
                created_at=memory.created_at,
                priority=memory.priority,
            )
        )
        if len(results) == top_k:
            break
    return results


# --- Managing memories ------------------------------------------------------------------------------------

EXPORT_FIELDS = ("id", "kind", "provider", "prompt", "text", "priority", "pinned", "created_at")


def memory_list(
    *,
    user: User,
    provider: str | None = None,
    kind: str | None = None,
    priority: int | None = None,
    pinned: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: str | None = None,
) -> QuerySet[Memory]:
    """``user``'s memories, newest first, narrowed by whichever filters are given."""
    memories = Memory.objects.filter(user=user)
    exact = {"provider": provider, "kind": kind, "priority": priority, "pinned": pinned}
    memories = memories.filter(**{name: value for name, value in exact.items() if value is not None})
    if since is not None:
        memories = memories.filter(created_at__gte=since)
    if until is not None:
        memories = memories.filter(created_at__lt=until)
    if q:
        memories = memories.filter(Q(text__icontains=q) | Q(prompt__icontains=q))
    return memories.order_by("-created_at", "-id")


def memory_get(*, user: User, memory_id: int) -> Memory:
    """One of ``user``'s memories; another user's memory is as absent as one that never existed."""
    memory = Memory.objects.filter(user=user, pk=memory_id).first()
    if memory is None:
        raise ServiceError("Memory not found", status_code=404)
    return memory


def memory_export_rows(*, user: User, chunk_size: int = 500) -> Iterator[dict[str, Any]]:
    """Every memory of ``user``, oldest first, as plain dicts, fetched ``chunk_size`` rows at a time."""
    rows = Memory.objects.filter(user=user).order_by("created_at", "id").values(*EXPORT_FIELDS)
    return rows.iterator(chunk_size=chunk_size)
