"""Writes: vectors for the chunks that saves and imports stored without one (the queue's embedding job).

A save stores its chunks with ``embedding`` NULL and defers ``memories.tasks.embed_pending`` in the same
transaction. The job takes the oldest pending chunks, up to MEMORY_EMBED_BATCH at a time across every save
waiting, locks them (FOR UPDATE SKIP LOCKED: two workers never take the same chunk), embeds them in one model
call and writes the vectors before it commits. A worker killed mid-batch commits nothing: its chunks are
pending again for the retry or the next job, and each vector is written once (the UPDATE also requires NULL).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from memories.embedding import embeddings, queues
from memories.embedding.inputs import embedding_input
from memories.embedding.vectors import vector_literal

# The job, registered by memories.tasks (the worker's side); deferred here by name, so the save path, below the
# tasks module in the layers, does not import it.
EMBED_TASK = "memories.embed_pending"
EMBED_QUEUE = queues.LIVE_QUEUE

# Joined on the person too: with a person's memory ids (a save, an import) both tables are filtered by them, a
# single-shard statement on Citus (docs/scale.md); the worker's sweep over everyone's pending chunks is not.
_TAKE_SQL = """
SELECT c.id, c.text, c.search_text, m.kind, m.prompt, c.memory_id
FROM memories_chunk c JOIN memories_memory m ON m.user_id = c.user_id AND m.id = c.memory_id
WHERE c.embedding IS NULL {only}
ORDER BY c.id
LIMIT %(batch)s
FOR UPDATE OF c SKIP LOCKED
"""

# reembed's next batch: every chunk after the last one done (of one person, with --user), whatever its vector.
_AFTER_SQL = """
SELECT c.id, c.text, c.search_text, m.kind, m.prompt
FROM memories_chunk c JOIN memories_memory m ON m.id = c.memory_id
WHERE c.id > %(after)s {only}
ORDER BY c.id
LIMIT %(batch)s
"""

_WRITE_SQL = """
UPDATE memories_chunk c SET embedding = v.embedding::vector
FROM unnest(%(ids)s::bigint[], %(vectors)s::text[]) AS v(id, embedding)
WHERE c.id = v.id {only_pending} {only_person}
"""

# id, text, search_text, kind, prompt (and, from _TAKE_SQL, the memory id): what the two queries read
ChunkRow = tuple[Any, ...]


@dataclass(frozen=True)
class EmbedReport:
    chunks: int  # vectors written
    batches: int  # model calls
    memory_ids: tuple[int, ...] = ()  # the memories whose chunks got them (the worker then looks for supersession)


def dense_input(*, kind: str, text: str, search_text: str, prompt: str) -> str:
    """What a stored chunk is embedded as: its keyword-indexed text with MEMORY_CONVERSATION_WINDOW_EMBED, else
    the same input without the conversation's previous message (embedding_input; an answer keeps its prompt)."""
    if settings.MEMORY_CONVERSATION_WINDOW_EMBED:
        return search_text or text
    return embedding_input(kind=kind, chunk_text=text, prompt=prompt)


def chunks_embed_pending(
    *,
    memory_ids: Sequence[int] | None = None,
    user_id: Any = None,
    batch: int | None = None,
    max_batches: int | None = None,
    bulk: bool | None = None,
) -> EmbedReport:
    """Embed pending chunks (of ``memory_ids`` only, when given; of ``user_id``, who owns them, named in every
    statement) until none is left that another worker is not already embedding, or ``max_batches`` model calls
    were made; returns what was written. ``bulk`` (by default: when ``memory_ids`` are given, an import's own
    batch) lets a live save's embedding go first (_bulk_embedded)."""
    bulk = memory_ids is not None if bulk is None else bulk
    size = batch or settings.MEMORY_EMBED_BATCH
    only = "AND c.memory_id = ANY(%(memory_ids)s)" if memory_ids is not None else ""
    if user_id is not None:
        only += " AND c.user_id = %(user_id)s AND m.user_id = %(user_id)s"
    params = {"batch": size, "memory_ids": list(memory_ids or []), "user_id": user_id}
    written = batches = 0
    embedded: set[int] = set()
    while max_batches is None or batches < max_batches:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_TAKE_SQL.format(only=only), params)
            rows = cursor.fetchall()
            if not rows:
                break
            written += vectors_write(cursor, rows, bulk=bulk, user_id=user_id)
        embedded.update(row[5] for row in rows)
        batches += 1
        if len(rows) < size:
            break
    return EmbedReport(chunks=written, batches=batches, memory_ids=tuple(sorted(embedded)))


def vectors_write(
    cursor: CursorWrapper, rows: Sequence[ChunkRow], *, replace: bool = False, bulk: bool = False, user_id: Any = None
) -> int:
    """The one vector writer (the worker's pending chunks, imports, ``reembed``): embed ``rows`` and write their
    vectors in one UPDATE; how many were written. Without ``replace`` only a chunk still without a vector is
    written (a retried job never writes one twice). ``bulk`` work yields the model to live saves between pieces.
    ``user_id``: every row is that person's, and the UPDATE says so (one shard on Citus)."""
    inputs = [
        dense_input(kind=kind, text=text, search_text=search_text, prompt=prompt)
        for _, text, search_text, kind, prompt, *_ in rows
    ]
    # Each distinct input through the model once (an import's "thanks!" and "continue" repeat).
    distinct = list(dict.fromkeys(inputs))
    vectors = _bulk_embedded(distinct) if bulk else _live_embedded(distinct)
    literals = dict(zip(distinct, (vector_literal(v) for v in vectors), strict=True))
    only_pending = "" if replace else "AND c.embedding IS NULL"
    only_person = "" if user_id is None else "AND c.user_id = %(user_id)s"
    cursor.execute(
        _WRITE_SQL.format(only_pending=only_pending, only_person=only_person),
        {"ids": [row[0] for row in rows], "vectors": [literals[text] for text in inputs], "user_id": user_id},
    )
    return int(cursor.rowcount)


def chunks_reembed_after(*, after: int, batch: int, user_id: str | None = None) -> tuple[int, int]:
    """Embed again the ``batch`` chunks following chunk id ``after`` (of ``user_id`` only, when given), in one
    transaction; returns (vectors written, the last chunk id taken, or ``after`` when none was left)."""
    only = "AND c.user_id = %(user_id)s" if user_id is not None else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_AFTER_SQL.format(only=only), {"after": after, "batch": batch, "user_id": user_id})
        rows = cursor.fetchall()
        if not rows:
            return 0, after
        # replace: the chunk's vector is rewritten, and a chunk deleted meanwhile stays deleted (UPDATE, no INSERT)
        return vectors_write(cursor, rows, replace=True, bulk=True), int(rows[-1][0])


# The worker runs a live job and a bulk turn side by side (docs/queue.md), but the model takes one call at a time
# (embeddings._encode_lock), and a plain lock is not fair: a bulk turn calling the model batch after batch could
# keep a save's embedding waiting for the whole turn. So bulk work calls the model in pieces and, before each piece,
# lets every waiting live call go first: a save waits for at most one piece. A piece is cut by the text it holds
# (MEMORY_EMBED_BULK_PIECE_CHARS), not by a count of inputs, so that it takes about the same time whether it holds
# long answers or short prompts; an input counts at most BULK_INPUT_CHARS (the model reads 256 tokens at most).
BULK_PIECE_MAX = 64
BULK_INPUT_CHARS = 1200
_gate = threading.Condition()
_live_calls = 0


def _live_embedded(inputs: list[str]) -> Any:
    global _live_calls
    with _gate:
        _live_calls += 1
    try:
        return embeddings.embed(inputs)
    finally:
        with _gate:
            _live_calls -= 1
            _gate.notify_all()


def bulk_pieces(inputs: Sequence[str], *, budget: int) -> list[list[int]]:
    """The positions of ``inputs`` in model calls: sorted by length (each call pads to its longest input, so inputs
    of similar length cost about half of file order; docs/imports.md), each call at most ``budget`` characters
    (an input counting at most BULK_INPUT_CHARS) and BULK_PIECE_MAX inputs."""
    pieces: list[list[int]] = []
    piece: list[int] = []
    size = 0
    for i in sorted(range(len(inputs)), key=lambda i: len(inputs[i])):
        cost = min(len(inputs[i]), BULK_INPUT_CHARS)
        if piece and (size + cost > budget or len(piece) >= BULK_PIECE_MAX):
            pieces.append(piece)
            piece, size = [], 0
        piece.append(i)
        size += cost
    if piece:
        pieces.append(piece)
    return pieces


def _bulk_embedded(inputs: list[str]) -> list[Any]:
    vectors: list[Any] = [None] * len(inputs)
    for piece in bulk_pieces(inputs, budget=settings.MEMORY_EMBED_BULK_PIECE_CHARS):
        with _gate:
            _gate.wait_for(lambda: _live_calls == 0)
        for i, vector in zip(piece, embeddings.embed([inputs[i] for i in piece]), strict=True):
            vectors[i] = vector
    return vectors


def embedding_deferred() -> None:
    """Queue the embedding job on the live lane, in the caller's transaction (procrastinate's Django connector runs
    the insert on Django's connection): it commits, or rolls back, with the chunks it is for."""
    queues.live_deferred(EMBED_TASK)


def pending_chunks() -> int:
    """Chunks stored and still waiting for their vector (found by keywords meanwhile)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM memories_chunk WHERE embedding IS NULL")
        return int(cursor.fetchone()[0])
