"""Writes: vectors for the chunks that saves and imports stored without one (the queue's embedding job).

A save stores its chunks with ``embedding`` NULL and defers ``memories.tasks.embed_pending`` in the same
transaction. The job takes the oldest pending chunks, up to MEMORY_EMBED_BATCH at a time across every save
waiting, locks them (FOR UPDATE SKIP LOCKED: two workers never take the same chunk), embeds them in one model
call and writes the vectors before it commits. A worker killed mid-batch commits nothing: its chunks are
pending again for the retry or the next job, and each vector is written once (the UPDATE also requires NULL).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from procrastinate.contrib.django import app

from memories.embedding import embeddings
from memories.embedding.inputs import embedding_input
from memories.embedding.vectors import vector_literal

# The job, registered by memories.tasks (the worker's side); deferred here by name, so the save path, below the
# tasks module in the layers, does not import it.
EMBED_TASK = "memories.embed_pending"
EMBED_QUEUE = "embeddings"

_TAKE_SQL = """
SELECT c.id, c.text, c.search_text, m.kind, m.prompt
FROM memories_chunk c JOIN memories_memory m ON m.id = c.memory_id
WHERE c.embedding IS NULL {only}
ORDER BY c.id
LIMIT %(batch)s
FOR UPDATE OF c SKIP LOCKED
"""

_WRITE_SQL = """
UPDATE memories_chunk c SET embedding = v.embedding::vector
FROM unnest(%(ids)s::bigint[], %(vectors)s::text[]) AS v(id, embedding)
WHERE c.id = v.id AND c.embedding IS NULL
"""


@dataclass(frozen=True)
class EmbedReport:
    chunks: int  # vectors written
    batches: int  # model calls


def dense_input(*, kind: str, text: str, search_text: str, prompt: str) -> str:
    """What a stored chunk is embedded as: its keyword-indexed text with MEMORY_CONVERSATION_WINDOW_EMBED, else
    the same input without the conversation's previous message (embedding_input; an answer keeps its prompt)."""
    if settings.MEMORY_CONVERSATION_WINDOW_EMBED:
        return search_text or text
    return embedding_input(kind=kind, chunk_text=text, prompt=prompt)


def chunks_embed_pending(
    *, memory_ids: Sequence[int] | None = None, batch: int | None = None, max_batches: int | None = None
) -> EmbedReport:
    """Embed pending chunks (of ``memory_ids`` only, when given) until none is left that another worker is not
    already embedding, or ``max_batches`` model calls were made; returns what was written."""
    size = batch or settings.MEMORY_EMBED_BATCH
    only = "AND c.memory_id = ANY(%(memory_ids)s)" if memory_ids is not None else ""
    params = {"batch": size, "memory_ids": list(memory_ids or [])}
    written = batches = 0
    while max_batches is None or batches < max_batches:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_TAKE_SQL.format(only=only), params)
            rows = cursor.fetchall()
            if not rows:
                break
            inputs = [
                dense_input(kind=kind, text=text, search_text=search_text, prompt=prompt)
                for _, text, search_text, kind, prompt in rows
            ]
            vectors = embed_distinct(inputs)
            cursor.execute(_WRITE_SQL, {"ids": [row[0] for row in rows], "vectors": vectors})
            written += cursor.rowcount
        batches += 1
        if len(rows) < size:
            break
    return EmbedReport(chunks=written, batches=batches)


def embed_distinct(inputs: list[str]) -> list[str]:
    """The vector literal of each input, each distinct input through the model once (an import's "thanks!" and
    "continue" repeat; a text the model has just embedded gets the same vector again)."""
    distinct = list(dict.fromkeys(inputs))
    literals = dict(zip(distinct, (vector_literal(v) for v in embeddings.embed(distinct)), strict=True))
    return [literals[text] for text in inputs]


def embedding_deferred() -> None:
    """Queue the embedding job in the caller's transaction (procrastinate's Django connector runs the insert on
    Django's connection): it commits, or rolls back, with the chunks it is for."""
    app.configure_task(EMBED_TASK, queue=EMBED_QUEUE).defer()


def pending_chunks() -> int:
    """Chunks stored and still waiting for their vector (found by keywords meanwhile)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM memories_chunk WHERE embedding IS NULL")
        return int(cursor.fetchone()[0])
