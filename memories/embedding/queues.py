"""The task queue's layout (docs/queue.md): a live lane for saves, a bulk lane for imports and re-embedding.

procrastinate's worker takes the waiting job of highest priority first (then the oldest), whatever its queue; the
queue names are for people (the worker's ``--queues``, /ready, the staff dashboard). Every bulk job carries the same
``lock``, so at most one bulk job runs at a time across all workers: a worker with concurrency 2 always keeps a
slot for live work, and a save's embedding never waits behind an import, only beside it.

Bulk jobs are short turns (one slice of an import, one batch of a re-embedding) that queue their next turn at the
back of the bulk lane, so two people's imports take turns instead of one waiting for the other to end.
"""

from __future__ import annotations

from typing import Any

from procrastinate.contrib.django import app

LIVE_QUEUE = "live"  # a save's embedding: someone is about to search for it
BULK_QUEUE = "bulk"  # imports, re-embedding: large, and nobody waits on one batch of them
MAINTENANCE_QUEUE = "maintenance"  # the periodic clean-ups (tiny)

LIVE_PRIORITY = 100
MAINTENANCE_PRIORITY = 50
IMPORT_PRIORITY = 0
REEMBED_PRIORITY = -10  # an operator's background run goes after people's imports

BULK_LOCK = "bulk"  # one bulk job at a time: the other worker slot stays free for live work

# Queues the worker listens to, in the order of their priorities (the Procfile and render.yaml pass them).
WORKER_QUEUES = (LIVE_QUEUE, MAINTENANCE_QUEUE, BULK_QUEUE)


def live_deferred(task_name: str, **kwargs: Any) -> int:
    """Queue a live job in the caller's transaction; its id."""
    return int(app.configure_task(task_name, queue=LIVE_QUEUE, priority=LIVE_PRIORITY).defer(**kwargs))


def bulk_deferred(task_name: str, *, priority: int, **kwargs: Any) -> int:
    """Queue a bulk turn at the back of the bulk lane, in the caller's transaction; its id."""
    return int(app.configure_task(task_name, queue=BULK_QUEUE, priority=priority, lock=BULK_LOCK).defer(**kwargs))
