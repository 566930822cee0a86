"""Reads of a person's own memories: listing, one memory, the export rows. The /context search is
``memories.search.context``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from accounts.models import User
from core.exceptions import NotFound
from memories.models import Memory

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
        raise NotFound("Memory not found")
    return memory


def memory_export_rows(*, user: User, chunk_size: int = 500) -> Iterator[dict[str, Any]]:
    """Every memory of ``user``, oldest first, as plain dicts, fetched ``chunk_size`` rows at a time."""
    rows = Memory.objects.filter(user=user).order_by("created_at", "id").values(*EXPORT_FIELDS)
    return rows.iterator(chunk_size=chunk_size)
