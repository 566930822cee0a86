"""Reads: a user's profile and today's quota usage (GET /auth/me), and personal access tokens."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.models import ACCESS_TOKEN_PREFIX, DailyUsage, PersonalAccessToken, User
from accounts.services import UsageStatus, access_token_hash, daily_limit
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


def access_token_list(*, user: User) -> QuerySet[PersonalAccessToken]:
    """``user``'s tokens, revoked ones included (they say when), newest first."""
    return PersonalAccessToken.objects.filter(user=user).order_by("-created_at", "-id")


def access_token_find(*, secret: str) -> PersonalAccessToken | None:
    """The token whose SHA-256 matches ``secret``, with its user and their preferences (one query), or None.

    Revoked and expired tokens are returned too: the caller says why they are refused.
    """
    if not secret.startswith(ACCESS_TOKEN_PREFIX):
        return None
    return (
        PersonalAccessToken.objects.select_related("user", "user__preferences")
        .filter(token_hash=access_token_hash(secret))
        .first()
    )
