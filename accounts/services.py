"""Writes: registration, provisioning from Supabase tokens, tier changes, the daily quota counter, spaces, personal
access tokens, and where a person is signed in (web sessions, the extension's refresh tokens)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import (
    ACCESS_TOKEN_PREFIX,
    DEFAULT_SPACE_NAME,
    SPACE_NAME_MAX_CHARS,
    AppConnection,
    DailyUsage,
    PersonalAccessToken,
    Preferences,
    Space,
    Tier,
    TokenScope,
    User,
    WebSession,
    preferences_of,
)
from accounts.second_factor import (
    second_factor_enabled,
    second_factor_refusal,
    second_factor_required,
    second_factor_verify,
)
from core.dates import utc_today
from core.exceptions import Conflict, InvalidInput, NotAllowed, NotAuthenticated, NotFound

# --- Users --------------------------------------------------------------------------------------------------


def user_register(*, username: str, email: str, password: str) -> User:
    """Create a free-tier user; the caller has validated the password against AUTH_PASSWORD_VALIDATORS."""
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            space_default(user=user)
            return user
    except IntegrityError as exc:  # a concurrent registration of the same username won the race
        raise InvalidInput("username: A user with that username already exists.") from exc


class SecondFactorRequired(NotAuthenticated):
    """The account has two-factor sign-in and the request carried no code, or a wrong one."""


def token_second_factor_check(*, user: User, code: str | None) -> None:
    """Pass when ``user`` has no second factor, or ``code`` is accepted (accounts.second_factor)."""
    if not second_factor_enabled(user=user):
        return
    if not code:
        raise SecondFactorRequired(
            "two-factor code required: send the 6-digit code from your authenticator app (or a recovery code) as otp",
            extra={"mfa_required": True},
        )
    reason = second_factor_refusal(user=user, code=code)
    if reason is not None:
        raise SecondFactorRequired(f"two-factor code refused: {reason}", extra={"mfa_required": True})


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
                space_default(user=user)
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


def user_reauthenticate(*, user: User, password: str, code: str = "") -> None:
    """Make sure the person asking is the account's owner now, not someone at an unattended browser or holding a
    stolen token: their password (unless the account has none, as one made from a Supabase token) and, when the
    account has two-factor sign-in, a current code (accounts.second_factor). Raises NotAllowed or InvalidInput."""
    if user.has_usable_password() and not (password and user.check_password(password)):
        raise NotAllowed("That is not your password")
    if second_factor_required(user=user):
        if not code.strip():
            raise InvalidInput("code: your account has two-factor sign-in; give a code from your authenticator app")
        if not second_factor_verify(user=user, code=code):
            raise NotAllowed("That two-factor code is not right (or was used already)")


# --- Spaces -------------------------------------------------------------------------------------------------


def space_default(*, user: User) -> Space:
    """``user``'s default space, made ("Personal") when they have none yet: every path that creates a person
    calls this, and the resolver does too, so a person made any other way (createsuperuser, a test) gets it on
    first use. Two first requests may race: the partial unique constraint lets one insert win."""
    space = Space.objects.filter(user=user, is_default=True).first()
    if space is not None:
        return space
    try:
        with transaction.atomic():
            return Space.objects.create(user=user, name=DEFAULT_SPACE_NAME, is_default=True)
    except IntegrityError:
        return Space.objects.get(user=user, is_default=True)


def _space_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("name: This field may not be blank.")
    if len(name) > SPACE_NAME_MAX_CHARS:
        raise InvalidInput(f"name: at most {SPACE_NAME_MAX_CHARS} characters")
    return name


def _space_name_free(*, user: User, name: str, exclude: Space | None = None) -> None:
    taken = Space.objects.filter(user=user, name__iexact=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise Conflict(f"You already have a space called {name!r}")


def space_create(*, user: User, name: str, is_default: bool = False) -> Space:
    """A new space of ``user``; names are unique per person whatever their case (409 otherwise)."""
    space_default(user=user)  # the first space a person makes is never their only one
    name = _space_name(name)
    _space_name_free(user=user, name=name)
    try:
        with transaction.atomic():
            space = Space.objects.create(user=user, name=name)
            if is_default:
                space_make_default(user=user, space=space)
    except IntegrityError as exc:  # a concurrent create of the same name
        raise Conflict(f"You already have a space called {name!r}") from exc
    return space


@transaction.atomic
def space_make_default(*, user: User, space: Space) -> Space:
    """Make ``space`` the one used when a request names none (the previous default stays, as a plain space)."""
    Space.objects.filter(user=user, is_default=True).exclude(pk=space.pk).update(is_default=False)
    if not space.is_default:
        space.is_default = True
        space.save(update_fields=["is_default"])
    return space


def space_update(*, user: User, space: Space, name: str | None = None, is_default: bool | None = None) -> Space:
    """Rename ``space`` and/or make it the default. The default stops being it only when another space becomes
    the default (``is_default=False`` on the default is refused: a person always has one)."""
    if is_default is False and space.is_default:
        raise InvalidInput("is_default: make another space the default instead; a person always has one")
    with transaction.atomic():
        if name is not None:
            name = _space_name(name)
            _space_name_free(user=user, name=name, exclude=space)
            space.name = name
            try:
                with transaction.atomic():
                    space.save(update_fields=["name"])
            except IntegrityError as exc:
                raise Conflict(f"You already have a space called {name!r}") from exc
        if is_default:
            space_make_default(user=user, space=space)
    return space


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
    *,
    user: User,
    name: str,
    scope: str = TokenScope.READ,
    expires_at: datetime | None = None,
    spaces: list[int] | None = None,
) -> CreatedToken:
    """A new personal access token for ``user``: ``mlk_`` and 32 random bytes; only its SHA-256 is kept.

    It holds the spaces whose ids are in ``spaces`` (default: the person's default space); an id that is not one
    of the person's spaces is not found, and no token is made."""
    if scope not in TokenScope.values:
        raise InvalidInput(f"scope: use one of {', '.join(TokenScope.values)}")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput("expires_at: must be in the future")
    if PersonalAccessToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_ACCESS_TOKENS:
        raise InvalidInput(f"You have {MAX_ACCESS_TOKENS} tokens already: revoke one first")
    held = _token_spaces(user=user, space_ids=spaces)
    secret = ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = _access_token_insert(user=user, name=name, scope=scope, secret=secret, expires_at=expires_at)
        token.spaces.set(held, through_defaults={"user": user})
    return CreatedToken(token=token, secret=secret)


def _token_spaces(*, user: User, space_ids: list[int] | None) -> list[Space]:
    if space_ids is None:
        return [space_default(user=user)]
    if not space_ids:
        raise InvalidInput("spaces: name at least one space (or leave it out for your default space)")
    wanted = set(space_ids)
    held = list(Space.objects.filter(user=user, pk__in=wanted))
    if len(held) != len(wanted):
        raise NotFound("space not found")
    return held


def _access_token_insert(
    *, user: User, name: str, scope: str, secret: str, expires_at: datetime | None
) -> PersonalAccessToken:
    return PersonalAccessToken.objects.create(
        user=user,
        name=name,
        scope=scope,
        token_hash=access_token_hash(secret),
        prefix=secret[: len(ACCESS_TOKEN_PREFIX) + 6],
        expires_at=expires_at,
    )


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


# --- Where a person is signed in ----------------------------------------------------------------------------

# last_seen is written when it is at least this old: one write a minute per session, not one per request.
SEEN_RESOLUTION = timedelta(minutes=1)
USER_AGENT_MAX_CHARS = 300


def _session_store(session_key: str | None = None) -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)


def web_session_record(*, user: User, session_key: str, user_agent: str, now: datetime | None = None) -> None:
    """Note that ``session_key`` (signed in as ``user``) was just used, from ``user_agent``: one upsert.

    A key seen for the first time is a new sign-in (created_at = now); afterwards only last_seen moves.
    """
    now = now or timezone.now()
    WebSession.objects.update_or_create(
        user=user,
        session_key=session_key,
        defaults={"last_seen": now, "user_agent": user_agent[:USER_AGENT_MAX_CHARS]},
        create_defaults={
            "user": user,
            "last_seen": now,
            "created_at": now,
            "user_agent": user_agent[:USER_AGENT_MAX_CHARS],
        },
    )


def web_session_forget(*, session_key: str) -> None:
    """The session ended (signed out, or its key changed at sign-in): it is no longer listed."""
    WebSession.objects.filter(session_key=session_key).delete()


@dataclass(frozen=True)
class ExpiredSwept:
    """What ``expired_sign_ins_swept`` forgot."""

    web_sessions: int


def expired_sign_ins_swept(*, now: datetime | None = None) -> ExpiredSwept:
    """Forget sign-ins that can no longer be used (the hourly maintenance job, memories.tasks).

    django-oauth-toolkit's own ``clear_expired`` deletes expired authorization codes, access tokens and refresh
    tokens (what ``manage.py cleartokens`` does); the session engine deletes its expired sessions; and a
    "where you're signed in" row not seen for a whole session lifetime goes too: its session expired at the
    latest ``SESSION_COOKIE_AGE`` after its last change, and every change was a request that moved last_seen.
    """
    from oauth2_provider.models import clear_expired

    now = now or timezone.now()
    clear_expired()
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
    cutoff = now - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    web_sessions, _ = WebSession.objects.filter(last_seen__lt=cutoff).delete()
    return ExpiredSwept(web_sessions=web_sessions)


def web_session_revoke(*, user: User, web_session_id: int) -> WebSession:
    """Sign one of ``user``'s browsers out: its session is deleted, so its next request is anonymous.
    Another person's id is not found."""
    web_session = WebSession.objects.filter(user=user, pk=web_session_id).first()
    if web_session is None:
        raise NotFound("Session not found")
    _session_store().delete(web_session.session_key)
    web_session.delete()
    return web_session


def web_sessions_end(*, user: User, keep_session_key: str | None = None) -> int:
    """Sign ``user`` out of every browser but the one holding ``keep_session_key``; returns how many ended.

    Sessions this app recorded (WebSession) are ended by key, whatever the session engine. With a
    database-backed engine, sessions of ``user`` it never recorded (made before the recording began) are found
    by decoding every stored session: a full scan, acceptable for a rare act of the person themselves.
    """
    keys = set(WebSession.objects.filter(user=user).values_list("session_key", flat=True))
    keys |= _stored_session_keys_of(user)
    keys.discard(keep_session_key or "")
    store = _session_store()
    for key in keys:
        store.delete(key)
    WebSession.objects.filter(session_key__in=keys).delete()
    return len(keys)


def _stored_session_keys_of(user: User) -> set[str]:
    from django.contrib.sessions.backends.db import SessionStore as DatabaseStore

    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if not issubclass(store_class, DatabaseStore):
        return set()
    model = store_class.get_model_class()
    store = store_class()
    wanted = str(user.pk)
    return {
        key
        for key, data in model.objects.values_list("session_key", "session_data").iterator(chunk_size=500)
        if str(store.decode(data).get(SESSION_KEY, "")) == wanted
    }


def refresh_token_revoke(*, user: User, token_id: int) -> Any:
    """Sign one of the extension's sign-ins out: its refresh token is blacklisted, so it cannot be refreshed.
    The access token already issued from it stays valid until it expires (JWT_ACCESS_LIFETIME_SECONDS)."""
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    token = OutstandingToken.objects.filter(user=user, pk=token_id).first()
    if token is None:
        raise NotFound("Sign-in not found")
    BlacklistedToken.objects.get_or_create(token=token)
    return token


def refresh_tokens_revoke_all(*, user: User) -> int:
    """Blacklist every refresh token of ``user`` not blacklisted yet; returns how many."""
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    live = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    return len(BlacklistedToken.objects.bulk_create([BlacklistedToken(token=token) for token in live]))


def access_tokens_revoke_all(*, user: User) -> int:
    return PersonalAccessToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())


@dataclass(frozen=True)
class SignedOut:
    web_sessions: int
    refresh_tokens: int
    access_tokens: int


@transaction.atomic
def sign_out_everywhere(*, user: User, keep_session_key: str | None, access_tokens: bool = False) -> SignedOut:
    """Every sign-in of ``user`` ends but this browser's: other web sessions, every refresh token of the
    extension, and, when asked, every personal access token (they are for scripts, so they are kept unless asked).
    """
    return SignedOut(
        web_sessions=web_sessions_end(user=user, keep_session_key=keep_session_key),
        refresh_tokens=refresh_tokens_revoke_all(user=user),
        access_tokens=access_tokens_revoke_all(user=user) if access_tokens else 0,
    )


# --- Apps connected through OAuth (docs/oauth.md) ------------------------------------------------------------


@transaction.atomic
def app_connection_record(
    *, user: User, application: Any, scope: str, spaces: list[int] | None = None
) -> AppConnection:
    """The person's consent on /app/: ``application`` may act for ``user`` with ``scope`` (read, or write) in the
    spaces whose ids are in ``spaces`` (default: the person's default space), under the same rule as a personal
    token's spaces. Consenting again to the same app replaces the choice: it takes effect on the app's next call,
    even with tokens issued before (accounts.oauth.OAuthAccess)."""
    if scope not in TokenScope.values:
        raise InvalidInput(f"scope must be one of: {', '.join(TokenScope.values)}")
    held = _token_spaces(user=user, space_ids=spaces)
    connection, _ = AppConnection.objects.update_or_create(
        user=user, application=application, defaults={"scope": scope}
    )
    connection.spaces.set(held, through_defaults={"user": user})
    return connection


@transaction.atomic
def app_connection_revoke(*, user: User, connection_id: int) -> AppConnection:
    """Disconnect one of ``user``'s apps: its consent and every token and code it holds for ``user`` go at once,
    so its next call is a 401 and its refresh token is refused. Another person's id is not found."""
    from oauth2_provider.models import AccessToken, Grant, RefreshToken

    connection = AppConnection.objects.select_related("application").filter(user=user, pk=connection_id).first()
    if connection is None:
        raise NotFound("Connected app not found")
    held = {"user": user, "application": connection.application}
    RefreshToken.objects.filter(**held).delete()
    AccessToken.objects.filter(**held).delete()
    Grant.objects.filter(**held).delete()
    connection.delete()
    return connection
