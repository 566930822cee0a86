"""The staff dashboard (HTML): KPI cards and server-side SVG charts, every figure read from the database."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from core.db_routing import replica_read
from dashboard import charts, selectors
from extension_api.selectors import adapter_sources

CHART_DAYS = 30
TOP_ENDPOINTS = 6


def staff_dashboard(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not request.user.is_staff:
        return render(request, "dashboard/forbidden.html", status=403)
    # Aggregates over everyone: on the replica unless this staff member just changed something themselves.
    return render(request, "dashboard/index.html", replica_read(request.user.pk, dashboard_context))


def dashboard_context() -> dict[str, object]:
    stats = selectors.dashboard_stats()
    per_day = selectors.memories_per_day(days=CHART_DAYS)
    days = [day for day, _ in per_day]
    _, calls = selectors.calls_per_day_by_endpoint(days=CHART_DAYS)
    calls = _top_series(calls, TOP_ENDPOINTS)
    latency = selectors.latency_per_day(days=CHART_DAYS)
    return {
        "stats": stats,
        "days": CHART_DAYS,
        "memories_chart": charts.stacked_bars(
            "memories-per-day", "Memories per day", days, {"memories": [n for _, n in per_day]}
        ),
        "memories_total_period": sum(n for _, n in per_day),
        "calls_chart": charts.stacked_bars("calls-per-day", "API calls per day by endpoint", days, calls),
        "calls_legend": charts.legend(list(calls)),
        "latency_chart": charts.lines(
            "latency-per-day",
            "Latency per day (ms)",
            days,
            {"p50": [p50 for _, p50, _ in latency], "p95": [p95 for _, _, p95 in latency]},
            unit="",
        ),
        "latency_legend": charts.legend(["p50", "p95"]),
        "provider_chart": charts.horizontal_bars(
            "provider-mix", "Memories by provider", stats["memories_per_provider"]
        ),
        "tier_chart": charts.horizontal_bars("tier-mix", "Users by tier", stats["users_per_tier"]),
        "top_users": selectors.top_users_by_memories(limit=10),
        "capture_rows": capture_rows(stats["capture_health"], adapter_sources()),
        "capture_min_rate": _percent(settings.EXTENSION_HEALTH_MIN_RATE),
        "capture_max_drop": round(settings.EXTENSION_HEALTH_MAX_DROP * 100),
        "capture_min_prompts": settings.EXTENSION_HEALTH_MIN_PROMPTS,
        "capture_recent_hours": settings.EXTENSION_HEALTH_RECENT_HOURS,
    }


def capture_rows(health: list[dict[str, Any]], sources: dict[str, str]) -> list[dict[str, Any]]:
    """The capture-health table: a row per site (with where its adapter comes from), then one per layout. Sites
    with an adapter but no reports are listed too, so a silent site is seen."""
    rows: list[dict[str, Any]] = []
    by_site = {entry["site"]: entry for entry in health}
    for site in sorted(set(by_site) | set(sources)):
        entry = by_site.get(site)
        if entry is None:
            rows.append({"kind": "site", "name": site, "source": sources.get(site, ""), "empty": True})
            continue
        rows.append({"kind": "site", "name": site, "source": sources.get(site, "none"), **_figures(entry)})
        rows += [
            {"kind": "layout", "site": site, "name": layout["layout"], **_figures(layout)}
            for layout in entry["layouts"]
        ]
    return rows


def _figures(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "day": entry["last_24h"],
        "week": entry["last_7d"],
        "day_rate": _percent(entry["last_24h"]["capture_rate"]),
        "week_rate": _percent(entry["last_7d"]["capture_rate"]),
        "flagged": entry["flagged"],
        "flag_reason": entry["flag_reason"],
    }


def _percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.0%}"


def _top_series(series: dict[str, list[int]], keep: int) -> dict[str, list[int]]:
    """The ``keep`` busiest endpoints, the rest summed as 'other' (a chart with 20 colours reads as noise)."""
    names = list(series)
    top = {name: series[name] for name in names[:keep]}
    rest = names[keep:]
    if rest:
        top["other"] = [sum(series[name][i] for name in rest) for i in range(len(series[rest[0]]))]
    return top
