"""The queue's jobs (procrastinate, on our PostgreSQL; discovered by procrastinate.contrib.django).

``embed_pending`` is deferred by every save in the transaction that stores the chunks, so a stored memory always
has its job and a failed defer stores nothing. ``retry_stalled`` runs every minute and puts back to the queue the
jobs of a worker that stopped sending heartbeats (killed with SIGKILL, machine lost).
"""

from __future__ import annotations

import logging
from uuid import UUID

from django.conf import settings
from procrastinate import JobContext, RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.manager import JobManager

from memories.embedding import pending
from memories.search import indexing
from memories.transfer import jobs

logger = logging.getLogger(__name__)

MAINTENANCE_QUEUE = "maintenance"


@app.task(name=pending.EMBED_TASK, queue=pending.EMBED_QUEUE, retry=RetryStrategy(max_attempts=10, exponential_wait=2))
def embed_pending() -> int:
    """Embed every chunk waiting for a vector, in batches across saves; returns how many were written."""
    report = pending.chunks_embed_pending()
    if report.chunks:
        logger.info("embedded %s chunks in %s model calls", report.chunks, report.batches)
    return report.chunks


@app.task(name="memories.reembed", queue=pending.EMBED_QUEUE)
def reembed(batch_size: int, user_id: str | None, restart: bool) -> int:
    """``manage.py reembed --queue``: every stored chunk embedded again, resumable like the command itself."""
    return indexing.chunks_reembed(
        batch_size=batch_size, user_id=UUID(user_id) if user_id else None, restart=restart
    ).chunks


@app.task(name=jobs.IMPORT_TASK, queue=jobs.IMPORT_QUEUE)
def import_history(job_id: str) -> str:
    """Import an uploaded chat history (memories.transfer.jobs); its progress is on the ImportJob row."""
    return str(jobs.import_job_run(job_id))


@app.periodic(cron="* * * * *", periodic_id="retry-stalled")
@app.task(name="memories.retry_stalled", queue=MAINTENANCE_QUEUE, pass_context=True)
async def retry_stalled(context: JobContext, timestamp: int) -> int:
    """Retry the jobs of workers silent for QUEUE_STALLED_SECONDS (their heartbeat stopped)."""
    return await stalled_jobs_retried(context.app.job_manager, seconds=settings.QUEUE_STALLED_SECONDS)


async def stalled_jobs_retried(manager: JobManager, *, seconds: float) -> int:
    """Put back to the queue the running jobs of workers without a heartbeat for ``seconds``; how many."""
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=seconds))
    for job in stalled:
        logger.warning("retrying job %s (%s): its worker stopped", job.id, job.task_name)
        await manager.retry_job(job)
    return len(stalled)


@app.periodic(cron="17 * * * *", periodic_id="remove-old-jobs")
@app.task(name="memories.remove_old_jobs", queue=MAINTENANCE_QUEUE, pass_context=True)
async def remove_old_jobs(context: JobContext, timestamp: int) -> None:
    """Every hour: forget the jobs that succeeded more than QUEUE_KEEP_SUCCEEDED_HOURS ago (one per save)."""
    await context.app.job_manager.delete_old_jobs(nb_hours=settings.QUEUE_KEEP_SUCCEEDED_HOURS)
