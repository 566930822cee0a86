"""Writes: registration, provisioning from Supabase tokens, tier changes, the daily quota counter and personal
access tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import (
    ACCESS_TOKEN_PREFIX,
    DailyUsage,
    PersonalAccessToken,
    Preferences,
    Tier,
    TokenScope,
    User,
    preferences_of,
)
from core.dates import utc_today
from core.exceptions import Conflict, InvalidInput, NotFound

# --- Users --------------------------------------------------------------------------------------------------


def user_register(*, username: str, email: str, password: str) -> User:
    """Create a free-tier user; the caller has validated the password against AUTH_PASSWORD_VALIDATORS."""
    try:
        with transaction.atomic():
            return User.objects.create_user(username=username, email=email, password=password)
    except IntegrityError as exc:  # a concurrent registration of the same username won the race
        raise InvalidInput("username: A user with that username already exists.") from exc


def supabase_user_provision(*, user_id: uuid.UUID, email: str) -> User:
    """The user whose id is a Supabase token's ``sub``, created on their first request.

    The username is the email when it is a valid, free username, else the UUID, else (someone registered that
    UUID as a username) a random one. Two first requests may race: the loser of the insert reads the winner's row.
    """
    user = User.objects.filter(pk=user_id).first()
    if user is not None:
        return user
    email = _valid_email(email)
    for username in (email, str(user_id), f"user-{uuid.uuid4().hex}"):
        if not username or not _valid_username(username):
            continue
        try:
            with transaction.atomic():
                user = User(id=user_id, username=username, email=email)
                user.set_unusable_password()
                user.save(force_insert=True)
                return user
        except IntegrityError:
            existing = User.objects.filter(pk=user_id).first()
            if existing is not None:
                return existing
    raise Conflict("Could not create an account for this token")


def _valid_email(email: str) -> str:
    try:
        validate_email(email)
    except ValidationError:
        return ""
    return email


def _valid_username(username: str) -> bool:
    if len(username) > 150 or User.objects.filter(username__iexact=username).exists():
        return False
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError:
        return False
    return True


def user_set_tier(*, user: User, tier: str) -> str:
    """Staff only (Django admin, ``manage.py set_tier``). Returns the previous tier; the next request uses the new."""
    if tier not in Tier.values:
        raise InvalidInput(f"Unknown tier {tier!r}; use one of: {', '.join(Tier.values)}")
    previous = user.tier
    user.tier = tier
    user.save(update_fields=["tier"])
    return previous


# --- Daily quota --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageStatus:
    """One user's quota on one UTC day. ``limit`` None means unlimited."""

    day: date
    used: int
    limit: int | None
    allowed: bool = True

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)

    @property
    def reset_at(self) -> datetime:
        return datetime.combine(self.day + timedelta(days=1), time.min, tzinfo=UTC)


def daily_limit(tier: str) -> int | None:
    limits = settings.QUOTA_DAILY_LIMITS
    return limits[tier] if tier in limits else limits[Tier.FREE]


def usage_consume(*, user: User) -> UsageStatus:
    """Count one request against today's quota, atomically, unless the limit is already reached.

    One statement: the upsert inserts the day's row or increments it, but only while it is below the limit, and
    returns the new count. PostgreSQL locks the (user, day) row for the update, so concurrent requests from any
    number of threads or processes are counted exactly; a refused request changes nothing.
    """
    day = utc_today()
    limit = daily_limit(user.tier)
    if limit is not None and limit <= 0:
        return UsageStatus(day=day, used=0, limit=limit, allowed=False)
    table = connection.ops.quote_name(DailyUsage._meta.db_table)
    sql = (
        f'INSERT INTO {table} AS u (user_id, day, "count") VALUES (%s, %s, 1) '  # noqa: S608 (table from _meta)
        'ON CONFLICT (user_id, day) DO UPDATE SET "count" = u."count" + 1'
        + (' WHERE u."count" < %s' if limit is not None else "")
        + ' RETURNING u."count"'
    )
    params: list[Any] = [user.pk, day] + ([limit] if limit is not None else [])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:  # the WHERE refused the update: the limit is reached
        return UsageStatus(day=day, used=limit or 0, limit=limit, allowed=False)
    return UsageStatus(day=day, used=row[0], limit=limit)


def usage_refund(*, user: User, usage: UsageStatus) -> UsageStatus:
    """Give back a request counted by :func:`usage_consume` whose answer was not a success (docs/api.md).

    It decrements the day the request was counted on, even if midnight has passed since.
    """
    table = connection.ops.quote_name(DailyUsage._meta.db_table)
    sql = (
        f'UPDATE {table} SET "count" = "count" - 1 '  # noqa: S608 (table from _meta)
        'WHERE user_id = %s AND day = %s AND "count" > 0 RETURNING "count"'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, usage.day])
        row = cursor.fetchone()
    return UsageStatus(day=usage.day, used=row[0] if row else 0, limit=usage.limit)


PREFERENCE_FIELDS = ("capture", "providers", "context", "redact_pii", "excluded_phrases")


def preferences_update(*, user: User, changes: dict[str, Any]) -> Preferences:
    """Apply validated ``changes`` (a subset of PREFERENCE_FIELDS; ``providers`` may name only some providers)."""
    prefs = preferences_of(user)
    for name, value in changes.items():
        if name not in PREFERENCE_FIELDS:
            raise InvalidInput(f"Unknown setting: {name}")
        if name == "providers":
            value = {**prefs.providers, **value}
        setattr(prefs, name, value)
    prefs.save()
    user.preferences = prefs
    return prefs


# --- Personal access tokens ---------------------------------------------------------------------------------

# A person's live (not revoked) tokens at most: each is a standing credential, and a list without end helps nobody.
MAX_ACCESS_TOKENS = 50
# last_used_at is written when it is at least this old: one UPDATE a minute per token, not one per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def access_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CreatedToken:
    token: PersonalAccessToken
    secret: str  # the token itself: shown once, in the answer that creates it, never stored


def access_token_create(
    *, user: User, name: str, scope: str = TokenScope.READ, expires_at: datetime | None = None
) -> CreatedToken:
    """A new personal access token for ``user``: ``mlk_`` and 32 random bytes; only its SHA-256 is kept."""
    if scope not in TokenScope.values:
        raise InvalidInput(f"scope: use one of {', '.join(TokenScope.values)}")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput("expires_at: must be in the future")
    if PersonalAccessToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_ACCESS_TOKENS:
        raise InvalidInput(f"You have {MAX_ACCESS_TOKENS} tokens already: revoke one first")
    secret = ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = PersonalAccessToken.objects.create(
        user=user,
        name=name,
        scope=scope,
        token_hash=access_token_hash(secret),
        prefix=secret[: len(ACCESS_TOKEN_PREFIX) + 6],
        expires_at=expires_at,
    )
    return CreatedToken(token=token, secret=secret)


def access_token_revoke(*, user: User, token_id: int) -> PersonalAccessToken:
    """Revoke one of ``user``'s tokens; refused from the next request on. Another person's id is not found.

    Revoking a token already revoked changes nothing (and answers it as it is).
    """
    token = PersonalAccessToken.objects.filter(user=user, pk=token_id).first()
    if token is None:
        raise NotFound("Token not found")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def access_token_touch(*, token: PersonalAccessToken, now: datetime | None = None) -> None:
    """Record that ``token`` was used, at most once per LAST_USED_RESOLUTION (no write otherwise)."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    PersonalAccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
