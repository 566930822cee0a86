"""The FAISS index of chunk embeddings: file layout, lazy per-process loading, status and per-user search.

Layout. One ``IndexIDMap2(IndexFlatIP)`` file whose rows are sorted by (user id, chunk id), and whose ids are
chunk ids, plus a JSON sidecar (``<index>.json``) with the model, dimension, row count, highest chunk id and
each user's row range ``[start, end)``. A search runs FAISS over that user's range only
(``SearchParameters(sel=IDSelectorRange(start, end))``, which FAISS's flat search turns into a scan of just
those rows), so isolation holds inside the search, the cost grows with the user's own chunk count, not the
whole table, and the result is exact (recall 1.0 against pgvector).

Freshness. Every search compares the two files' (inode, mtime, size) with what this process loaded; a
rebuilt index (written to a temp file and moved into place with ``os.replace``) is picked up on the next
search without a restart. The sidecar records the index file's own stat, so a reader that catches the two
files from different builds sees the mismatch and falls back to pgvector for that query.

Distribution (FAISS_INDEX_STORE=database). Where the builder and the web processes share no disk (Render: the
cron job runs on its own instance, web disks are ephemeral), ``rebuild_index`` also stores the build in
PostgreSQL (SearchIndexSnapshot). A process serving FAISS checks for a newer snapshot at most every
FAISS_SNAPSHOT_CHECK_SECONDS, in a background thread so that no request waits on it: one small query, and,
when the local file is missing or older, ``indexing.index_fetch`` streams the snapshot into
FAISS_INDEX_PATH (verified by SHA-256, then ``os.replace``), where the stat check above picks it up.
Meanwhile searches keep using the previous index, or pgvector if there is none.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
from django.conf import settings
from django.db import connections
from django.db.models import Max

from memories.models import Chunk, ReembedRun, SearchIndexSnapshot
from memories.search.index_store import index_store

logger = logging.getLogger(__name__)

OK, MISSING, CORRUPT, STALE = "ok", "missing", "corrupt", "stale"
SIDECAR_FORMAT = 1


class SnapshotRefused(Exception):
    """A fetched snapshot does not match its recorded size or SHA-256; it was not installed."""

    def __init__(self, snapshot_id: int, detail: str):
        super().__init__(detail)
        self.snapshot_id = snapshot_id
        self.detail = detail


# The writer that streams a snapshot into the local file (memories.search.indexing.index_fetch), registered by
# MemoriesConfig.ready: this module reads indexes and must not import the module that writes them.
_fetcher: Callable[[int], str] | None = None


def fetcher_register(fetch: Callable[[int], str]) -> None:
    global _fetcher
    _fetcher = fetch


class IndexUnavailable(Exception):
    """The index file cannot serve searches; ``state`` is missing, corrupt or stale."""

    def __init__(self, state: str, detail: str):
        super().__init__(detail)
        self.state = state
        self.detail = detail


def index_path() -> Path:
    return Path(settings.FAISS_INDEX_PATH)


def sidecar_path(path: Path | None = None) -> Path:
    path = path or index_path()
    return path.with_name(path.name + ".json")


def file_key(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_mtime_ns, st.st_size)


@dataclass
class LoadedIndex:
    """One build of the index, as loaded into this process."""

    flat: Any  # faiss.IndexFlatIP: rows sorted by (user, chunk id)
    owner: Any  # the IndexIDMap2 read from disk: it owns ``flat``, which dies with it
    chunk_ids: np.ndarray  # row position -> chunk id
    ranges: dict[str, tuple[int, int]]  # str(user id) -> [start, end) rows
    meta: dict[str, Any]
    key: tuple[tuple[int, int, int], tuple[int, int, int]]

    @property
    def max_chunk_id(self) -> int:
        return int(self.meta["max_chunk_id"])

    def user_rows(self, user_id: UUID | str) -> int:
        start, end = self.ranges.get(str(user_id), (0, 0))
        return end - start

    def search(self, user_id: UUID | str, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(chunk id, cosine distance) of the user's ``k`` nearest indexed chunks, nearest first."""
        import faiss

        start, end = self.ranges.get(str(user_id), (0, 0))
        k = min(k, end - start)
        if k <= 0:
            return []
        query = np.ascontiguousarray(vector, dtype="float32").reshape(1, -1)
        params = faiss.SearchParameters(sel=faiss.IDSelectorRange(start, end))  # type: ignore[call-arg]
        scores, rows = self.flat.search(query, k, params=params)
        return [
            (int(self.chunk_ids[row]), 1.0 - float(score))
            for score, row in zip(scores[0], rows[0], strict=True)
            if row >= 0
        ]


def read_sidecar(path: Path | None = None) -> dict[str, Any]:
    """The sidecar of the index at ``path``; raises IndexUnavailable when it is missing or unreadable."""
    path = path or index_path()
    side = sidecar_path(path)
    if not path.exists() or not side.exists():
        raise IndexUnavailable(MISSING, f"no index at {path} (run `manage.py rebuild_index`)")
    try:
        meta = json.loads(side.read_text())
        if not isinstance(meta, dict) or meta.get("format") != SIDECAR_FORMAT:
            raise ValueError("unknown sidecar format")
        for field in ("model", "dimension", "rows", "max_chunk_id", "users", "index_key"):
            meta[field]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexUnavailable(CORRUPT, f"unreadable sidecar {side}: {exc}") from exc
    if list(file_key(path))[1:] != list(meta["index_key"])[1:]:
        raise IndexUnavailable(CORRUPT, f"{path} does not match its sidecar (a rebuild in progress, or damage)")
    return meta


def model_mismatch(meta: dict[str, Any]) -> str:
    """Why vectors in this index cannot be compared with the current model's, or '' if they can."""
    if meta["model"] != settings.EMBEDDING_MODEL_NAME:
        return f"index built with {meta['model']}, serving {settings.EMBEDDING_MODEL_NAME} (run reembed, rebuild)"
    if int(meta["dimension"]) != settings.EMBEDDING_DIMENSION:
        return f"index holds {meta['dimension']}-d vectors, the model makes {settings.EMBEDDING_DIMENSION}-d"
    return ""


def load(path: Path | None = None) -> LoadedIndex:
    """Read and check one build from disk; raises IndexUnavailable instead of ever returning a bad index."""
    import faiss

    path = path or index_path()
    meta = read_sidecar(path)
    mismatch = model_mismatch(meta)
    if mismatch:
        raise IndexUnavailable(STALE, mismatch)
    faiss.omp_set_num_threads(settings.FAISS_THREADS)
    try:
        key = (file_key(path), file_key(sidecar_path(path)))
        index: Any = faiss.read_index(str(path))
        flat = faiss.downcast_index(index.index)
        chunk_ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    except (RuntimeError, AttributeError, OSError) as exc:  # faiss raises RuntimeError on a damaged file
        raise IndexUnavailable(CORRUPT, f"cannot read {path}: {exc}") from exc
    if index.ntotal != meta["rows"] or index.d != meta["dimension"] or len(chunk_ids) != index.ntotal:
        raise IndexUnavailable(CORRUPT, f"{path} holds {index.ntotal} rows, its sidecar says {meta['rows']}")
    ranges = {str(user): (int(start), int(end)) for user, (start, end) in meta.pop("users").items()}
    return LoadedIndex(flat=flat, owner=index, chunk_ids=chunk_ids, ranges=ranges, meta=meta, key=key)


class _Holder:
    """This process's view of the index: loaded on first use, reloaded when the files change."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loaded: LoadedIndex | None = None
        self.failure: tuple[Any, IndexUnavailable] | None = None  # (files' key, why) of the last failed load

    def current(self) -> LoadedIndex:
        path = index_path()
        key = self._key(path)
        loaded = self.loaded
        if loaded is not None and loaded.key == key:
            return loaded
        with self.lock:
            if self.loaded is not None and self.loaded.key == key:
                return self.loaded
            if self.failure is not None and self.failure[0] == key:
                raise self.failure[1]  # the same broken files: do not re-read them on every search
            try:
                self.loaded = load(path)
            except IndexUnavailable as exc:
                self.loaded = None
                self.failure = (key, exc)
                logger.warning("FAISS index unavailable (%s): %s; searching with pgvector", exc.state, exc.detail)
                raise
            self.failure = None
            logger.info(
                "FAISS index loaded: %s rows, chunks up to id %s", self.loaded.meta["rows"], self.loaded.max_chunk_id
            )
            return self.loaded

    @staticmethod
    def _key(path: Path) -> Any:
        try:
            return (file_key(path), file_key(sidecar_path(path)))
        except OSError:
            return None

    def reset(self) -> None:
        with self.lock:
            self.loaded = None
            self.failure = None


_holder = _Holder()


def current_index() -> LoadedIndex:
    """The loaded index, (re)loading it if the files changed; raises IndexUnavailable."""
    index_store().refresh_if_due()
    return _holder.current()


def forget_loaded_index() -> None:
    """Drop this process's copy and snapshot-check state (tests; after a rebuild the stat check suffices)."""
    _sync.reset()
    _holder.reset()


# --- Snapshots in PostgreSQL (FAISS_INDEX_STORE=database) --------------------------------------------------


def newest_snapshot() -> dict[str, Any] | None:
    """id, sha256 and built_at of the newest stored snapshot (one primary-key lookup, no data), or None."""
    row = SearchIndexSnapshot.objects.order_by("-id").values("id", "sha256", "built_at", "rows").first()
    return dict(row) if row else None


def local_sha256(path: Path | None = None) -> str:
    """The SHA-256 the local index's sidecar records, or '' when there is no usable local index."""
    meta = _sidecar_or_none(path)
    return str(meta.get("sha256") or "") if meta else ""


def _fetch_needed(newest: dict[str, Any], local: dict[str, Any] | None) -> bool:
    """The local index is missing or unreadable, or another build that is not newer than the snapshot."""
    if local is None:
        return True
    if local.get("sha256") == newest["sha256"]:
        return False
    try:
        return datetime.fromisoformat(str(local.get("built_at"))) <= newest["built_at"]
    except (TypeError, ValueError):
        return True


class _SnapshotSync:
    """This process's checks for a newer snapshot: at most one per interval, each in a background thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next_check = 0.0  # time.monotonic() after which the next search starts a check
        self.thread: threading.Thread | None = None
        self.refused: dict[int, str] = {}  # snapshot id -> why; not fetched again (a newer one will be)
        self.last_error = ""

    def start_if_due(self) -> None:
        if time.monotonic() < self.next_check:
            return  # the common case: one clock read per search
        with self.lock:
            if time.monotonic() < self.next_check or (self.thread is not None and self.thread.is_alive()):
                return
            self.next_check = time.monotonic() + settings.FAISS_SNAPSHOT_CHECK_SECONDS
            self.thread = threading.Thread(target=self._in_background, name="faiss-snapshot-sync", daemon=True)
            self.thread.start()

    def _in_background(self) -> None:
        try:
            self.sync()
        except Exception as exc:  # a database or disk error: keep serving what we have, retry next interval
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.warning("FAISS snapshot check failed (%s); retrying after the check interval", exc)
        finally:
            connections.close_all()  # this thread's own connections

    def sync(self) -> str:
        """Check now and fetch the newest snapshot if the local index needs it; returns what happened."""
        if _fetcher is None:
            return "none"
        self.next_check = time.monotonic() + settings.FAISS_SNAPSHOT_CHECK_SECONDS
        newest = newest_snapshot()
        if newest is None:
            return "none"
        if newest["id"] in self.refused:
            return "refused"
        if not _fetch_needed(newest, _sidecar_or_none()):
            return "current"
        try:
            outcome = _fetcher(newest["id"])
        except SnapshotRefused as exc:
            self.refused[exc.snapshot_id] = exc.detail
            logger.error("FAISS index snapshot refused: %s", exc.detail)
            return "refused"
        self.last_error = ""
        return outcome

    def wait(self) -> None:
        thread = self.thread
        if thread is not None:
            thread.join()

    def reset(self) -> None:
        self.wait()
        with self.lock:
            self.next_check, self.thread, self.refused, self.last_error = 0.0, None, {}, ""


_sync = _SnapshotSync()


def snapshot_sync_if_due() -> None:
    """Start a background check for a newer snapshot if the interval has passed (FAISS_INDEX_STORE=database)."""
    _sync.start_if_due()


def snapshot_sync() -> str:
    """Check for a newer snapshot and fetch it, in this thread (commands, tests): fetched, current, busy,
    refused or none. Web processes do the same in the background through current_index()."""
    return _sync.sync()


def wait_for_snapshot_sync() -> None:
    """Wait for this process's background check, if one is running (tests, shutdown)."""
    _sync.wait()


def snapshot_status(meta: dict[str, Any] | None) -> dict[str, Any]:
    newest = newest_snapshot()
    local_sha = str(meta.get("sha256") or "") if meta else ""
    return {
        "newest_id": newest["id"] if newest else None,
        "newest_built_at": newest["built_at"].isoformat(timespec="seconds") if newest else None,
        "local_id": meta.get("snapshot_id") if meta else None,  # None for a file built on this machine
        "in_sync": newest is not None and local_sha == newest["sha256"],
        "refused": {str(i): why for i, why in list(_sync.refused.items())},  # list(): the thread may add one
        "last_error": _sync.last_error,
    }


def index_status(*, load_index: bool | None = None) -> dict[str, Any]:
    """Health of the FAISS index for /ready, the dashboard and `index_status`.

    state: ok | missing | corrupt | stale. ``serving`` names the engine /context uses right now. With
    SEARCH_BACKEND=faiss the index is loaded (it will be needed anyway); otherwise only the sidecar and the
    file's size are checked, so a pgvector deployment never pulls the index into memory.
    """
    if load_index is None:
        load_index = settings.SEARCH_BACKEND == "faiss"
    stored = Chunk.objects.count()
    status: dict[str, Any] = {
        "backend": settings.SEARCH_BACKEND,
        "path": str(index_path()),
        "current_model": settings.EMBEDDING_MODEL_NAME,
        "stored_rows": stored,
        "serving": "pgvector",
        "store": index_store().name,
    }
    try:
        meta = current_index().meta if load_index else read_sidecar()
        mismatch = model_mismatch(meta)
        if mismatch:
            raise IndexUnavailable(STALE, mismatch)
    except IndexUnavailable as exc:
        status.update(state=exc.state, detail=exc.detail)
        with_meta = _sidecar_or_none()
        if with_meta:
            status.update(_describe(with_meta, stored))
        status.update(index_store().describe(with_meta))
        return status
    status.update(index_store().describe(meta))
    status.update(_describe(meta, stored))
    status["state"], status["detail"] = OK, ""
    if status["unindexed_rows"] >= settings.FAISS_STALE_AFTER_ROWS:
        status["state"] = STALE
        status["detail"] = f"{status['unindexed_rows']} chunks are newer than the index (searched exactly)"
    reembedded = _reembedded_after(meta.get("built_at") or "")
    if reembedded:
        status["state"] = STALE
        status["detail"] = f"chunks were re-embedded at {reembedded}, after the build"
    if status["state"] == STALE:
        status["detail"] += "; run rebuild_index"
    if settings.SEARCH_BACKEND == "faiss":
        status["serving"] = "faiss"
    return status


def _reembedded_after(built_at: str) -> str:
    """When `reembed` last changed vectors (its ReembedRun rows), if that was after ``built_at`` (ISO, UTC), else ''."""
    try:
        built = datetime.fromisoformat(built_at)
    except ValueError:
        return ""
    latest = ReembedRun.objects.filter(chunks__gt=0, updated_at__gt=built).aggregate(latest=Max("updated_at"))
    return latest["latest"].isoformat(timespec="seconds") if latest["latest"] else ""


def _sidecar_or_none(path: Path | None = None) -> dict[str, Any] | None:
    try:
        return read_sidecar(path)
    except IndexUnavailable:
        return None


def _describe(meta: dict[str, Any], stored: int) -> dict[str, Any]:
    max_id = int(meta["max_chunk_id"])
    unindexed = Chunk.objects.filter(id__gt=max_id).count()
    return {
        "model": meta["model"],
        "dimension": meta["dimension"],
        "indexed_rows": meta["rows"],
        "max_chunk_id": max_id,
        "built_at": meta.get("built_at"),
        "unindexed_rows": unindexed,
        # rows in the file whose chunks were deleted since (never returned: results are resolved in the DB)
        "deleted_rows": max(0, int(meta["rows"]) - (stored - unindexed)),
    }


def highest_chunk_id() -> int:
    return Chunk.objects.aggregate(m=Max("id"))["m"] or 0
