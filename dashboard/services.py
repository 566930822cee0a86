"""Writes: counting requests into the metrics aggregates (buffered per process), and pruning old aggregates."""

from __future__ import annotations

import bisect
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from dashboard.models import BUCKET_COUNT, LATENCY_BUCKETS_MS, RequestMetric, StatusClass, UserActivity
from extension_api.services import capture_health_prune


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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The URL name of GET /context/{user_id} (memories.urls), at the root and under /api/v1/ alike.
CONTEXT_ENDPOINT = "context"
MetricKey = tuple[datetime, str, str, str]  # (hour, endpoint, method, status class)


@dataclass
class _Counts:
    count: int = 0
    total_ms: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * BUCKET_COUNT)


@dataclass
class _Seen:
    requests: int = 0
    context_calls: int = 0
    last_seen: datetime = _EPOCH


class MetricsBuffer:
    """Requests counted in this process's memory and written in one statement every METRICS_FLUSH_SECONDS.

    Counting used to cost every API request one more round trip to PostgreSQL; now a request adds to a dict
    under a lock, and the request that finds the buffer due (older than METRICS_FLUSH_SECONDS, or holding
    METRICS_FLUSH_MAX_KEYS keys) writes it all at once. The buffer is also written when the process exits
    (gunicorn's worker_exit hook, atexit). The dashboard shows at most that many seconds less per process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: dict[MetricKey, _Counts] = {}
        self._activity: dict[tuple[date, uuid.UUID], _Seen] = {}
        self._since = time.monotonic()

    def add(
        self,
        *,
        endpoint: str,
        method: str,
        status: int,
        latency_ms: float,
        user_id: uuid.UUID | None,
        at: datetime | None = None,
    ) -> None:
        at = (at or timezone.now()).astimezone(UTC)
        key = (at.replace(minute=0, second=0, microsecond=0), endpoint[:100], method[:10], status_class(status))
        with self._lock:
            counts = self._metrics.setdefault(key, _Counts())
            counts.count += 1
            counts.total_ms += latency_ms
            counts.buckets[bucket_index(latency_ms)] += 1
            if user_id is not None:
                seen = self._activity.setdefault((at.date(), user_id), _Seen())
                seen.requests += 1
                seen.context_calls += endpoint == CONTEXT_ENDPOINT and 200 <= status < 300
                seen.last_seen = max(seen.last_seen, at)

    def due(self) -> bool:
        if not self._metrics:
            return False
        return (
            time.monotonic() - self._since >= settings.METRICS_FLUSH_SECONDS
            or len(self._metrics) + len(self._activity) >= settings.METRICS_FLUSH_MAX_KEYS
        )

    def flush(self) -> None:
        """Write everything counted so far (one statement) and start again; on failure the counts are dropped."""
        with self._lock:
            metrics, activity = self._metrics, self._activity
            self._metrics, self._activity, self._since = {}, {}, time.monotonic()
        if metrics:
            metrics_write(metrics, activity)


buffer = MetricsBuffer()


def request_record(
    *,
    endpoint: str,
    method: str,
    status: int,
    latency_ms: float,
    user_id: uuid.UUID | None,
    at: datetime | None = None,
) -> None:
    """Count one request now (one statement), bypassing the buffer."""
    one = MetricsBuffer()
    one.add(endpoint=endpoint, method=method, status=status, latency_ms=latency_ms, user_id=user_id, at=at)
    one.flush()


def metrics_write(metrics: dict[MetricKey, _Counts], activity: dict[tuple[date, uuid.UUID], _Seen]) -> None:
    """Add counts into the aggregates: one SQL statement (two multi-row upserts joined by a CTE).

    ``INSERT ... ON CONFLICT DO UPDATE`` increments each hour's row in place, atomically under any number of
    concurrent workers; the histograms are added element by element.
    """
    table = connection.ops.quote_name(RequestMetric._meta.db_table)
    rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s::integer[])"] * len(metrics))
    sql = (
        f"INSERT INTO {table} AS m (hour, endpoint, method, status_class, count, total_ms, latency_buckets) "  # noqa: S608
        f"VALUES {rows} "
        "ON CONFLICT (hour, endpoint, method, status_class) DO UPDATE SET count = m.count + EXCLUDED.count, "
        "total_ms = m.total_ms + EXCLUDED.total_ms, latency_buckets = ARRAY(SELECT a + b FROM "
        "unnest(m.latency_buckets, EXCLUDED.latency_buckets) WITH ORDINALITY AS t(a, b, i) ORDER BY i)"
    )
    params: list[Any] = []
    for (hour, endpoint, method, klass), counts in metrics.items():
        params += [hour, endpoint, method, klass, counts.count, counts.total_ms, counts.buckets]
    if activity:
        people = connection.ops.quote_name(UserActivity._meta.db_table)
        users = connection.ops.quote_name(get_user_model()._meta.db_table)
        rows = ", ".join(["(%s::date, %s::uuid, %s::integer, %s::integer, %s::timestamptz)"] * len(activity))
        # Only people who still exist: counts buffered before an account was deleted must neither bring its id
        # back nor fail the whole statement on the foreign key.
        sql = (
            f"WITH metric AS ({sql} RETURNING 1) "  # noqa: S608 (table names from _meta, values are parameters)
            f"INSERT INTO {people} AS a (day, user_id, requests, context_calls, last_seen) "
            f"SELECT v.* FROM (VALUES {rows}) AS v(day, user_id, requests, context_calls, last_seen) "
            f"JOIN {users} AS u ON u.id = v.user_id "
            "ON CONFLICT (day, user_id) DO UPDATE SET requests = a.requests + EXCLUDED.requests, "
            "context_calls = a.context_calls + EXCLUDED.context_calls, "
            "last_seen = GREATEST(a.last_seen, EXCLUDED.last_seen)"
        )
        for (day, user_id), seen in activity.items():
            params += [day, user_id, seen.requests, seen.context_calls, seen.last_seen]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def metrics_prune(*, keep_days: int | None = None, now: datetime | None = None) -> tuple[int, int]:
    """Delete aggregates older than ``keep_days`` (METRICS_RETENTION_DAYS); returns the rows deleted per table.

    The extension's capture-health hours go with them (same retention; the dashboard reads only their last 7 days).
    """
    keep = settings.METRICS_RETENTION_DAYS if keep_days is None else keep_days
    cutoff = (now or timezone.now()).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    cutoff -= timedelta(days=keep)
    with transaction.atomic():
        metrics, _ = RequestMetric.objects.filter(hour__lt=cutoff).delete()
        activity, _ = UserActivity.objects.filter(day__lt=cutoff.date()).delete()
        capture_health_prune(before=cutoff)
    return metrics, activity
