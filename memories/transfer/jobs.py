"""Every import, whatever door it came in by, recorded as an ImportJob and read by the one reader (history).

``import_job_create`` (the API's body or file, /app/'s form) checks the file's size and recognises it (open_history
reads its first bytes: not JSON, an unknown shape, a zip without conversations.json or a zip bomb are refused at
once, and nothing is kept). A small upload is then read whole (count_candidates) and imported within the request;
a larger one is stored in ImportUploadPart rows, with the ImportJob and the queue's job, in one transaction.
``import_job_here`` (``manage.py import_memories``) imports a file on disk in its own process.
``import_job_run`` (the worker) writes the parts back to a temporary file, counts and validates every message in a
first pass (a file broken half-way fails the job before anything is stored), then stores and embeds them batch by
batch, moving the job's counts after each batch. Re-importing stores nothing new: every message is deduplicated
on the person's content hash, so a job retried after a crash continues where it stopped.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from procrastinate.contrib.django import app

from accounts.models import User
from core.exceptions import InvalidInput, NotFound, TooLarge
from memories.models import ImportJob, ImportStatus, ImportUploadPart
from memories.transfer import history
from memories.transfer.importers import MAX_REPORTED_PROBLEMS, ImportReport, import_candidates

logger = logging.getLogger(__name__)

IMPORT_TASK = "memories.import_history"
IMPORT_QUEUE = "imports"
# Slices of the upload in the database (bytea values stay far below PostgreSQL's 1 GB cap).
UPLOAD_PART_BYTES = 8 * 1024 * 1024


def file_too_big_message() -> str:
    return (
        f"File too large: the limit is {settings.MEMORY_IMPORT_MAX_FILE_BYTES} bytes (MEMORY_IMPORT_MAX_FILE_BYTES). "
        "Split the export and upload the parts one after another."
    )


def import_job_create(*, user: User, upload: UploadedFile) -> ImportJob:
    """Every door's way in (the API's body or file, /app/'s form): ``import_job_start`` on the upload, on disk."""
    if upload.size is not None and upload.size > settings.MEMORY_IMPORT_MAX_FILE_BYTES:
        raise TooLarge(file_too_big_message())
    with _on_disk(upload) as path:
        return import_job_start(user=user, path=path, filename=upload.name or "")


def import_job_start(*, user: User, path: Path, filename: str) -> ImportJob:
    """Check and recognise the upload at ``path`` with the one reader, then import it: within this call when it is
    small (at most MEMORY_IMPORT_MAX_BYTES and MEMORY_IMPORT_MAX_ITEMS memories; the job is returned done), else
    kept in the database and queued for the worker (the job is returned queued). Either way the ImportJob holds the
    result. Raises InvalidInput / TooLarge for a bad file, and then nothing is kept."""
    size = path.stat().st_size
    if size > settings.MEMORY_IMPORT_MAX_FILE_BYTES:
        raise TooLarge(file_too_big_message())
    found = history.open_history(path)
    if size <= settings.MEMORY_IMPORT_MAX_BYTES:
        total = history.count_candidates(found)  # the whole file is read: a broken one is refused here
        if total <= settings.MEMORY_IMPORT_MAX_ITEMS:
            job = _started(user=user, found=found, filename=filename, size=size, total=total)
            _import(job, found, embed_now=settings.MEMORY_EMBED_INLINE)
            return job
    with transaction.atomic():
        job = ImportJob.objects.create(user=user, format=found.format, filename=filename[:255], size=size)
        with path.open("rb") as file:
            _store_parts(job, file)
        app.configure_task(IMPORT_TASK, queue=IMPORT_QUEUE).defer(job_id=str(job.pk))
    return job


def import_job_here(*, user: User, path: Path, progress: Callable[[int, int], None] | None = None) -> ImportJob:
    """``manage.py import_memories``: the file streamed from disk and imported in this process, embedded as it goes,
    without the request's caps; ``progress(done, total)`` after every batch."""
    found = history.open_history(path)
    total = history.count_candidates(found)
    job = _started(user=user, found=found, filename=path.name, size=path.stat().st_size, total=total)
    _import(job, found, embed_now=True, progress=progress)
    return job


def _started(*, user: User, found: history.HistoryFile, filename: str, size: int, total: int) -> ImportJob:
    return ImportJob.objects.create(
        user=user,
        format=found.format,
        filename=filename[:255],
        size=size,
        total=total,
        status=ImportStatus.RUNNING,
        started_at=timezone.now(),
    )


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


def _store_parts(job: ImportJob, file: IO[bytes]) -> None:
    position = 0
    while data := file.read(UPLOAD_PART_BYTES):
        ImportUploadPart.objects.create(job=job, position=position, data=data)
        position += 1


def import_job_of(*, user: User, job_id: Any) -> ImportJob:
    """The person's own job; another person's id, or none, is NotFound alike."""
    try:
        return ImportJob.objects.get(pk=job_id, user=user)
    except (ImportJob.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
        raise NotFound("No such import") from exc


def import_jobs_recent(*, user: User, limit: int = 5) -> list[ImportJob]:
    """The person's latest imports, newest first (the /app/ page lists their progress)."""
    return list(ImportJob.objects.filter(user=user).order_by("-created_at")[:limit])


def import_job_run(job_id: str) -> ImportStatus:
    """The worker's side: import the job's file, unless it already ended; returns the job's final status."""
    job = ImportJob.objects.select_related("user").filter(pk=job_id).first()
    if job is None:  # deleted with its person meanwhile
        return ImportStatus.FAILED
    if job.status in (ImportStatus.DONE, ImportStatus.FAILED):
        return ImportStatus(job.status)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, started_at=timezone.now())
    with tempfile.TemporaryDirectory(prefix="import-") as directory:
        path = Path(directory) / "upload"
        _write_parts(job, path)
        try:
            found = history.open_history(path)
            total = history.count_candidates(found)
        except (InvalidInput, TooLarge) as exc:
            return _finish(job, ImportStatus.FAILED, errors=[{"item": "file", "status": "failed", "reason": str(exc)}])
        ImportJob.objects.filter(pk=job.pk).update(total=total)
        job.total = total
        return _import(job, found, embed_now=True)  # "done" means every message is searchable by meaning too


def _import(
    job: ImportJob,
    found: history.HistoryFile,
    *,
    embed_now: bool,
    progress: Callable[[int, int], None] | None = None,
) -> ImportStatus:
    """Store (and with ``embed_now`` embed) every memory of ``found`` into ``job``'s counts, batch by batch."""
    report = ImportReport(format=found.format)

    def after_batch(r: ImportReport) -> None:
        _record(job, r)
        if progress is not None:
            progress(r.done, job.total)

    try:
        import_candidates(
            user=job.user,
            found=history.iter_candidates(found),
            report=report,
            embed_now=embed_now,
            progress=after_batch,
        )
    except Exception as exc:
        _finish(job, ImportStatus.FAILED, errors=[{"item": "file", "status": "failed", "reason": str(exc)}])
        raise
    status = _finish(job, ImportStatus.DONE)
    job.refresh_from_db()
    return status


def _write_parts(job: ImportJob, path: Path) -> None:
    with path.open("wb") as out:
        for part_id in ImportUploadPart.objects.filter(job=job).order_by("position").values_list("pk", flat=True):
            data = ImportUploadPart.objects.filter(pk=part_id).values_list("data", flat=True).get()
            out.write(bytes(data))


def _record(job: ImportJob, report: ImportReport) -> None:
    ImportJob.objects.filter(pk=job.pk).update(
        done=report.done,
        imported=report.imported,
        duplicates=report.duplicates,
        skipped=report.skipped - report.duplicates,
        failed=report.failed,
        errors=[p for p in report.problems if p["status"] == "failed"][:MAX_REPORTED_PROBLEMS],
    )


def _finish(job: ImportJob, status: ImportStatus, errors: list[dict[str, str]] | None = None) -> ImportStatus:
    with transaction.atomic():
        fields: dict[str, Any] = {"status": status, "finished_at": timezone.now()}
        if errors is not None:
            fields["errors"] = errors
        ImportJob.objects.filter(pk=job.pk).update(**fields)
        ImportUploadPart.objects.filter(job=job).delete()  # the file is not kept once imported
    logger.info("import %s: %s", job.pk, status)
    return status
