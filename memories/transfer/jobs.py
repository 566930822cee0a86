"""Whole chat histories imported in the background: the upload kept in PostgreSQL, the queue's job reading it.

``import_job_create`` (the request) checks the file's size and recognises it (open_history reads its first bytes:
not JSON, an unknown shape, a zip without conversations.json or a zip bomb are refused at once, and nothing is
kept), then stores the file in ImportUploadPart rows, the ImportJob and the queue's job in one transaction.
``import_job_run`` (the worker) writes the parts back to a temporary file, counts and validates every message in a
first pass (a file broken half-way fails the job before anything is stored), then stores and embeds them batch by
batch, moving the job's counts after each batch. Re-importing stores nothing new: every message is deduplicated
on the person's content hash, so a job retried after a crash continues where it stopped.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
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
from memories.parts import BlobParts
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
    """Check and keep an uploaded history and queue its import; raises InvalidInput / TooLarge for a bad file."""
    if upload.size is not None and upload.size > settings.MEMORY_IMPORT_MAX_FILE_BYTES:
        raise TooLarge(file_too_big_message())
    with _on_disk(upload) as path:
        found = history.open_history(path)
        size = path.stat().st_size
        with transaction.atomic():
            job = ImportJob.objects.create(
                user=user, format=found.format, filename=(upload.name or "")[:255], size=size
            )
            with path.open("rb") as file:
                _store_parts(job, file)
            app.configure_task(IMPORT_TASK, queue=IMPORT_QUEUE).defer(job_id=str(job.pk))
    return job


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
    return BlobParts(ImportUploadPart, owner="job", part_bytes=UPLOAD_PART_BYTES)


def _store_parts(job: ImportJob, file: IO[bytes]) -> None:
    _upload_parts().store(job, file)


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
        report = ImportReport(format=found.format)
        import_candidates(
            user=job.user,
            found=history.iter_candidates(found),
            report=report,
            embed_now=True,  # "done" means every message is searchable by meaning too
            progress=lambda r: _record(job, r),
        )
    return _finish(job, ImportStatus.DONE)


def _write_parts(job: ImportJob, path: Path) -> None:
    with path.open("wb") as out:
        _upload_parts().copy_to(job.pk, out)


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
        _upload_parts().delete([job.pk])  # the file is not kept once imported
    logger.info("import %s: %s", job.pk, status)
    return status
