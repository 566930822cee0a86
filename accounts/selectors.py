"""Reads: a user's profile and today's quota usage (GET /auth/me), personal access tokens, where the person is
signed in, and the account page's email addresses and second factors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.db.models import Count, QuerySet
from django.utils import timezone

from accounts.models import (
    ACCESS_TOKEN_PREFIX,
    AppConnection,
    DailyUsage,
    PersonalAccessToken,
    Space,
    User,
    WebSession,
)
from accounts.services import UsageStatus, access_token_hash, daily_limit, space_default
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


def space_list(*, user: User) -> QuerySet[Space]:
    """``user``'s spaces, oldest first, each with ``memory_count``: how many memories it holds."""
    space_default(user=user)
    return Space.objects.filter(user=user).annotate(memory_count=Count("memories")).order_by("created_at", "id")


def space_get(*, user: User, space_id: int) -> Space | None:
    """One of ``user``'s spaces; another person's is as absent as one that never existed."""
    return Space.objects.filter(user=user, pk=space_id).first()


def access_token_list(*, user: User) -> QuerySet[PersonalAccessToken]:
    """``user``'s tokens, revoked ones included (they say when), newest first."""
    return PersonalAccessToken.objects.filter(user=user).prefetch_related("spaces").order_by("-created_at", "-id")


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


# --- The account page (/app/account/): allauth's records about a person ---------------------------------------


def email_addresses(*, user: User) -> list[EmailAddress]:
    """``user``'s addresses, the primary first; a user made by POST /auth/register has none until they sign in."""
    return list(EmailAddress.objects.filter(user=user).order_by("-primary", "email"))


@dataclass(frozen=True)
class TwoFactorStatus:
    totp: bool  # an authenticator app
    passkeys: int
    recovery_codes_left: int | None  # None: no recovery codes made


def two_factor_status(*, user: User) -> TwoFactorStatus:
    kinds = {auth.type: auth for auth in Authenticator.objects.filter(user=user)}
    passkeys = Authenticator.objects.filter(user=user, type=Authenticator.Type.WEBAUTHN).count()
    codes = kinds.get(Authenticator.Type.RECOVERY_CODES)
    left = len(codes.wrap().get_unused_codes()) if codes is not None else None
    return TwoFactorStatus(totp=Authenticator.Type.TOTP in kinds, passkeys=passkeys, recovery_codes_left=left)


def web_session_list(*, user: User) -> QuerySet[WebSession]:
    """``user``'s browsers signed in to /app/, most recently seen first; sessions idle past their expiry are left
    out (Django refuses them anyway)."""
    since = timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    return WebSession.objects.filter(user=user, last_seen__gte=since).order_by("-last_seen", "-id")


def refresh_token_list(*, user: User) -> QuerySet[Any]:
    """The extension's sign-ins of ``user`` (simplejwt refresh tokens) that can still be refreshed: not expired,
    not blacklisted. Newest first."""
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    return OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    ).order_by("-created_at", "-id")


def app_connection_list(*, user: User) -> QuerySet[AppConnection]:
    """The apps ``user`` connected through OAuth (with the app), most recently consented first."""
    return (
        AppConnection.objects.filter(user=user)
        .select_related("application")
        .prefetch_related("spaces")
        .order_by("-updated_at", "-id")
    )
