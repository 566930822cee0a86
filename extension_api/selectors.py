"""Reads: the adapter set the server serves, and capture health per site and layout for the staff dashboard."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, Sum
from django.utils import timezone

from extension_api.adapters import SCHEMA_VERSION, adapter_errors, bundle
from extension_api.models import AdapterOverride, CaptureHealth

logger = logging.getLogger(__name__)

CACHE_PREFIX = "extension_api:adapters:"


@dataclass(frozen=True)
class ServedAdapters:
    """The exact bytes of GET /extension/adapters and their strong ETag (a hash of those bytes)."""

    body: bytes
    etag: str


def served_cache_key() -> str:
    # The bundled files' digest is part of the key: a deploy with new files never meets the old set in a shared cache.
    return CACHE_PREFIX + bundle().digest


def adapters_served() -> ServedAdapters:
    """The bundled adapters with every enabled, still-valid override in place of its site's; cached."""
    key = served_cache_key()
    try:
        cached = cache.get(key)
    except Exception:  # a cache outage must not stop the extension from getting its adapters
        logger.exception("cache unavailable; building the adapter set")
        cached = None
    if isinstance(cached, ServedAdapters):
        return cached
    served = _adapters_build()
    try:
        cache.set(key, served, timeout=settings.EXTENSION_ADAPTERS_CACHE_SECONDS)
    except Exception:
        logger.exception("cache unavailable; the adapter set is not cached")
    return served


def _adapters_build() -> ServedAdapters:
    bundled = bundle()
    adapters = dict(bundled.adapters)
    for override in AdapterOverride.objects.filter(enabled=True).order_by("site"):
        problems = adapter_errors(override.data, validator=bundled.validator, site=override.site)
        if problems:  # saved when an older schema allowed it: the bundled adapter is served instead
            logger.error("adapter override for %s not served: %s", override.site, "; ".join(problems))
            continue
        adapters[override.site] = override.data
    document = {"schema_version": SCHEMA_VERSION, "adapters": dict(sorted(adapters.items()))}
    body = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return ServedAdapters(body=body, etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def adapter_sources() -> dict[str, str]:
    """Where each served site's adapter comes from: "bundled" or "override" (the staff dashboard shows it)."""
    sources = dict.fromkeys(bundle().adapters, "bundled")
    served = json.loads(adapters_served().body)["adapters"]
    for override in AdapterOverride.objects.filter(enabled=True, site__in=list(served)):
        if served[override.site] == override.data:
            sources[override.site] = "override"
    return dict(sorted(sources.items()))


# --- Capture health ---------------------------------------------------------------------------------------------

COUNTS = ("prompts_seen", "answers_captured", "answers_missing", "fallbacks_used")


@dataclass(frozen=True)
class Window:
    """Counts over one period; ``capture_rate`` is answers captured per prompt seen (None without prompts)."""

    prompts_seen: int = 0
    answers_captured: int = 0
    answers_missing: int = 0
    fallbacks_used: int = 0

    @property
    def capture_rate(self) -> float | None:
        if not self.prompts_seen:
            return None
        return min(self.answers_captured / self.prompts_seen, 1.0)

    def as_dict(self) -> dict[str, Any]:
        rate = self.capture_rate
        return {
            **{name: getattr(self, name) for name in COUNTS},
            "capture_rate": None if rate is None else round(rate, 4),
        }


WINDOWS = ("recent", "day", "before")


def capture_health(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per site, then per layout: the last 24 h, the last 7 days, and whether the answer-capture rate dropped.

    A site (or layout) is flagged when, with at least EXTENSION_HEALTH_MIN_PROMPTS prompts in the window, its capture
    rate is below EXTENSION_HEALTH_MIN_RATE over the last EXTENSION_HEALTH_RECENT_HOURS or the last 24 h, or the
    24 h rate is more than EXTENSION_HEALTH_MAX_DROP below the six days before: a broken site shows within hours.
    """
    now = now or timezone.now()
    since = {
        "recent": now - timedelta(hours=settings.EXTENSION_HEALTH_RECENT_HOURS),
        "day": now - timedelta(hours=24),
    }
    sums: dict[str, Any] = {}
    for name in COUNTS:
        sums[f"{name}_recent"] = Sum(name, filter=Q(hour__gte=since["recent"]))
        sums[f"{name}_day"] = Sum(name, filter=Q(hour__gte=since["day"]))
        sums[f"{name}_before"] = Sum(name, filter=Q(hour__lt=since["day"]))
    rows = (
        CaptureHealth.objects.filter(hour__gte=now - timedelta(days=7), hour__lte=now)
        .values("site", "layout")
        .annotate(**sums)
        .order_by("site", "layout")
    )
    sites: dict[str, dict[str, Any]] = {}
    for row in rows:
        windows = {window: _window(row, window) for window in WINDOWS}
        entry = sites.setdefault(row["site"], {"site": row["site"], "layouts": [], "windows": []})
        entry["layouts"].append({"layout": row["layout"], **_summary(windows)})
        entry["windows"].append(windows)
    return [_site_summary(entry) for entry in sites.values()]


def _window(row: dict[str, Any], window: str) -> Window:
    return Window(**{name: int(row[f"{name}_{window}"] or 0) for name in COUNTS})


def _site_summary(entry: dict[str, Any]) -> dict[str, Any]:
    per_layout: list[dict[str, Window]] = entry["windows"]
    windows = {window: _total([layout[window] for layout in per_layout]) for window in WINDOWS}
    return {"site": entry["site"], **_summary(windows), "layouts": entry["layouts"]}


def _total(windows: list[Window]) -> Window:
    return Window(**{name: sum(getattr(w, name) for w in windows) for name in COUNTS})


def _summary(windows: dict[str, Window]) -> dict[str, Any]:
    day, before = windows["day"], windows["before"]
    reason = _flag_reason(windows["recent"], day, before)
    return {
        "last_24h": day.as_dict(),
        "last_7d": _total([day, before]).as_dict(),
        "flagged": reason is not None,
        "flag_reason": reason,
    }


def _flag_reason(recent: Window, day: Window, before: Window) -> str | None:
    minimum, floor = settings.EXTENSION_HEALTH_MIN_PROMPTS, settings.EXTENSION_HEALTH_MIN_RATE
    for label, window in (("24 h", day), (f"last {settings.EXTENSION_HEALTH_RECENT_HOURS} h", recent)):
        rate = window.capture_rate
        if rate is not None and window.prompts_seen >= minimum and rate < floor:
            return f"{label} capture rate {rate:.0%} is below {floor:.0%}"
    rate, baseline = day.capture_rate, before.capture_rate
    if rate is None or baseline is None or min(day.prompts_seen, before.prompts_seen) < minimum:
        return None
    if baseline - rate > settings.EXTENSION_HEALTH_MAX_DROP:
        drop = (baseline - rate) * 100
        return f"24 h capture rate {rate:.0%} is {drop:.0f} points under the previous 6 days' {baseline:.0%}"
    return None
