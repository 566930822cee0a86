"""The queue's jobs (procrastinate, on our PostgreSQL; discovered by procrastinate.contrib.django).

``embed_pending`` is deferred by every save in the transaction that stores the chunks, so a stored memory always
has its job and a failed defer stores nothing. ``retry_stalled`` runs every minute and puts back to the queue the
jobs of a worker that stopped sending heartbeats (killed with SIGKILL, machine lost); hourly jobs forget old jobs and
expired sign-ins (OAuth codes and tokens, sessions).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from procrastinate import JobContext, RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.manager import JobManager

from accounts import services as account_services
from memories import supersession
from memories.embedding import pending, queues
from memories.search import indexing
from memories.transfer import jobs

logger = logging.getLogger(__name__)

MAINTENANCE_QUEUE = queues.MAINTENANCE_QUEUE
REEMBED_TASK = "memories.reembed"


@app.task(
    name=pending.EMBED_TASK,
    queue=queues.LIVE_QUEUE,
    priority=queues.LIVE_PRIORITY,
    retry=RetryStrategy(max_attempts=10, exponential_wait=2),
)
def embed_pending() -> int:
    """Embed every chunk waiting for a vector, in batches across saves; returns how many were written."""
    report = pending.chunks_embed_pending()
    # After the vectors are committed: the links read them, and a failed link never loses them.
    supersession.supersessions_detect(memory_ids=report.memory_ids)
    if report.chunks:
        logger.info("embedded %s chunks in %s model calls", report.chunks, report.batches)
    return report.chunks


@app.task(name=REEMBED_TASK, queue=queues.BULK_QUEUE, priority=queues.REEMBED_PRIORITY, lock=queues.BULK_LOCK)
def reembed(batch_size: int, user_id: str | None, restart: bool, after: int | None = None) -> int:
    """``manage.py reembed --queue``: one batch of the run per turn, then its next turn at the back of the bulk lane
    (behind people's imports). The first turn (``after`` None) starts or resumes the run; a later turn carries the
    last chunk id it expects, so a turn that already ran does nothing when its job runs again."""
    if after is None:
        after = indexing.reembed_started(user_id=user_id, restart=restart).last_chunk_id
    with transaction.atomic():
        written = indexing.reembed_step(user_id=user_id, batch_size=batch_size, after=after)
        if written:
            run = indexing.reembed_run(user_id=user_id)
            assert run is not None  # reembed_step has just moved it
            queues.bulk_deferred(
                REEMBED_TASK,
                priority=queues.REEMBED_PRIORITY,
                batch_size=batch_size,
                user_id=user_id,
                restart=False,
                after=run.last_chunk_id,
            )
    return written or 0


@app.task(name=jobs.IMPORT_TASK, queue=queues.BULK_QUEUE, priority=queues.IMPORT_PRIORITY, lock=queues.BULK_LOCK)
def import_history(job_id: str, position: int = 0, user_id: str | None = None) -> str:
    """One turn of an uploaded chat history's import (memories.transfer.jobs); progress is on the ImportJob row.
    ``user_id`` (the job's owner; absent from turns queued before it was passed) keeps the turn on one person."""
    return str(jobs.import_job_run(job_id, position, user_id=user_id))


@app.periodic(cron="* * * * *", periodic_id="retry-stalled")
@app.task(
    name="memories.retry_stalled", queue=MAINTENANCE_QUEUE, priority=queues.MAINTENANCE_PRIORITY, pass_context=True
)
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
@app.task(
    name="memories.remove_old_jobs", queue=MAINTENANCE_QUEUE, priority=queues.MAINTENANCE_PRIORITY, pass_context=True
)
async def remove_old_jobs(context: JobContext, timestamp: int) -> None:
    """Every hour: forget the jobs that succeeded more than QUEUE_KEEP_SUCCEEDED_HOURS ago (one per save)."""
    await context.app.job_manager.delete_old_jobs(nb_hours=settings.QUEUE_KEEP_SUCCEEDED_HOURS)


@app.periodic(cron="41 * * * *", periodic_id="sweep-expired-sign-ins")
@app.task(name="accounts.sweep_expired", queue=MAINTENANCE_QUEUE, priority=queues.MAINTENANCE_PRIORITY)
def sweep_expired_sign_ins(timestamp: int) -> int:
    """Every hour: forget expired OAuth codes and tokens, expired sessions and their "signed in" rows."""
    return account_services.expired_sign_ins_swept().web_sessions
