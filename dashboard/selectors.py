"""Reads for the staff dashboard, the admin API and readiness. Every figure is computed from the database."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from accounts.models import DailyUsage, Tier, User
from core.dates import utc_today
from dashboard.models import LATENCY_BUCKETS_MS, RequestMetric, StatusClass, UserActivity
from extension_api.selectors import capture_health
from memories.embedding import embeddings
from memories.models import Memory
from memories.search.search_index import index_status
from memories.selectors import queue_status

# --- Search index -------------------------------------------------------------------------------------------


def search_index_status() -> dict[str, Any]:
    """The search engine's state (memories.search.search_index.index_status): backend, state ok/missing/corrupt/stale,
    which engine serves /context now, indexed vs stored rows. With pgvector the chunks table is the index."""
    return dict(index_status())


def _index_in_sync(status: dict[str, Any]) -> bool:
    return status.get("state") == "ok"


# --- Request metrics ------------------------------------------------------------------------------------------


def percentile(buckets: list[int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of a latency histogram, interpolated linearly inside its bucket; None if empty.

    Requests slower than the last bound are reported as that bound (the histogram knows no more).
    """
    total = sum(buckets)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    lower = 0.0
    for index, count in enumerate(buckets):
        upper = float(LATENCY_BUCKETS_MS[index]) if index < len(LATENCY_BUCKETS_MS) else None
        if count and seen + count >= rank:
            if upper is None:
                return lower
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
        lower = upper if upper is not None else lower
    return lower


def _sum_buckets(rows: list[list[int]]) -> list[int]:
    total = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    for row in rows:
        for index, value in enumerate(row):
            total[index] += value
    return total


def _hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class RecentTraffic:
    """API traffic of the current and the previous clock hour (aggregates are hourly: a 60-120 minute window)."""

    since: datetime
    requests: int
    server_errors: int
    p95_ms: float | None

    @property
    def error_rate(self) -> float:
        return self.server_errors / self.requests if self.requests else 0.0


def recent_traffic(*, now: datetime | None = None) -> RecentTraffic:
    since = _hour_floor(now or timezone.now()) - timedelta(hours=1)
    rows = list(RequestMetric.objects.filter(hour__gte=since).values_list("status_class", "count", "latency_buckets"))
    return RecentTraffic(
        since=since,
        requests=sum(count for _, count, _ in rows),
        server_errors=sum(count for status, count, _ in rows if status == StatusClass.SERVER_ERROR),
        p95_ms=percentile(_sum_buckets([buckets for _, _, buckets in rows]), 0.95),
    )


# --- Health ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    weight: int
    detail: str
    skipped: bool = False


def database_reachable() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return Check("database", False, 30, f"unreachable ({exc.__class__.__name__})")
    return Check("database", True, 30, "SELECT 1 answered")


def model_loaded() -> Check:
    if embeddings.is_loaded():
        return Check("embedding_model", True, 20, "loaded in this process")
    return Check("embedding_model", False, 20, "not loaded in this process yet")


def search_index_in_sync(status: dict[str, Any]) -> Check:
    if status.get("backend") == "pgvector":
        return Check("search_index", True, 20, "pgvector: the chunks table is the index", skipped=True)
    ok = _index_in_sync(status)
    return Check("search_index", ok, 20, "in sync with the chunk count" if ok else "out of sync with the chunks")


def error_rate_ok(traffic: RecentTraffic) -> Check:
    limit = settings.HEALTH_MAX_ERROR_RATE
    detail = f"{traffic.server_errors} of {traffic.requests} requests answered 5xx (limit {limit:.0%})"
    return Check("error_rate", traffic.error_rate <= limit, 15, detail)


def latency_ok(traffic: RecentTraffic) -> Check:
    limit = settings.HEALTH_MAX_P95_MS
    if traffic.p95_ms is None:
        return Check("p95_latency", True, 15, "no requests in the window")
    return Check("p95_latency", traffic.p95_ms <= limit, 15, f"p95 {traffic.p95_ms:.0f} ms (limit {limit} ms)")


def health_checks(*, index_status: dict[str, Any] | None = None) -> list[Check]:
    database = database_reachable()
    if not database.ok:  # nothing else can be read
        return [database, model_loaded()]
    traffic = recent_traffic()
    status = index_status if index_status is not None else search_index_status()
    return [database, model_loaded(), search_index_in_sync(status), error_rate_ok(traffic), latency_ok(traffic)]


def health_score(checks: list[Check]) -> int:
    """0-100: the weights of the passing checks over the weights of the checks that apply (skipped ones don't)."""
    applicable = [c for c in checks if not c.skipped]
    total = sum(c.weight for c in applicable)
    return round(100 * sum(c.weight for c in applicable if c.ok) / total) if total else 0


# --- Figures --------------------------------------------------------------------------------------------------


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def usage_today() -> dict[str, Any]:
    day = utc_today()
    calls = RequestMetric.objects.filter(hour__gte=_day_start(day), hour__lt=_day_start(day + timedelta(days=1)))
    totals = calls.aggregate(all=Sum("count"), limited=Sum("count", filter=Q(status_class=StatusClass.RATE_LIMITED)))
    return {
        "day": day.isoformat(),
        "api_calls_today": totals["all"] or 0,
        "memories_stored_today": Memory.objects.filter(created_at__gte=_day_start(day)).count(),
        "active_users_today": UserActivity.objects.filter(day=day).count(),
        "rate_limited_today": totals["limited"] or 0,
    }


def users_per_tier() -> dict[str, int]:
    counts = dict(User.objects.values_list("tier").annotate(n=Count("id")).values_list("tier", "n"))
    return {tier: counts.get(tier, 0) for tier in Tier.values} | {
        t: n for t, n in counts.items() if t not in Tier.values
    }


def memories_per_provider() -> dict[str, int]:
    rows = Memory.objects.values_list("provider").annotate(n=Count("id")).order_by("-n", "provider")
    return dict(rows.values_list("provider", "n"))


def dashboard_stats() -> dict[str, Any]:
    """The body of GET /admin/dashboard (the ``system`` block plus everything else)."""
    index_status = search_index_status()
    checks = health_checks(index_status=index_status)
    score = health_score(checks)
    return {
        "system": {
            "total_users": User.objects.count(),
            "total_memories": Memory.objects.count(),
            "health_score": score,
        },
        "health": {"score": score, "checks": [asdict(c) for c in checks]},
        "usage": usage_today(),
        "users_per_tier": users_per_tier(),
        "memories_per_provider": memories_per_provider(),
        "search_index": index_status,
        "queue": queue_status(),
        # The browser extension's answer-capture rate per site and layout (flagged when it drops).
        "capture_health": capture_health(),
        "timestamp": timezone.now(),
    }


# --- Series for the staff dashboard's charts ------------------------------------------------------------------


def last_days(days: int, *, today: date | None = None) -> list[date]:
    end = today or utc_today()
    return [end - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def memories_per_day(*, days: int = 30) -> list[tuple[date, int]]:
    span = last_days(days)
    rows = (
        Memory.objects.filter(created_at__gte=_day_start(span[0]))
        .values_list("created_at__date")
        .annotate(n=Count("id"))
        .values_list("created_at__date", "n")
    )
    counts = dict(rows)
    return [(day, counts.get(day, 0)) for day in span]


def calls_per_day_by_endpoint(*, days: int = 30) -> tuple[list[date], dict[str, list[int]]]:
    span = last_days(days)
    rows = (
        RequestMetric.objects.filter(hour__gte=_day_start(span[0]))
        .values_list("hour__date", "endpoint")
        .annotate(n=Sum("count"))
        .values_list("hour__date", "endpoint", "n")
    )
    series: dict[str, list[int]] = {}
    position = {day: i for i, day in enumerate(span)}
    for day, endpoint, n in rows:
        if day in position:
            series.setdefault(endpoint, [0] * len(span))[position[day]] += n
    ordered = dict(sorted(series.items(), key=lambda item: -sum(item[1])))
    return span, ordered


def latency_per_day(*, days: int = 30) -> list[tuple[date, float | None, float | None]]:
    """p50 and p95 per UTC day, from the summed histograms of every endpoint (None on a day without traffic)."""
    span = last_days(days)
    table = connection.ops.quote_name(RequestMetric._meta.db_table)
    sql = (
        f"SELECT (m.hour AT TIME ZONE 'UTC')::date, b.i, SUM(b.v) FROM {table} m "  # noqa: S608
        "CROSS JOIN LATERAL unnest(m.latency_buckets) WITH ORDINALITY AS b(v, i) "
        "WHERE m.hour >= %s GROUP BY 1, 2"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [_day_start(span[0])])
        rows = cursor.fetchall()
    histograms: dict[date, list[int]] = {}
    for day, index, value in rows:
        histograms.setdefault(day, [0] * (len(LATENCY_BUCKETS_MS) + 1))[index - 1] = int(value)
    empty: list[int] = []
    return [
        (day, percentile(histograms.get(day, empty), 0.5), percentile(histograms.get(day, empty), 0.95)) for day in span
    ]


def top_users_by_memories(*, limit: int = 10) -> list[dict[str, Any]]:
    rows = (
        User.objects.annotate(memory_count=Count("memories"))
        .filter(memory_count__gt=0)
        .order_by("-memory_count", "username")
        .values("id", "username", "tier", "memory_count")[:limit]
    )
    return list(rows)


def user_last_active(*, user_ids: list[Any]) -> dict[Any, datetime]:
    rows = UserActivity.objects.filter(user_id__in=user_ids).values("user_id").annotate(last=Max("last_seen"))
    return {row["user_id"]: row["last"] for row in rows}


def user_usage_today(*, user_ids: list[Any]) -> dict[Any, int]:
    rows = DailyUsage.objects.filter(user_id__in=user_ids, day=utc_today()).values_list("user_id", "count")
    return dict(rows)
