"""Capture-health data for tests here and in the dashboard's: rows as the reports would have summed them, and one
report as an extension sends it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.utils import timezone

from extension_api.models import CaptureHealth

# A minimal schema and an adapter per site (the real ones are the extension's, in extension/adapters/).
ADAPTER_FIXTURES = Path(__file__).parent / "fixtures" / "adapters"


def capture_row(
    site: str, layout: str, hour: datetime, seen: int, captured: int, *, missing: int | None = None, fallbacks: int = 0
) -> CaptureHealth:
    """A row for ``hour``; answers missing default to the prompts without an answer."""
    return CaptureHealth.objects.create(
        site=site,
        layout=layout,
        hour=hour.replace(minute=0, second=0, microsecond=0),
        prompts_seen=seen,
        answers_captured=captured,
        answers_missing=seen - captured if missing is None else missing,
        fallbacks_used=fallbacks,
        reports=1,
    )


def health_report(**changes: Any) -> dict[str, Any]:
    """One report of POST /extension/health for the last 15 minutes, with ``changes`` applied."""
    end = timezone.now().replace(microsecond=0)
    report = {
        "site": "chatgpt",
        "layout": "thread",
        "adapter_version": "2026.10.1",
        "prompts_seen": 3,
        "answers_captured": 2,
        "answers_missing": 1,
        "fallbacks_used": 0,
        "period_start": (end - timedelta(minutes=15)).isoformat(),
        "period_end": end.isoformat(),
    }
    return report | changes
