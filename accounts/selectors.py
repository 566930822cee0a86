"""Reads: a user's profile and today's quota usage (GET /auth/me)."""

from __future__ import annotations

from typing import Any

from accounts.models import DailyUsage, User
from accounts.services import UsageStatus, daily_limit
from core.dates import utc_today


def usage_today(*, user: User) -> UsageStatus:
    day = utc_today()
    used = DailyUsage.objects.filter(user=user, day=day).values_list("count", flat=True).first() or 0
    return UsageStatus(day=day, used=used, limit=daily_limit(user.tier))


def user_profile(*, user: User) -> dict[str, Any]:
    usage = usage_today(user=user)
    return {
        "user_id": user.pk,
        "username": user.username,
        "email": user.email,
        "tier": user.tier,
        "usage": {
            "day": usage.day,
            "used": usage.used,
            "limit": usage.limit,
            "remaining": usage.remaining,
            "reset_at": usage.reset_at,
        },
    }
