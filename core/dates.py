"""The service's day: quotas, usage and metrics roll over at midnight UTC."""

from __future__ import annotations

from datetime import UTC, date

from django.utils import timezone


def utc_today() -> date:
    return timezone.now().astimezone(UTC).date()
