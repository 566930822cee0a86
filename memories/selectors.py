"""Reads, including the per-user vector search behind /context."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from accounts.models import User
from memories import embeddings
from memories.dense import dense_candidates
from memories.models import Chunk, Kind
from memories.services import prompt_head

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
