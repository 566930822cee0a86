"""Writes behind the index commands: build the FAISS file, re-embed every chunk after a model change."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from accounts.models import User
from memories.embedding import pending
from memories.models import Chunk, ReembedRun, SearchIndexSnapshot, SearchIndexSnapshotPart
from memories.parts import BlobParts
from memories.search import dense, search_index
from memories.search.index_store import index_store
from memories.search.search_index import SnapshotRefused

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]  # called with the number of rows just processed


@dataclass(frozen=True)
class RebuildResult:
    path: Path
    rows: int
    users: int
    max_chunk_id: int
    snapshot_id: int | None = None  # the database copy, with FAISS_INDEX_STORE=database


def _no_progress(n: int) -> None:
    return None


def _snapshot_max_id() -> int:
    """The highest chunk id such that every chunk with a lower id is already committed.

    SHARE mode waits for transactions that are inserting chunks (they hold ROW EXCLUSIVE, taken before the
    INSERT draws ids from the sequence) and is released at once; later inserts get higher ids, which the
    search then reads exactly from PostgreSQL. Without it an id drawn before the build but committed after
    would be neither in the index nor above its highest id: lost to FAISS searches until the next rebuild.
    It also stops below the oldest chunk still waiting for its vector (the queue's worker writes it later),
    so that chunk is read from PostgreSQL once it has one.
    """
    table = Chunk._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {table} IN SHARE MODE")
        highest = search_index.highest_chunk_id()
        cursor.execute(f"SELECT min(id) FROM {table} WHERE embedding IS NULL")  # noqa: S608 - our own table name
        first_pending = cursor.fetchone()[0]
        return highest if first_pending is None else min(highest, int(first_pending) - 1)


def _vector_batches(
    max_id: int, batch_size: int, codes: dict[str, int]
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(chunk ids, user codes, vectors) in ascending id order, by keyset pages on the primary key.

    User ids (UUIDs) become small integers through ``codes`` (str(user id) -> code), filled as users appear.

    Vectors travel in pgvector's binary form (vector_send: int16 dim, int16 unused, float32 big-endian), which
    is parsed by numpy without going through Python floats.
    """
    table = Chunk._meta.db_table
    last = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, user_id, vector_send(embedding) FROM {table} "  # noqa: S608 - our own table name
                "WHERE id > %s AND id <= %s ORDER BY id LIMIT %s",
                [last, max_id, batch_size],
            )
            rows = cursor.fetchall()
        if not rows:
            return
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        users = np.fromiter((codes.setdefault(str(r[1]), len(codes)) for r in rows), dtype=np.int64, count=len(rows))
        vectors = np.stack([np.frombuffer(bytes(r[2]), dtype=">f4", offset=4) for r in rows]).astype(np.float32)
        yield ids, users, vectors
        last = int(ids[-1])


def index_rebuild(
    *, batch_size: int = 5000, path: Path | None = None, progress: Progress = _no_progress
) -> RebuildResult:
    """Build the FAISS index from the pgvector column and move it into place atomically (file, then sidecar).

    With FAISS_INDEX_STORE=database the build is then stored in PostgreSQL too, for every web instance.
    """
    import faiss

    path = path or search_index.index_path()
    max_id = _snapshot_max_id()
    expected = Chunk.objects.filter(id__lte=max_id).count()
    ids = np.empty(expected, dtype=np.int64)
    users = np.empty(expected, dtype=np.int64)
    vectors = np.empty((expected, settings.EMBEDDING_DIMENSION), dtype=np.float32)
    filled = 0
    codes: dict[str, int] = {}
    for batch_ids, batch_users, batch_vectors in _vector_batches(max_id, batch_size, codes):
        n = min(len(batch_ids), expected - filled)  # rows saved below max_id after the count: next rebuild
        ids[filled : filled + n], users[filled : filled + n] = batch_ids[:n], batch_users[:n]
        vectors[filled : filled + n] = batch_vectors[:n]
        filled += n
        progress(len(batch_ids))
    ids, users, vectors = ids[:filled], users[:filled], vectors[:filled]

    order = np.lexsort((ids, users))  # by user, then chunk id: each user's rows are one contiguous range
    ids, users, vectors = ids[order], users[order], vectors[order]
    faiss.normalize_L2(vectors)  # already unit length from the model; guards rows written by other tools
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(settings.EMBEDDING_DIMENSION))
    if filled:
        index.add_with_ids(vectors, ids)

    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, lambda tmp: faiss.write_index(index, str(tmp)))
    meta = {
        "format": search_index.SIDECAR_FORMAT,
        "model": settings.EMBEDDING_MODEL_NAME,
        "dimension": settings.EMBEDDING_DIMENSION,
        "rows": filled,
        "max_chunk_id": max_id,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "index_key": list(search_index.file_key(path)),
        "sha256": file_sha256(path),
        "users": _user_ranges(users, codes),
    }
    _atomic_write(search_index.sidecar_path(path), lambda tmp: tmp.write_text(json.dumps(meta)))
    snapshot_id = index_store().publish(path=path, meta=meta)
    return RebuildResult(path=path, rows=filled, users=len(meta["users"]), max_chunk_id=max_id, snapshot_id=snapshot_id)


def _user_ranges(users: np.ndarray, codes: dict[str, int]) -> dict[str, list[int]]:
    """str(user id) -> [start, end) of that user's rows in the sorted index."""
    if len(users) == 0:
        return {}
    names = {code: user_id for user_id, code in codes.items()}
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], len(users)]
    return {names[int(users[s])]: [int(s), int(e)] for s, e in zip(starts, ends, strict=True)}


def _atomic_write(path: Path, write: Callable[[Path], Any], tmp: Path | None = None) -> None:
    if tmp is None:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(SNAPSHOT_PART_BYTES):
            digest.update(block)
    return digest.hexdigest()


# --- The index in PostgreSQL (FAISS_INDEX_STORE=database) --------------------------------------------------

# Bytes per SearchIndexSnapshotPart row: far below bytea's 1 GB cap, and what one process holds in memory at a
# time while storing or fetching (a 1M-chunk index, ~1.5 GB, is 45 parts).
SNAPSHOT_PART_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class FetchResult:
    snapshot_id: int | None
    outcome: str  # "fetched", "current" (already on disk), "busy" (another process is fetching), "none"


def index_snapshot_store(*, path: Path, meta: dict[str, Any]) -> SearchIndexSnapshot:
    """Copy the index file at ``path`` (with its sidecar ``meta``) into PostgreSQL; keep the newest few.

    Parts are written in one transaction with the snapshot row, so readers see all of it or none of it. The
    file is hashed again while it is read: a rebuild replacing it meanwhile aborts the copy.
    """
    sidecar = {key: value for key, value in meta.items() if key != "index_key"}
    with transaction.atomic(), open(path, "rb") as f:
        snapshot = SearchIndexSnapshot.objects.create(
            built_at=datetime.fromisoformat(meta["built_at"]),
            model=meta["model"],
            dimension=meta["dimension"],
            rows=meta["rows"],
            max_chunk_id=meta["max_chunk_id"],
            size=os.fstat(f.fileno()).st_size,
            sha256=meta["sha256"],
            sidecar=sidecar,
        )
        if _parts().store(snapshot, f).sha256 != snapshot.sha256:
            raise RuntimeError(f"{path} changed while it was being stored; run rebuild_index again")
    index_snapshots_prune(keep=settings.FAISS_SNAPSHOT_KEEP)
    return snapshot


def index_snapshots_prune(*, keep: int) -> int:
    """Delete all but the newest ``keep`` (at least 1) snapshots; returns how many were deleted."""
    old = list(SearchIndexSnapshot.objects.order_by("-id").values_list("id", flat=True)[max(1, keep) :])
    with transaction.atomic():
        _parts().delete(old)
        SearchIndexSnapshot.objects.filter(id__in=old).delete()
    return len(old)


def index_fetch(*, snapshot_id: int | None = None, path: Path | None = None) -> FetchResult:
    """Install a stored snapshot (default: the newest) as the local index file, verified by size and SHA-256.

    Processes sharing the disk (gunicorn workers) take turns through a lock file: one fetches, the others
    return "busy" and then see the new file through the usual stat check. The parts stream into a temp file,
    read one per query, so memory stays at one part. A mismatch raises SnapshotRefused and leaves the
    previous index in place; so does any error, the temp file is removed.
    """
    path = path or search_index.index_path()
    snapshots = SearchIndexSnapshot.objects.order_by("-id")
    snapshot = (snapshots.filter(id=snapshot_id) if snapshot_id is not None else snapshots).first()
    if snapshot is None:
        return FetchResult(None, "none")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(_fetch_lock(path)) as got:
        if not got:
            return FetchResult(snapshot.pk, "busy")
        if search_index.local_sha256(path) == snapshot.sha256:
            return FetchResult(snapshot.pk, "current")
        # a fixed temp name: a fetch killed mid-way (its process ended) leaves one file, reused next time
        _atomic_write(path, lambda tmp: _write_parts(snapshot, tmp), tmp=path.with_name(f".{path.name}.fetch.tmp"))
        meta = dict(snapshot.sidecar, snapshot_id=snapshot.pk, index_key=list(search_index.file_key(path)))
        _atomic_write(search_index.sidecar_path(path), lambda tmp: tmp.write_text(json.dumps(meta)))
    logger.info("FAISS index snapshot %s fetched: %s chunks, %s bytes", snapshot.pk, snapshot.rows, snapshot.size)
    return FetchResult(snapshot.pk, "fetched")


def _parts() -> BlobParts:
    # Read at call time: tests shrink SNAPSHOT_PART_BYTES to see a file split over several parts.
    return BlobParts(SearchIndexSnapshotPart, owner="snapshot", part_bytes=SNAPSHOT_PART_BYTES)


def _write_parts(snapshot: SearchIndexSnapshot, tmp: Path) -> None:
    with open(tmp, "wb") as f:
        blob = _parts().copy_to(snapshot.pk, f)
    if blob.size != snapshot.size or blob.sha256 != snapshot.sha256:
        raise SnapshotRefused(
            snapshot.pk,
            f"snapshot {snapshot.pk} arrived as {blob.size} bytes with SHA-256 {blob.sha256[:12]}..., "
            f"expected {snapshot.size} bytes, {snapshot.sha256[:12]}...; not installed",
        )


class DatabaseStore:
    """FAISS_INDEX_STORE=database (memories.search.index_store): builds are stored in PostgreSQL, and every
    serving process fetches the newest into its own FAISS_INDEX_PATH."""

    name = "database"

    def publish(self, *, path: Path, meta: dict[str, Any]) -> int | None:
        return index_snapshot_store(path=path, meta=meta).pk

    def refresh_if_due(self) -> None:
        search_index.snapshot_sync_if_due()

    def sync(self) -> str:
        return search_index.snapshot_sync()

    def describe(self, meta: dict[str, Any] | None) -> dict[str, Any]:
        return {"snapshot": search_index.snapshot_status(meta)}


@contextmanager
def _exclusive(lock_path: Path, *, wait: bool = False) -> Iterator[bool]:
    """An exclusive lock on ``lock_path`` (flock: released when the process dies); without ``wait``, False at
    once when another process holds it."""
    with open(lock_path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# --- Forgetting a person (an account deleted) ---------------------------------------------------------------


def _fetch_lock(path: Path) -> Path:
    return path.with_name(path.name + ".fetch.lock")


def _without_user(path: Path, meta: dict[str, Any], user_key: str) -> dict[str, Any] | None:
    """Rewrite the index file at ``path`` without ``user_key``'s rows; its new sidecar, or None (no such rows).

    Rows are sorted by user, and FAISS's remove_ids keeps the order of the rest: the users after the removed
    range move down by its length, everyone else keeps their range.
    """
    import faiss

    users = dict(meta.get("users") or {})
    if user_key not in users:
        return None
    start, end = users.pop(user_key)
    index: Any = faiss.read_index(str(path))
    chunk_ids = faiss.vector_to_array(index.id_map).astype(np.int64)[start:end]
    index.remove_ids(np.ascontiguousarray(chunk_ids))
    n = end - start
    users = {key: [a - n, b - n] if a >= end else [a, b] for key, (a, b) in users.items()}
    _atomic_write(path, lambda tmp: faiss.write_index(index, str(tmp)))
    return {**meta, "users": users, "rows": int(meta["rows"]) - n, "sha256": file_sha256(path)}


def index_snapshots_forget_user(*, user_id: UUID | str) -> int:
    """Stored snapshots (FAISS_INDEX_STORE=database) without ``user_id``'s vectors and id; how many held them.

    Runs inside the account's deletion transaction. The newest snapshot that holds the person is copied without
    their rows into a new snapshot (same build time, same chunk horizon), which web instances fetch as newer;
    every snapshot that holds them is deleted. A damaged one is only deleted.
    """
    key = str(user_id)
    holding = list(SearchIndexSnapshot.objects.filter(sidecar__users__has_key=key).order_by("-id"))
    if not holding:
        return 0
    newest = holding[0]
    with tempfile.TemporaryDirectory(prefix="forget-") as directory:
        path = Path(directory) / "chunks.index"
        try:
            _write_parts(newest, path)
        except SnapshotRefused:
            meta = None
        else:
            meta = _without_user(path, dict(newest.sidecar), key)
        _parts().delete([s.pk for s in holding])
        SearchIndexSnapshot.objects.filter(pk__in=[s.pk for s in holding]).delete()
        if meta is not None and not SearchIndexSnapshot.objects.filter(pk__gt=newest.pk).exists():
            index_snapshot_store(path=path, meta=meta)
    return len(holding)


def index_file_forget_user(*, user_id: UUID | str, path: Path | None = None) -> bool:
    """This machine's index file without ``user_id``'s rows; True when the file held them. Run right after the
    deletion commits; waits for a snapshot fetch in progress.

    Searches never return a deleted chunk (results are resolved in PostgreSQL), so this is about not keeping
    the person's vectors on disk, not about what searches see.
    """
    path = path or search_index.index_path()
    if not path.exists():
        return False
    with _exclusive(_fetch_lock(path), wait=True):
        try:
            meta = search_index.read_sidecar(path)
        except search_index.IndexUnavailable:
            return False
        new_meta = _without_user(path, meta, str(user_id))
        if new_meta is None:
            return False
        new_meta["index_key"] = list(search_index.file_key(path))
        _atomic_write(search_index.sidecar_path(path), lambda tmp: tmp.write_text(json.dumps(new_meta)))
    return True


def reembed_runs_forget_user(*, user_id: UUID | str) -> int:
    """Delete the person's `reembed --user <id>` progress rows (their id is the scope); how many."""
    return int(ReembedRun.objects.filter(scope=str(user_id)).delete()[0])


# --- Re-embedding ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReembedResult:
    chunks: int
    resumed_after: int
    last_chunk_id: int


def _scope(user_id: UUID | str | None) -> str:
    return str(user_id) if user_id is not None else "all"


def reembed_run(*, user_id: UUID | str | None = None) -> ReembedRun | None:
    """The recorded run for the configured model and ``user_id`` (None before the first)."""
    return ReembedRun.objects.filter(model=settings.EMBEDDING_MODEL_NAME, scope=_scope(user_id)).first()


def reembed_pending(*, user_id: UUID | str | None = None) -> int:
    """How many chunks a `reembed` with these arguments would still process (it resumes where it stopped)."""
    run = reembed_run(user_id=user_id)
    after = run.last_chunk_id if run is not None else 0
    return _chunks(user_id).filter(id__gt=after).count()


def _chunks(user_id: UUID | str | None) -> Any:
    chunks = Chunk.objects.all()
    return chunks.filter(user_id=user_id) if user_id is not None else chunks


def reembed_started(*, user_id: UUID | str | None = None, restart: bool = False) -> ReembedRun:
    """The run for the configured model and ``user_id``: the recorded one (resumed), or a new one from the first
    chunk when there is none or ``restart``."""
    run, created = ReembedRun.objects.get_or_create(model=settings.EMBEDDING_MODEL_NAME, scope=_scope(user_id))
    if restart and not created:
        now = datetime.now(UTC)
        ReembedRun.objects.filter(pk=run.pk).update(
            last_chunk_id=0, chunks=0, started_at=now, updated_at=now, finished_at=None
        )
        run.refresh_from_db()
    return run


def reembed_step(*, user_id: UUID | str | None, batch_size: int, after: int | None = None) -> int | None:
    """Re-embed the next ``batch_size`` chunks of the run with pending's vector writer, and move the run in the
    same transaction; the vectors written (0 when the run has finished), or None when ``after`` is given and the
    run is no longer there (a queued turn that already ran)."""
    with transaction.atomic():
        run = ReembedRun.objects.select_for_update().get(model=settings.EMBEDDING_MODEL_NAME, scope=_scope(user_id))
        if after is not None and run.last_chunk_id != after:
            return None
        written, last = pending.chunks_reembed_after(
            after=run.last_chunk_id, batch=batch_size, user_id=None if user_id is None else str(user_id)
        )
        now = datetime.now(UTC)
        if last == run.last_chunk_id:
            ReembedRun.objects.filter(pk=run.pk).update(finished_at=run.finished_at or now)
            return 0
        ReembedRun.objects.filter(pk=run.pk).update(
            last_chunk_id=last, chunks=F("chunks") + written, updated_at=now, finished_at=None
        )
        return written


def chunks_reembed(
    *, batch_size: int = 64, user_id: UUID | str | None = None, restart: bool = False, progress: Progress = _no_progress
) -> ReembedResult:
    """Embed every chunk again with the configured model, in ascending id order, resumably, here and now.

    Each batch goes through the worker's vector writer (memories.embedding.pending: the same input and one UPDATE
    per batch) and moves the run's ReembedRun row in the same transaction, so an interrupted run continues where
    it stopped, from any machine; a finished run leaves its mark too, so running it twice does nothing the second
    time unless ``restart``. Chunks saved meanwhile are embedded by the new model already. Rebuild the FAISS index
    afterwards. ``reembed --queue`` runs the same steps as turns of the bulk lane (memories.tasks.reembed).
    """
    run = reembed_started(user_id=user_id, restart=restart)
    start, done = run.last_chunk_id, 0
    while written := reembed_step(user_id=user_id, batch_size=batch_size):
        done += written
        progress(written)
    run.refresh_from_db()
    return ReembedResult(chunks=done, resumed_after=start, last_chunk_id=run.last_chunk_id)


def reembed_runs_active() -> list[dict[str, Any]]:
    """Runs not finished yet, for /ready and the staff dashboard: model, scope, chunks written, last chunk id."""
    runs = ReembedRun.objects.filter(finished_at__isnull=True).order_by("started_at")
    return [
        {
            "model": run.model,
            "scope": run.scope,
            "chunks": run.chunks,
            "last_chunk_id": run.last_chunk_id,
            "updated_at": run.updated_at.isoformat(timespec="seconds"),
        }
        for run in runs
    ]


# --- Verification ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    queries: int
    recall: float
    perfect: int


def index_verify(*, sample: int = 100, k: int = 10, seed: int | None = None) -> VerifyResult:
    """Recall@k of the FAISS engine against exact pgvector search, over ``sample`` stored chunks as queries.

    Each query is a stored chunk's own vector, searched within its owner's chunks by both engines.
    Raises search_index.IndexUnavailable when there is no usable index.
    """
    index = search_index.current_index()
    queries = _sample_chunks(sample, seed)
    found = expected = perfect = 0
    for user_id, vector in queries:
        user = User(pk=user_id)
        exact = {i for i, _ in dense.exact_candidates(Chunk.objects.filter(user_id=user_id), vector, k)}
        served = {i for i, _ in dense.faiss_candidates(index, user=user, vector=vector, limit=k)}
        found += len(exact & served)
        expected += len(exact)
        perfect += exact == served
    recall = found / expected if expected else 1.0
    return VerifyResult(queries=len(queries), recall=recall, perfect=perfect)


def _sample_chunks(sample: int, seed: int | None) -> list[tuple[UUID, np.ndarray]]:
    with connection.cursor() as cursor:
        if seed is not None:
            cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
        cursor.execute(
            f"SELECT user_id, vector_send(embedding) FROM {Chunk._meta.db_table} "  # noqa: S608 - our table
            "ORDER BY random() LIMIT %s",
            [sample],
        )
        rows: list[Any] = cursor.fetchall()
    return [(user_id, np.frombuffer(bytes(v), dtype=">f4", offset=4).astype(np.float32)) for user_id, v in rows]
