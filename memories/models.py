from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TypeAlias

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.utils import timezone
from pgvector.django import HnswIndex, VectorField

from accounts.models import Space

# The pgvector column's size; memories.E001 compares it with the configured embedding model.
EMBEDDING_DIMENSION = 384


# What a read or a bulk write covers: one space, or several (``?space=all``: every space the caller may use).
SpaceScope: TypeAlias = Space | Sequence[Space]


def space_ids(space: SpaceScope) -> list[int]:
    return [space.pk] if isinstance(space, Space) else [s.pk for s in space]


class Kind(models.TextChoices):
    PROMPT = "prompt", "Prompt"
    RESPONSE = "response", "Response"


class Priority(models.IntegerChoices):
    LOW = 0, "low"
    NORMAL = 1, "normal"
    HIGH = 2, "high"


class Memory(models.Model):
    """One saved prompt, or one answer together with the prompt it answered, in one space of its owner."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memories")
    # Every key between per-person tables names the person in the database: (user_id, space_id) ->
    # accounts_space (user_id, id), added by memories 0016 (docs/scale.md); Django's own one-column constraint is off.
    space = models.ForeignKey("accounts.Space", on_delete=models.CASCADE, related_name="memories", db_constraint=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    provider = models.CharField(max_length=32)
    text = models.TextField(help_text="The prompt (kind=prompt) or the answer (kind=response).")
    prompt = models.TextField(blank=True, default="", help_text="For an answer: the prompt it answered.")
    content_hash = models.CharField(max_length=64)
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    pinned = models.BooleanField(default=False)
    standing = models.BooleanField(
        default=False,
        help_text='States a standing instruction or preference ("from now on keep it short", "I\'m vegetarian"): '
        "offered for later related tasks that do not mention it.",
    )
    all_spaces = models.BooleanField(
        default=False,
        help_text="A standing preference the person shares with every space: offered in every space's context.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    superseded_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="supersedes",
        db_constraint=False,  # (user_id, superseded_by_id) -> (user_id, id) in the database
        help_text="A later memory of the same person that restates this one with a new value (moved city, new "
        "price, new job): found by the embedding worker (memories.supersession), undone by the person on /app/.",
    )

    class Meta:
        indexes = [
            # a user's memories, newest first (dashboard per-day counts, account-wide reads)
            models.Index(fields=["user", "-created_at"], name="memory_user_created_idx"),
            # one space's memories, newest first (listing, export, the per-space counts)
            models.Index(fields=["space", "-created_at"], name="memory_space_created_idx"),
        ]
        constraints = [
            # One copy of each text per space: the save's INSERT ... ON CONFLICT DO NOTHING meets here, so two
            # identical saves racing each other store one memory without any lock (memories.services). The same
            # text in two spaces is two memories: neither space may learn that the other holds it.
            # The person comes first in every unique constraint: Citus requires the distribution column in each.
            models.UniqueConstraint(fields=["user", "space", "content_hash"], name="memory_user_space_hash_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.user_id} via {self.provider}"


class Chunk(models.Model):
    """A piece of a memory that fits the model's token window, with its embedding."""

    # (user_id, memory_id) -> memories_memory (user_id, id) in the database (memories 0016)
    memory = models.ForeignKey(Memory, on_delete=models.CASCADE, related_name="chunks", db_constraint=False)
    # Denormalised owner so that vector search filters by user inside the query, without a join.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()
    text = models.TextField()
    # What the chunk is found by: its text plus the context it was embedded with (an answer's prompt, the
    # tail of the conversation's previous message). The displayed text stays ``text``.
    search_text = models.TextField(default="")
    # NULL until the queue's worker has embedded it (memories.embedding.pending); found by keywords meanwhile.
    embedding = VectorField(dimensions=EMBEDDING_DIMENSION, null=True)
    search_vector = models.GeneratedField(
        expression=SearchVector("search_text", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["memory_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["user", "memory", "position"], name="chunk_user_memory_position_uniq"),
        ]
        indexes = [
            # per-user exact vector search scans only this user's chunks
            models.Index(fields=["user"], name="chunk_user_idx"),
            # approximate nearest neighbours for users with many chunks (memories.search.dense picks it per query)
            HnswIndex(
                name="chunk_embedding_hnsw_idx",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            # the worker's batch: chunks still waiting for a vector, oldest first
            models.Index(fields=["id"], name="chunk_pending_idx", condition=models.Q(embedding__isnull=True)),
            # the keyword half of /context: a user's chunks matching any of the query's lexemes
            GinIndex(fields=["search_vector"], name="chunk_search_vector_gin"),
        ]

    def __str__(self) -> str:
        return f"chunk {self.position} of memory {self.memory_id}"


class IdempotencyKey(models.Model):
    """A client's ``Idempotency-Key`` on a save, with the first response, replayed to retries for a while.

    Unique per (space, key): concurrent requests with one key meet on this row, so the save runs once; the same
    key in another space is another request.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    space = models.ForeignKey("accounts.Space", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of the endpoint and the request body.")
    # Filled in before the transaction that claimed the key commits, so no other request sees them empty.
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "space", "key"], name="idempotency_user_space_key_uniq"),
        ]
        indexes = [
            # purge_idempotency_keys deletes expired keys by age
            models.Index(fields=["created_at"], name="idempotency_created_idx"),
        ]

    def __str__(self) -> str:
        return f"idempotency key {self.key!r} of {self.user_id}"


class SearchIndexSnapshot(models.Model):
    """One build of the FAISS index, stored in PostgreSQL so that every web instance can fetch it.

    On Render the nightly cron runs on its own instance without a disk shared with the web service; the
    database is the one store they all reach. The file's bytes are split over SearchIndexSnapshotPart rows
    (bytea caps a value at 1 GB, and a 1M-chunk index is ~1.5 GB); ``sha256`` and ``size`` cover the whole
    file, so a damaged or incomplete download is refused. Rows are written in one transaction: a reader never
    sees a snapshot without all its parts.
    """

    built_at = models.DateTimeField()
    model = models.CharField(max_length=255, help_text="Embedding model the vectors came from.")
    dimension = models.PositiveIntegerField()
    rows = models.BigIntegerField(help_text="Chunks in the index.")
    max_chunk_id = models.BigIntegerField(help_text="Every chunk up to this id was committed before the build.")
    size = models.BigIntegerField(help_text="Bytes of the index file (all parts together).")
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the index file.")
    # The sidecar without its file-specific stat key: the fetching process writes its own.
    sidecar = models.JSONField()

    def __str__(self) -> str:
        return f"index snapshot {self.pk} ({self.rows} chunks, {self.built_at:%Y-%m-%d %H:%M})"


class SearchIndexSnapshotPart(models.Model):
    """A consecutive slice of a snapshot's index file (memories.search.indexing.SNAPSHOT_PART_BYTES)."""

    snapshot = models.ForeignKey(SearchIndexSnapshot, on_delete=models.CASCADE, related_name="parts")
    position = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [
            # also serves the fetch, which reads one (snapshot, position) at a time
            models.UniqueConstraint(fields=["snapshot", "position"], name="snapshot_part_position_uniq"),
        ]

    def __str__(self) -> str:
        return f"part {self.position} of snapshot {self.snapshot_id}"


class ImportStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ImportJob(models.Model):
    """A whole chat history uploaded with ``POST /memories/import`` (multipart), imported by the queue's worker.

    The upload is kept in ImportUploadPart rows until the job ends, so a worker on another machine (Render's worker
    service) reads it from the database we already share; the counts move after every batch and are what
    ``GET /memories/import/<id>`` shows its owner.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_jobs")
    space = models.ForeignKey(
        "accounts.Space",
        on_delete=models.CASCADE,
        related_name="import_jobs",
        help_text="Imported into this space.",
        db_constraint=False,  # (user_id, space_id) -> accounts_space (user_id, id) in the database
    )
    status = models.CharField(max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    format = models.CharField(max_length=32, help_text="chatgpt, claude or memorylayer.export.")
    filename = models.CharField(max_length=255, blank=True, default="")
    size = models.BigIntegerField(help_text="Bytes uploaded.")
    total = models.PositiveIntegerField(default=0, help_text="Messages found in the file (known once counted).")
    done = models.PositiveIntegerField(default=0, help_text="Messages handled so far.")
    imported = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0, help_text="Already stored: nothing new was written.")
    skipped = models.PositiveIntegerField(default=0, help_text="Left out by the person's excluded phrases.")
    failed = models.PositiveIntegerField(default=0, help_text="Invalid messages; nothing of them was stored.")
    errors = models.JSONField(default=list, blank=True, help_text="Why messages failed (the first 100).")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="importjob_user_created_idx")]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.status}, {self.done}/{self.total})"


class ImportUploadPart(models.Model):
    """A consecutive slice of an import's uploaded file (memories.transfer.jobs.UPLOAD_PART_BYTES)."""

    # The job's owner, so the parts live on the person's shard with their job (docs/scale.md).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # (user_id, job_id) -> memories_importjob (user_id, id) in the database (memories 0016)
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="parts", db_constraint=False)
    position = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "job", "position"], name="import_part_user_position_uniq")
        ]

    def __str__(self) -> str:
        return f"part {self.position} of import {self.job_id}"


class ReembedRun(models.Model):
    """Where ``reembed`` is, per model and --user: it resumes from here, and /ready shows it from any instance.

    Moved in the same transaction as the vectors of each batch, so a run stopped at any point resumes after the
    last batch actually written.
    """

    model = models.CharField(max_length=200, help_text="EMBEDDING_MODEL_NAME of the run.")
    scope = models.CharField(max_length=64, help_text="'all', or the one person's id (reembed --user).")
    last_chunk_id = models.BigIntegerField(default=0, help_text="Every chunk up to this id is re-embedded.")
    chunks = models.BigIntegerField(default=0, help_text="Vectors written by this run.")
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "scope"], name="reembed_run_model_scope_uniq")]

    def __str__(self) -> str:
        return f"reembed {self.model} ({self.scope}) up to chunk {self.last_chunk_id}"
