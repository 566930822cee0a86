"""Writes. Every side effect of saving a memory (chunking, embedding, storing) happens here."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from core.exceptions import NotFound
from memories.embedding import embeddings
from memories.embedding.inputs import chunk_texts, embedding_input
from memories.models import Chunk, Kind, Memory, Priority


@dataclass(frozen=True)
class SaveResult:
    memory: Memory
    chunks_stored: int
    duplicate: bool


def content_hash(*, kind: str, text: str, prompt: str = "") -> str:
    normalized = "\x1f".join(unicodedata.normalize("NFC", part).strip() for part in (kind, prompt, text))
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def conversation_context(*, user: User, kind: str, provider: str, created_at: datetime) -> str:
    """The tail of the message this prompt follows in the same conversation, or "".

    A chat message is often meaningless alone ("Yes, last Friday!"); the message before it says what it is
    about. "Before it" is the user's latest memory from the same provider saved at most
    MEMORY_CONVERSATION_WINDOW_MINUTES earlier (ties on created_at, as in a backfill that stamps a whole
    session with one time, go to the most recently saved). An answer already carries its own prompt.
    """
    minutes = settings.MEMORY_CONVERSATION_WINDOW_MINUTES
    if kind != Kind.PROMPT or minutes <= 0:
        return ""
    previous = (
        Memory.objects.filter(
            user=user,
            provider=provider,
            created_at__lte=created_at,
            created_at__gte=created_at - timedelta(minutes=minutes),
        )
        .order_by("-created_at", "-id")
        .only("text")
        .first()
    )
    if previous is None:
        return ""
    return embeddings.text_tail(previous.text, max_tokens=settings.MEMORY_CONVERSATION_WINDOW_TOKENS)


def memory_save(
    *,
    user: User,
    kind: str,
    provider: str,
    text: str,
    prompt: str = "",
    priority: int = Priority.NORMAL,
    pinned: bool = False,
    created_at: datetime | None = None,
) -> SaveResult:
    """Chunk, embed and store one memory; the same text saved again by the same user is stored once.

    Embedding (the slow part) runs outside the transaction so that no row lock or connection is held while
    the model works; the duplicate check is repeated under the lock.
    """
    digest = content_hash(kind=kind, text=text, prompt=prompt)
    existing = Memory.objects.filter(user=user, content_hash=digest).first()
    if existing is not None:
        return SaveResult(memory=existing, chunks_stored=0, duplicate=True)

    created_at = created_at or timezone.now()
    context = conversation_context(user=user, kind=kind, provider=provider, created_at=created_at)
    dense_context = context if settings.MEMORY_CONVERSATION_WINDOW_EMBED else ""
    pieces = chunk_texts(kind=kind, text=text, prompt=prompt, context=dense_context)
    indexed_texts = [embedding_input(kind=kind, chunk_text=p, prompt=prompt, context=context) for p in pieces]
    vectors = embeddings.embed(
        [embedding_input(kind=kind, chunk_text=p, prompt=prompt, context=dense_context) for p in pieces]
    )
    with transaction.atomic():
        # Serialise one user's writes so two identical concurrent saves cannot both pass the check.
        User.objects.select_for_update().filter(pk=user.pk).exists()
        existing = Memory.objects.filter(user=user, content_hash=digest).first()
        if existing is not None:
            return SaveResult(memory=existing, chunks_stored=0, duplicate=True)
        memory = Memory.objects.create(
            user=user,
            kind=kind,
            provider=provider,
            text=text,
            prompt=prompt,
            content_hash=digest,
            priority=priority,
            pinned=pinned,
            created_at=created_at,
        )
        Chunk.objects.bulk_create(
            Chunk(memory=memory, user=user, position=i, text=piece, search_text=indexed, embedding=vector)
            for i, (piece, indexed, vector) in enumerate(zip(pieces, indexed_texts, vectors, strict=True))
        )
    return SaveResult(memory=memory, chunks_stored=len(pieces), duplicate=False)


# --- Managing memories ------------------------------------------------------------------------------------


def memory_update(*, user: User, memory_id: int, priority: int | None = None, pinned: bool | None = None) -> Memory:
    """Change what a person may change about one of their memories: its priority and whether it is pinned."""
    memory = Memory.objects.filter(user=user, pk=memory_id).first()
    if memory is None:
        raise NotFound("Memory not found")
    changed = []
    if priority is not None:
        memory.priority = priority
        changed.append("priority")
    if pinned is not None:
        memory.pinned = pinned
        changed.append("pinned")
    if changed:
        memory.save(update_fields=changed)
    return memory


@transaction.atomic
def memory_delete(*, user: User, memory_id: int) -> int:
    """Forget one memory of ``user`` for real: the row and its chunks. Another user's id is not found."""
    deleted = _forget(Memory.objects.filter(user=user, pk=memory_id))
    if not deleted:
        raise NotFound("Memory not found")
    return deleted


@transaction.atomic
def memory_delete_all(*, user: User) -> int:
    """Forget everything ``user`` ever saved; returns how many memories were deleted."""
    return _forget(Memory.objects.filter(user=user))


def _forget(memories: QuerySet[Memory]) -> int:
    # Every delete goes through here: a search index kept outside PostgreSQL drops ``memory_ids`` here too.
    memory_ids = list(memories.values_list("pk", flat=True))
    if not memory_ids:
        return 0
    # Chunks first in one statement, and only primary keys for the cascade, so that forgetting a large
    # history never loads its text into Python.
    Chunk.objects.filter(memory_id__in=memory_ids).delete()
    Memory.objects.filter(pk__in=memory_ids).only("pk").delete()
    return len(memory_ids)
