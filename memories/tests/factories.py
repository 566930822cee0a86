"""Bulk data for search tests: chunks with random unit vectors, inserted through the ORM without the model."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np

from accounts.models import User
from accounts.services import space_default
from memories import services
from memories.models import EMBEDDING_DIMENSION, Chunk, Memory, Priority

_hashes = itertools.count()
JAN = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)


def save(user, text, *, kind="prompt", provider="chatgpt", prompt="", when=JAN, **extra):
    return services.memory_save(
        user=user, kind=kind, provider=provider, text=text, prompt=prompt, created_at=when, **extra
    ).memory


def three_memories(user: User, *, third: str) -> list[Memory]:
    """A prompt, a high-priority answer from claude, and a pinned gemini prompt ``third``, a day apart from JAN."""
    return [
        save(user, "I adopted a golden retriever named Max.", when=JAN),
        save(
            user,
            "Use 00 flour and 65% hydration.",
            kind="response",
            provider="claude",
            prompt="Best pizza dough?",
            when=JAN + timedelta(days=1),
            priority=Priority.HIGH,
        ),
        save(user, third, provider="gemini", when=JAN + timedelta(days=2), pinned=True),
    ]


def unit_vectors(n: int, *, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, EMBEDDING_DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def add_chunks(user: User, vectors: np.ndarray, *, provider: str = "chatgpt", per_memory: int = 1) -> list[int]:
    """Store ``vectors`` as chunks of ``user`` (``per_memory`` chunks per memory); returns the chunk ids."""
    chunks: list[Chunk] = []
    space = space_default(user=user)
    for start in range(0, len(vectors), per_memory):
        memory = Memory.objects.create(
            user=user,
            space=space,
            kind="prompt",
            provider=provider,
            text=f"m{start}",
            content_hash=f"bulk-{next(_hashes)}",
        )
        chunks.extend(
            Chunk(memory=memory, user=user, position=i, text=f"c{start + i}", embedding=vector)
            for i, vector in enumerate(vectors[start : start + per_memory])
        )
    return [c.pk for c in Chunk.objects.bulk_create(chunks)]


def exact_ids(vectors: np.ndarray, ids: list[int], query: np.ndarray, k: int) -> list[int]:
    """The ids of the ``k`` rows nearest to ``query``, computed in numpy."""
    order = np.argsort(-(vectors @ query), kind="stable")[:k]
    return [ids[i] for i in order]
