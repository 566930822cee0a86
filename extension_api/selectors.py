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


def _windows(rows: dict[str, Any], suffix: str) -> Window:
    return Window(**{name: int(rows[f"{name}_{suffix}"] or 0) for name in COUNTS})


def capture_health(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per site, then per layout: the last 24 h, the last 7 days, and whether the answer-capture rate dropped.

    A site (or layout) is flagged when the last 24 h saw at least EXTENSION_HEALTH_MIN_PROMPTS prompts and its
    capture rate is below EXTENSION_HEALTH_MIN_RATE, or more than EXTENSION_HEALTH_MAX_DROP below the rate of the
    six days before (when those saw the minimum too): a site that changed its page shows within hours.
    """
    now = now or timezone.now()
    day_ago, week_ago = now - timedelta(hours=24), now - timedelta(days=7)
    sums: dict[str, Any] = {}
    for name in COUNTS:
        sums[f"{name}_day"] = Sum(name, filter=Q(hour__gte=day_ago))
        sums[f"{name}_before"] = Sum(name, filter=Q(hour__lt=day_ago))
    rows = (
        CaptureHealth.objects.filter(hour__gte=week_ago, hour__lte=now)
        .values("site", "layout")
        .annotate(**sums)
        .order_by("site", "layout")
    )
    sites: dict[str, dict[str, Any]] = {}
    for row in rows:
        day, before = _windows(row, "day"), _windows(row, "before")
        entry = sites.setdefault(row["site"], {"site": row["site"], "layouts": [], "_day": [], "_before": []})
        entry["layouts"].append({"layout": row["layout"], **_summary(day, before)})
        entry["_day"].append(day)
        entry["_before"].append(before)
    return [_site_summary(entry) for entry in sites.values()]


def _site_summary(entry: dict[str, Any]) -> dict[str, Any]:
    day, before = _total(entry.pop("_day")), _total(entry.pop("_before"))
    layouts = entry.pop("layouts")
    return {**entry, **_summary(day, before), "layouts": layouts}


def _total(windows: list[Window]) -> Window:
    return Window(**{name: sum(getattr(w, name) for w in windows) for name in COUNTS})


def _summary(day: Window, before: Window) -> dict[str, Any]:
    week = _total([day, before])
    reason = _flag_reason(day, before)
    return {"last_24h": day.as_dict(), "last_7d": week.as_dict(), "flagged": reason is not None, "flag_reason": reason}


def _flag_reason(day: Window, before: Window) -> str | None:
    minimum = settings.EXTENSION_HEALTH_MIN_PROMPTS
    rate = day.capture_rate
    if rate is None or day.prompts_seen < minimum:
        return None
    if rate < settings.EXTENSION_HEALTH_MIN_RATE:
        return f"24 h capture rate {rate:.0%} is below {settings.EXTENSION_HEALTH_MIN_RATE:.0%}"
    baseline = before.capture_rate
    if baseline is not None and before.prompts_seen >= minimum and baseline - rate > settings.EXTENSION_HEALTH_MAX_DROP:
        drop = (baseline - rate) * 100
        return f"24 h capture rate {rate:.0%} is {drop:.0f} points under the previous 6 days' {baseline:.0%}"
    return None
