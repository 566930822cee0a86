"""Writes: operators' adapter overrides (validated, then the served set's cache dropped) and capture-health reports
summed into hourly aggregates."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from accounts.models import User
from core.exceptions import InvalidInput
from extension_api import selectors
from extension_api.adapters import adapter_errors, bundle
from extension_api.models import AdapterOverride, CaptureHealth

# Reports for layouts past EXTENSION_HEALTH_MAX_LAYOUTS in one site's hour are counted under this name.
OTHER_LAYOUT = "other"


def adapter_override_save(*, override: AdapterOverride, user: User | None) -> AdapterOverride:
    """Store an override whose data passes the bundled schema (InvalidInput naming what is wrong, otherwise).

    A new override for a site that has one already replaces it (one override per site).
    """
    problems = adapter_errors(override.data, validator=bundle().validator, site=override.site)
    if problems:
        raise InvalidInput("This adapter cannot be served: " + "; ".join(problems))
    if override.pk is None:
        override.pk = AdapterOverride.objects.filter(site=override.site).values_list("pk", flat=True).first()
    override.updated_by = user
    override.save()
    _served_set_changed()
    return override


def adapter_override_delete(*, override: AdapterOverride) -> None:
    override.delete()
    _served_set_changed()


def _served_set_changed() -> None:
    # After the commit: a request in between would otherwise cache the old set again. With the local-memory cache
    # other processes keep their copy for at most EXTENSION_ADAPTERS_CACHE_SECONDS; a shared (Redis) cache at once.
    transaction.on_commit(lambda: cache.delete(selectors.served_cache_key()))


@dataclass(frozen=True)
class HealthReport:
    site: str
    layout: str
    period_end: datetime
    prompts_seen: int
    answers_captured: int
    answers_missing: int
    fallbacks_used: int


Key = tuple[str, str, datetime]


@transaction.atomic
def health_record(*, reports: list[HealthReport]) -> int:
    """Add reports into their (site, layout, UTC hour of period_end) rows; returns the rows written.

    Nothing about the reporter is stored: no user, no content, no address. A site's hour holds at most
    EXTENSION_HEALTH_MAX_LAYOUTS layout names (about: two first reports racing may both get in); reports for
    further names are counted as "other", so made-up layout names cannot grow the table.
    """
    _commit_without_waiting_for_the_disk()
    totals: dict[Key, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for report in reports:
        hour = report.period_end.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        counts = totals[(report.site, report.layout, hour)]
        for i, value in enumerate(
            (report.prompts_seen, report.answers_captured, report.answers_missing, report.fallbacks_used, 1)
        ):
            counts[i] += value
    totals = _layouts_capped(totals)
    _upsert(totals)
    return len(totals)


def _commit_without_waiting_for_the_disk() -> None:
    # Counts, not records: if the server crashes in the next instant, losing the last reports is acceptable, and
    # not waiting for the WAL flush spares each report most of its time (bench/extension_endpoints.py).
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _layouts_capped(totals: dict[Key, list[int]]) -> dict[Key, list[int]]:
    cap = settings.EXTENSION_HEALTH_MAX_LAYOUTS
    known = _layouts_known({(site, hour) for site, _, hour in totals})
    capped: dict[Key, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for (site, layout, hour), counts in sorted(totals.items()):
        layouts = known[(site, hour)]
        if layout not in layouts and layout != OTHER_LAYOUT:
            if len(layouts - {OTHER_LAYOUT}) >= cap:
                layout = OTHER_LAYOUT
            layouts.add(layout)
        target = capped[(site, layout, hour)]
        for i, value in enumerate(counts):
            target[i] += value
    return capped


def _layouts_known(pairs: set[tuple[str, datetime]]) -> dict[tuple[str, datetime], set[str]]:
    """The layout names already stored for each (site, hour), in one query."""
    known: dict[tuple[str, datetime], set[str]] = defaultdict(set)
    rows = CaptureHealth.objects.filter(site__in={site for site, _ in pairs}, hour__in={hour for _, hour in pairs})
    for site, hour, layout in rows.values_list("site", "hour", "layout"):
        if (site, hour) in pairs:
            known[(site, hour)].add(layout)
    return known


def _upsert(totals: dict[Key, list[int]]) -> None:
    if not totals:
        return
    table = connection.ops.quote_name(CaptureHealth._meta.db_table)
    rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(totals))
    sums = ", ".join(
        f"{name} = h.{name} + EXCLUDED.{name}"
        for name in ("prompts_seen", "answers_captured", "answers_missing", "fallbacks_used", "reports")
    )
    sql = (
        f"INSERT INTO {table} AS h (site, layout, hour, prompts_seen, answers_captured, answers_missing, "  # noqa: S608
        f"fallbacks_used, reports) VALUES {rows} ON CONFLICT (site, layout, hour) DO UPDATE SET {sums}"
    )
    params: list[Any] = []
    for (site, layout, hour), counts in totals.items():
        params += [site, layout, hour, *counts]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def capture_health_prune(*, before: datetime) -> int:
    """Delete capture-health rows of hours before ``before``; returns how many."""
    deleted, _ = CaptureHealth.objects.filter(hour__lt=before).delete()
    return deleted
