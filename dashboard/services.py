"""Writes: counting a request into the metrics aggregates, and pruning old aggregates."""

from __future__ import annotations

import bisect
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from dashboard.models import BUCKET_COUNT, LATENCY_BUCKETS_MS, RequestMetric, StatusClass, UserActivity


def status_class(status: int) -> str:
    if status == 429:
        return StatusClass.RATE_LIMITED
    if status >= 500:
        return StatusClass.SERVER_ERROR
    if status >= 400:
        return StatusClass.CLIENT_ERROR
    if status >= 300:
        return StatusClass.REDIRECT
    return StatusClass.SUCCESS


def bucket_index(latency_ms: float) -> int:
    """The histogram bucket of ``latency_ms``: the first whose upper bound is >= it (0-based)."""
    return bisect.bisect_left(LATENCY_BUCKETS_MS, latency_ms)


def request_record(
    *,
    endpoint: str,
    method: str,
    status: int,
    latency_ms: float,
    user_id: uuid.UUID | None,
    at: datetime | None = None,
) -> None:
    """Count one request: one SQL statement (two upserts joined by a CTE when a user is known).

    ``INSERT ... ON CONFLICT DO UPDATE`` increments the hour's row in place, atomically under any number of
    concurrent workers; PostgreSQL arrays are 1-based, hence ``index + 1``.
    """
    at = (at or timezone.now()).astimezone(UTC)
    hour = at.replace(minute=0, second=0, microsecond=0)
    index = bucket_index(latency_ms) + 1
    empty = [0] * BUCKET_COUNT
    empty[index - 1] = 1
    metric = connection.ops.quote_name(RequestMetric._meta.db_table)
    sql = (
        f"INSERT INTO {metric} AS m (hour, endpoint, method, status_class, count, total_ms, latency_buckets) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, 1, %s, %s) "
        "ON CONFLICT (hour, endpoint, method, status_class) DO UPDATE SET count = m.count + 1, "
        f"total_ms = m.total_ms + EXCLUDED.total_ms, latency_buckets[{index}] = m.latency_buckets[{index}] + 1"
    )
    params: list[Any] = [hour, endpoint[:100], method[:10], status_class(status), latency_ms, empty]
    if user_id is not None:
        activity = connection.ops.quote_name(UserActivity._meta.db_table)
        sql = (
            f"WITH metric AS ({sql} RETURNING 1) "  # noqa: S608 (table names from _meta, values are parameters)
            f"INSERT INTO {activity} AS a (day, user_id, requests, last_seen) VALUES (%s, %s, 1, %s) "
            "ON CONFLICT (day, user_id) DO UPDATE SET requests = a.requests + 1, "
            "last_seen = GREATEST(a.last_seen, EXCLUDED.last_seen)"
        )
        params += [at.date(), user_id, at]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def metrics_prune(*, keep_days: int | None = None, now: datetime | None = None) -> tuple[int, int]:
    """Delete aggregates older than ``keep_days`` (METRICS_RETENTION_DAYS); returns the rows deleted per table."""
    keep = settings.METRICS_RETENTION_DAYS if keep_days is None else keep_days
    cutoff = (now or timezone.now()).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    cutoff -= timedelta(days=keep)
    with transaction.atomic():
        metrics, _ = RequestMetric.objects.filter(hour__lt=cutoff).delete()
        activity, _ = UserActivity.objects.filter(day__lt=cutoff.date()).delete()
    return metrics, activity
