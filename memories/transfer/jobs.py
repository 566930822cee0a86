"""Every import, whatever door it came in by, recorded as an ImportJob and read by the one reader (history).

``import_receive`` (the API's body or file, /app/'s form) checks the file's size and recognises it (open_history
reads its first bytes: not JSON, an unknown shape, a zip without conversations.json or a zip bomb are refused at
once, and nothing is kept). A small upload is then read whole (count_candidates) and imported within the request;
a larger one is stored in ImportUploadPart rows, with the ImportJob and its first turn, in one transaction.
``import_job_here`` (``manage.py import_memories``) imports a file on disk in its own process; ``import_job_create``
always queues.
``import_job_run`` (the worker) takes one turn: the first writes the parts back to a temporary file and counts and
validates every message (a file broken half-way fails the job before anything is stored); each later turn stores
and embeds one slice of MEMORY_IMPORT_SLICE_ITEMS messages and queues the next turn at the back of the bulk lane
(memories.embedding.queues), so imports of several people take turns (docs/queue.md).

A turn is one transaction with the job's row locked: its memories, their vectors, the job's counts and the next
turn all commit together, or none does. A turn retried after a crash therefore starts again from the same message,
and a turn that had committed (its successor queued) finds the job moved on and does nothing.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Space, User
from core.exceptions import InvalidInput, NotFound, TooLarge
from memories.embedding import queues
from memories.models import ImportJob, ImportStatus, ImportUploadPart, SpaceScope, space_ids
from memories.parts import BlobParts
from memories.transfer import history
from memories.transfer.history import Candidate
from memories.transfer.importers import MAX_REPORTED_PROBLEMS, ImportReport, import_candidates

logger = logging.getLogger(__name__)

IMPORT_TASK = "memories.import_history"
IMPORT_QUEUE = queues.BULK_QUEUE
# Slices of the upload in the database (bytea values stay far below PostgreSQL's 1 GB cap).
UPLOAD_PART_BYTES = 8 * 1024 * 1024


def file_too_big_message() -> str:
    return (
        f"File too large: the limit is {settings.MEMORY_IMPORT_MAX_FILE_BYTES} bytes (MEMORY_IMPORT_MAX_FILE_BYTES). "
        "Split the export and upload the parts one after another."
    )


def import_receive(*, user: User, upload: UploadedFile, space: Space | None = None) -> ImportJob:
    """Every request door's way in (the API's body or file, /app/'s form): ``import_job_start`` on the upload."""
    if upload.size is not None and upload.size > settings.MEMORY_IMPORT_MAX_FILE_BYTES:
        raise TooLarge(file_too_big_message())
    with _on_disk(upload) as path:
        return import_job_start(user=user, path=path, filename=upload.name or "", space=space)


def import_job_create(*, user: User, upload: UploadedFile, space: Space | None = None) -> ImportJob:
    """Check and keep an upload and queue its import for the worker, whatever its size (``import_receive`` imports
    a small one at once); raises InvalidInput / TooLarge for a bad file."""
    if upload.size is not None and upload.size > settings.MEMORY_IMPORT_MAX_FILE_BYTES:
        raise TooLarge(file_too_big_message())
    with _on_disk(upload) as path:
        found = history.open_history(path)
        return _queued(user=user, space=_space(user, space), path=path, found=found, filename=upload.name or "")


def _space(user: User, space: Space | None) -> Space:
    # Every import lands in one space, named by the caller; none named: the person's default space.
    return space or account_services.space_default(user=user)


def import_job_start(*, user: User, path: Path, filename: str, space: Space | None = None) -> ImportJob:
    """Check and recognise the upload at ``path`` with the one reader, then import it: within this call when it is
    small (at most MEMORY_IMPORT_MAX_BYTES and MEMORY_IMPORT_MAX_ITEMS memories; the job is returned done), else
    kept in the database and queued for the worker (the job is returned queued). Either way the ImportJob holds the
    result. Raises InvalidInput / TooLarge for a bad file, and then nothing is kept."""
    space = _space(user, space)
    size = path.stat().st_size
    if size > settings.MEMORY_IMPORT_MAX_FILE_BYTES:
        raise TooLarge(file_too_big_message())
    found = history.open_history(path)
    if size <= settings.MEMORY_IMPORT_MAX_BYTES:
        total = history.count_candidates(found)  # the whole file is read: a broken one is refused here
        if total <= settings.MEMORY_IMPORT_MAX_ITEMS:
            job = _started(user=user, space=space, found=found, filename=filename, size=size, total=total)
            _import(job, found, embed_now=settings.MEMORY_EMBED_INLINE)
            return job
    return _queued(user=user, space=space, path=path, found=found, filename=filename)


def _queued(*, user: User, space: Space, path: Path, found: history.HistoryFile, filename: str) -> ImportJob:
    with transaction.atomic():
        job = ImportJob.objects.create(
            user=user, space=space, format=found.format, filename=filename[:255], size=path.stat().st_size
        )
        with path.open("rb") as file:
            _store_parts(job, file)
        _turn_deferred(job, position=0)
    return job


def import_job_here(
    *,
    user: User,
    path: Path,
    progress: Callable[[int, int], None] | None = None,
    space: Space | None = None,
) -> ImportJob:
    """``manage.py import_memories``: the file streamed from disk and imported in this process, embedded as it goes,
    without the request's caps; ``progress(done, total)`` after every batch."""
    found = history.open_history(path)
    total = history.count_candidates(found)
    size = path.stat().st_size
    job = _started(user=user, space=_space(user, space), found=found, filename=path.name, size=size, total=total)
    _import(job, found, embed_now=True, progress=progress)
    return job


def _started(
    *, user: User, space: Space, found: history.HistoryFile, filename: str, size: int, total: int
) -> ImportJob:
    return ImportJob.objects.create(
        user=user,
        space=space,
        format=found.format,
        filename=filename[:255],
        size=size,
        total=total,
        status=ImportStatus.RUNNING,
        started_at=timezone.now(),
    )


def _import(
    job: ImportJob,
    found: history.HistoryFile,
    *,
    embed_now: bool,
    progress: Callable[[int, int], None] | None = None,
) -> ImportStatus:
    """Store (and with ``embed_now`` embed) every memory of ``found`` into ``job``'s counts, batch by batch, in this
    process (a small upload within its request, or the command); the worker's turns do the same a slice at a time."""
    report = ImportReport(format=found.format)

    def after_batch(r: ImportReport) -> None:
        _record(job, r)
        if progress is not None:
            progress(r.done, job.total)

    try:
        import_candidates(
            user=job.user,
            space=job.space,
            found=history.iter_candidates(found),
            report=report,
            embed_now=embed_now,
            progress=after_batch,
        )
    except Exception as exc:
        _finish(job, ImportStatus.FAILED, errors=[{"item": "file", "status": "failed", "reason": str(exc)}])
        raise
    status = _finish(job, ImportStatus.DONE)
    job.refresh_from_db(from_queryset=ImportJob.objects.filter(user_id=job.user_id))
    return status


@contextmanager
def _on_disk(upload: UploadedFile) -> Iterator[Path]:
    """The upload as a file on disk: Django's temporary file for a large one, a copy of a small in-memory one."""
    temporary = getattr(upload, "temporary_file_path", None)
    if temporary is not None:
        yield Path(temporary())
        return
    with tempfile.NamedTemporaryFile(prefix="import-", suffix=".upload") as copy:
        for piece in upload.chunks():
            copy.write(piece)
        copy.flush()
        yield Path(copy.name)


def _upload_parts() -> BlobParts:
    return BlobParts(ImportUploadPart, owner="job", part_bytes=UPLOAD_PART_BYTES, person="user")


def _store_parts(job: ImportJob, file: IO[bytes]) -> None:
    _upload_parts().store(job, file)


def import_job_of(*, user: User, job_id: Any, space: SpaceScope | None) -> ImportJob:
    """The person's own job (in ``space``, when given); another person's id, or none, is NotFound alike."""
    jobs = ImportJob.objects.filter(user=user)
    if space is not None:
        jobs = jobs.filter(space_id__in=space_ids(space))
    try:
        return jobs.get(pk=job_id)
    except (ImportJob.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
        raise NotFound("No such import") from exc


def import_jobs_recent(*, user: User, limit: int = 5, space: SpaceScope | None) -> list[ImportJob]:
    """The person's latest imports (into ``space``, when given), newest first (the /app/ page lists them)."""
    jobs = ImportJob.objects.filter(user=user)
    if space is not None:
        jobs = jobs.filter(space_id__in=space_ids(space))
    return list(jobs.select_related("space").order_by("-created_at")[:limit])


def import_job_run(job_id: str, position: int = 0, *, user_id: str | None = None) -> ImportStatus:
    """The worker's side: one turn of the import, from message ``position``; returns the job's status after it.
    With ``user_id`` (every turn queued now carries it) the job and its space are read naming their person."""
    jobs = ImportJob.objects.select_for_update(of=("self",)).select_related("user", "space")
    if user_id is not None:
        jobs = jobs.filter(user_id=user_id, space__user_id=user_id)
    try:
        with transaction.atomic():
            job = jobs.filter(pk=job_id).first()
            if job is None:  # deleted with its person meanwhile
                return ImportStatus.FAILED
            if job.status in (ImportStatus.DONE, ImportStatus.FAILED):
                return ImportStatus(job.status)
            if job.done != position:  # this turn had committed before its worker died: its successor goes on
                return ImportStatus(job.status)
            return _turn(job, position)
    except BaseException:
        _streams.drop(str(job_id))  # the stream moved past messages whose transaction rolled back
        raise


def _turn(job: ImportJob, position: int) -> ImportStatus:
    if job.status == ImportStatus.QUEUED:
        try:
            total = history.count_candidates(history.open_history(_streams.local_copy(job)))
        except (InvalidInput, TooLarge) as exc:
            return _finish(job, ImportStatus.FAILED, errors=[{"item": "file", "status": "failed", "reason": str(exc)}])
        ImportJob.objects.filter(user_id=job.user_id, pk=job.pk).update(
            status=ImportStatus.RUNNING, total=total, started_at=timezone.now()
        )
        # A turn of its own: the page shows the total and "running" at once, and the first slice queues up
        # behind the turns other people's imports queued meanwhile.
        _turn_deferred(job, position=0)
        return ImportStatus.RUNNING
    report = _report_of(job)
    import_candidates(
        user=job.user,
        space=job.space,
        found=itertools.islice(_streams.at(job, position), settings.MEMORY_IMPORT_SLICE_ITEMS),
        report=report,
        embed_now=True,  # in this transaction: "done" means every message is searchable by meaning too
        progress=lambda r: _record(job, r),
    )
    if report.done - position < settings.MEMORY_IMPORT_SLICE_ITEMS or report.done >= job.total:
        return _finish(job, ImportStatus.DONE)
    _streams.moved(job, report.done)
    _turn_deferred(job, position=report.done)
    return ImportStatus.RUNNING


def _turn_deferred(job: ImportJob, *, position: int) -> None:
    """The job's next turn, at the back of the bulk lane (behind the turns other people's imports queued)."""
    queues.bulk_deferred(
        IMPORT_TASK, priority=queues.IMPORT_PRIORITY, job_id=str(job.pk), position=position, user_id=str(job.user_id)
    )


def _report_of(job: ImportJob) -> ImportReport:
    """The counts so far, which this turn adds to (ImportReport counts duplicates among the skipped)."""
    return ImportReport(
        format=job.format,
        imported=job.imported,
        skipped=job.skipped + job.duplicates,
        failed=job.failed,
        duplicates=job.duplicates,
        done=job.done,
        problems=list(job.errors),
    )


@dataclass
class _Stream:
    directory: tempfile.TemporaryDirectory[str]
    position: int = 0  # the next message's number
    items: Iterator[Candidate] | None = None  # opened at the first turn that reads

    @property
    def path(self) -> Path:
        return Path(self.directory.name) / "upload"

    def close(self) -> None:
        if self.items is not None:
            getattr(self.items, "close", lambda: None)()
        self.directory.cleanup()


class _Streams:
    """The uploads this worker process is importing, each with its reader at the next message to import.

    Turns of several imports alternate, so the reader of each stays open between its turns instead of parsing the
    file again up to the next message; a turn that finds none at its position (another worker took the previous
    turn, a restart, a rollback) writes the file back from the database and skips to the position.
    """

    KEEP = 8  # open uploads at most (each a temporary file); the least recently used is closed first

    def __init__(self) -> None:
        self._open: dict[str, _Stream] = {}
        self._lock = threading.Lock()

    def local_copy(self, job: ImportJob) -> Path:
        """The upload written back from the database to a fresh temporary file (the first turn counts it)."""
        self.drop(str(job.pk))
        return self._opened(job).path

    def at(self, job: ImportJob, position: int) -> Iterator[Candidate]:
        """The upload's messages from number ``position`` on."""
        with self._lock:
            stream = self._open.get(str(job.pk))
        if stream is None or stream.position != position:
            self.drop(str(job.pk))
            stream = self._opened(job)
            stream.position = position
        if stream.items is None:
            stream.items = history.iter_candidates(history.open_history(stream.path))
            next(itertools.islice(stream.items, position, position), None)  # skip what earlier turns imported
        return stream.items

    def moved(self, job: ImportJob, position: int) -> None:
        with self._lock:
            stream = self._open.get(str(job.pk))
            if stream is not None:
                stream.position = position

    def drop(self, job_id: str) -> None:
        with self._lock:
            stream = self._open.pop(job_id, None)
        if stream is not None:
            stream.close()

    def _opened(self, job: ImportJob) -> _Stream:
        stream = _Stream(directory=tempfile.TemporaryDirectory(prefix="import-"))
        _write_parts(job, stream.path)
        with self._lock:
            self._open[str(job.pk)] = stream
            evicted = [self._open.pop(key) for key in list(self._open)[: max(0, len(self._open) - self.KEEP)]]
        for old in evicted:
            old.close()
        return stream


_streams = _Streams()


# This import's next turn, and the bulk turns that run before it: other people's imports (and re-embedding)
# running, or waiting with a higher priority or queued earlier, as procrastinate's fetch orders them.
_AHEAD_SQL = """
WITH mine AS (
    SELECT id, priority, status FROM procrastinate_jobs
    WHERE task_name = %(task)s AND status IN ('todo', 'doing') AND args->>'job_id' = %(job)s
    ORDER BY id LIMIT 1
)
SELECT mine.status, (
    SELECT count(*) FROM procrastinate_jobs j
    WHERE j.queue_name = %(queue)s AND j.id <> mine.id AND (j.args->>'job_id') IS DISTINCT FROM %(job)s
      AND (j.status = 'doing' OR (j.status = 'todo' AND (j.priority > mine.priority
           OR (j.priority = mine.priority AND j.id < mine.id))))
)
FROM mine
"""


def import_place_in_line(*, job: ImportJob) -> int | None:
    """How many bulk turns of other work run before this import's next turn (0: it runs now or next); None when
    it has no turn queued (ended)."""
    with connection.cursor() as cursor:
        cursor.execute(_AHEAD_SQL, {"task": IMPORT_TASK, "job": str(job.pk), "queue": IMPORT_QUEUE})
        row = cursor.fetchone()
    if row is None:
        return None
    status, ahead = row
    return 0 if status == "doing" else int(ahead)


def _write_parts(job: ImportJob, path: Path) -> None:
    with path.open("wb") as out:
        _upload_parts().copy_to(job.pk, out, person_id=job.user_id)


def _record(job: ImportJob, report: ImportReport) -> None:
    ImportJob.objects.filter(user_id=job.user_id, pk=job.pk).update(
        done=report.done,
        imported=report.imported,
        duplicates=report.duplicates,
        skipped=report.skipped - report.duplicates,
        failed=report.failed,
        errors=[p for p in report.problems if p["status"] == "failed"][:MAX_REPORTED_PROBLEMS],
    )


def _finish(job: ImportJob, status: ImportStatus, errors: list[dict[str, str]] | None = None) -> ImportStatus:
    _streams.drop(str(job.pk))
    with transaction.atomic():
        fields: dict[str, Any] = {"status": status, "finished_at": timezone.now()}
        if errors is not None:
            fields["errors"] = errors
        ImportJob.objects.filter(user_id=job.user_id, pk=job.pk).update(**fields)
        _upload_parts().delete([job.pk], person_id=job.user_id)  # the file is not kept once imported
    logger.info("import %s: %s", job.pk, status)
    return status
