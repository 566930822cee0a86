from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class Tier(models.TextChoices):
    FREE = "free", "Free"
    PRO = "pro", "Pro"
    ENTERPRISE = "enterprise", "Enterprise"


class User(AbstractUser):
    """A person. The UUID primary key is the API's ``user_id`` (and a Supabase token's ``sub``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.FREE)

    def __str__(self) -> str:
        return self.username


# The space every person starts with (accounts.spaces.space_default).
DEFAULT_SPACE_NAME = "Personal"
SPACE_NAME_MAX_CHARS = 60


class Space(models.Model):
    """A separate memory of one person ("Personal", "Work"): every memory belongs to exactly one space of its
    owner, and every read and write names one (docs/spaces.md). Exactly one space per person is the default,
    used when a request names none."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="spaces")
    name = models.CharField(max_length=SPACE_NAME_MAX_CHARS)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # names are told apart the way people read them: "Work" and "work" are one space
            models.UniqueConstraint(Lower("name"), "user", name="space_user_name_uniq"),
            # exactly one default per person (the resolver's fallback); also serves "this person's default"
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(is_default=True), name="space_user_default_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"space {self.name!r} of {self.user_id}"


class DailyUsage(models.Model):
    """How many quota-counted API requests a user made on one UTC day (see accounts.services.usage_consume)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="daily_usage")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "daily usage"
        constraints = [
            # the conflict target of the counting upsert; also serves "this user's usage today"
            models.UniqueConstraint(fields=["user", "day"], name="dailyusage_user_day_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.day}: {self.count}"


PROVIDERS = ("chatgpt", "claude", "gemini", "grok")


def _all_providers() -> dict[str, bool]:
    return dict.fromkeys(PROVIDERS, True)


class Preferences(models.Model):
    """What a person lets the service keep and use (GET/PATCH /me/settings). Enforced by the server on every save
    and /context call, whatever the client. No row means the defaults: everything on, PII kept."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="preferences")
    capture = models.BooleanField(default=True, help_text="Off: saves store nothing (answer 200 with skipped).")
    providers = models.JSONField(default=_all_providers, help_text="Capture per assistant: {provider: bool}.")
    context = models.BooleanField(default=True, help_text="Off: /context answers no memories.")
    redact_pii = models.BooleanField(default=False, help_text="Also redact e-mail addresses and phone numbers.")
    excluded_phrases = models.JSONField(
        default=list, help_text="A save whose text contains one of these (any case) stores nothing."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "preferences"

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"

    def skip_reason(self, *, provider: str, texts: tuple[str, ...], capture_rules: bool = True) -> str | None:
        """Why a save of ``texts`` from ``provider`` must store nothing, or None to store it. Without
        ``capture_rules`` (an import, the person's own explicit act) only the excluded phrases apply."""
        if capture_rules and not self.capture:
            return "capture is off"
        if capture_rules and not self.providers.get(provider, True):
            return f"capture is off for {provider}"
        lowered = [t.casefold() for t in texts]
        for phrase in self.excluded_phrases:
            if phrase and any(phrase.casefold() in t for t in lowered):
                return "the text contains an excluded phrase"
        return None


def preferences_of(user: User) -> Preferences:
    """The person's preferences, or unsaved defaults; no query when loaded with the user (select_related)."""
    try:
        return user.preferences
    except Preferences.DoesNotExist:
        return Preferences(user=user)


class TokenScope(models.TextChoices):
    READ = "read", "Read"  # search and list: GET requests, the MCP read tools
    WRITE = "write", "Read and write"  # also save, change and delete


# Every personal access token starts with this, so a leaked one is recognizable (secret scanners, logs).
ACCESS_TOKEN_PREFIX = "mlk_"


class SpaceGrant:
    """What a personal access token and an app's connection have alike: a scope and the spaces granted."""

    scope: Any
    spaces: Any
    user_id: Any
    pk: Any
    # How Space reaches this grant's link rows, and the link's field naming the grant (the ``through`` model).
    LINKS: str
    LINK_OWNER: str

    @property
    def can_write(self) -> bool:
        return bool(self.scope == TokenScope.WRITE)

    def held_spaces(self) -> models.QuerySet[Space]:
        """The spaces granted. The person is named on the spaces and on the link rows (one join): on Citus both
        are distributed by person, so this is a single-shard query (docs/scale.md)."""
        links = {f"{self.LINKS}__user_id": self.user_id, f"{self.LINKS}__{self.LINK_OWNER}": self.pk}
        return Space.objects.filter(user_id=self.user_id, **links)

    @property
    def default_space(self) -> Space | None:
        """The space a request with this grant uses when it names none (see :func:`default_space_of`)."""
        return default_space_of(self.held_spaces())


class PersonalAccessToken(SpaceGrant, models.Model):
    """A long-lived bearer token a person makes for an MCP client or a script (POST /me/tokens, /app/tokens/).

    Only the SHA-256 of the token is stored: the token is 32 random bytes, so a plain hash cannot be reversed
    or guessed, and a database leak does not leak usable tokens. ``prefix`` (the first characters) tells the
    person which token is which.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="access_tokens")
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=8, choices=TokenScope.choices, default=TokenScope.READ)
    token_hash = models.CharField(max_length=64, help_text="SHA-256 (hex) of the token.")
    prefix = models.CharField(max_length=16, help_text="The token's first characters, to recognize it.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Refused from then on; empty: never.")
    last_used_at = models.DateTimeField(null=True, blank=True, help_text="Updated at most once a minute.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The spaces this token may read and write (docs/spaces.md); a request naming none uses default_space.
    spaces = models.ManyToManyField(Space, related_name="access_tokens", blank=True, through="AccessTokenSpace")
    LINKS, LINK_OWNER = "token_links", "personalaccesstoken"

    class Meta:
        indexes = [
            # a person's tokens, newest first (GET /me/tokens, the /app/ tokens page)
            models.Index(fields=["user", "-created_at"], name="pat_user_created_idx"),
        ]
        constraints = [
            # the lookup of every request that presents a token (accounts.authentication)
            models.UniqueConstraint(fields=["token_hash"], name="pat_token_hash_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name}) of {self.user_id}"


def default_space_of(spaces: Iterable[Space]) -> Space | None:
    """The space a credential (a personal token, a connected app) uses when a request names none: the person's
    default space when the credential holds it, else its oldest space; None when it holds none (every request is
    refused)."""
    held = sorted(spaces, key=lambda s: (not s.is_default, s.created_at, s.pk))
    return held[0] if held else None


class WebSession(models.Model):
    """A browser signed in to /app/: which device, since when, last seen (accounts.middleware records it).

    Django's session row knows its user only inside its encoded data; this row makes a person's sessions a
    query, for "Where you're signed in". Revoking deletes the session itself (its key) and this row.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="web_sessions")
    session_key = models.CharField(max_length=40, help_text="django.contrib.sessions' key.")
    user_agent = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [
            # the middleware's upsert target; a key belongs to one session, hence to one person (the person first:
            # Citus wants the distribution column in every unique constraint, docs/scale.md)
            models.UniqueConstraint(fields=["user", "session_key"], name="websession_user_key_uniq"),
        ]
        indexes = [
            # a person's sessions, most recently seen first (the sessions page)
            models.Index(fields=["user", "-last_seen"], name="websession_user_seen_idx"),
        ]

    def __str__(self) -> str:
        return f"web session of {self.user_id}, last seen {self.last_seen:%Y-%m-%d %H:%M}"


class AccountDeletion(models.Model):
    """That an account was deleted, and when: what staff may know afterwards, nothing of what was deleted.

    ``user_ref`` is the SHA-256 of the account's id: not reversible, no name or address, yet someone who holds
    the id (a support request, an old log line) can check that this account was deleted.
    """

    user_ref = models.CharField(max_length=64, help_text="SHA-256 (hex) of the deleted account's id.")
    deleted_at = models.DateTimeField()
    via = models.CharField(max_length=16, help_text="Where the person asked: the web page or the API.")

    class Meta:
        indexes = [
            # staff's list, newest first
            models.Index(fields=["-deleted_at"], name="accountdeletion_deleted_idx"),
        ]

    def __str__(self) -> str:
        return f"account {self.user_ref[:12]}… deleted {self.deleted_at:%Y-%m-%d %H:%M}"


class AppConnection(SpaceGrant, models.Model):
    """An app the person connected through OAuth (a custom connector in Claude or ChatGPT, an MCP client).

    django-oauth-toolkit keeps the app (``Application``) and its tokens; this row is the person's consent: which
    scope they chose on the consent page. Tokens are honoured only while it exists (accounts.authentication),
    so disconnecting the app on /app/ (accounts.services.app_connection_revoke) ends its access on the next call
    even before its tokens are deleted. One row per person and app: consenting again replaces the choice.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="app_connections")
    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="connections"
    )
    scope = models.CharField(max_length=8, choices=TokenScope.choices, default=TokenScope.READ)
    # The spaces the person let this app use (docs/spaces.md): the same rule as a personal token's spaces.
    spaces = models.ManyToManyField(Space, related_name="app_connections", blank=True, through="AppConnectionSpace")
    LINKS, LINK_OWNER = "connection_links", "appconnection"
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # one consent per person and app; also the lookup of every OAuth-authenticated request
            models.UniqueConstraint(fields=["user", "application"], name="appconnection_user_app_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.application_id} connected by {self.user_id} ({self.scope})"


class AccessTokenSpace(models.Model):
    """A space a personal access token holds. Carries the person, like every per-person row, so that on Citus it
    lives on the person's shard beside the space (docs/scale.md); the token itself stays on the coordinator (it is
    found by its hash before the person is known)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    personalaccesstoken = models.ForeignKey(PersonalAccessToken, on_delete=models.CASCADE, related_name="+")
    # The database's key is (user_id, space_id) -> accounts_space (user_id, id) (accounts 0008 / memories 0016).
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="token_links", db_constraint=False)

    class Meta:
        db_table = "accounts_personalaccesstoken_spaces"
        constraints = [
            models.UniqueConstraint(fields=["user", "personalaccesstoken", "space"], name="pat_space_user_uniq"),
        ]

    def __str__(self) -> str:
        return f"space {self.space_id} held by token {self.personalaccesstoken_id}"


class AppConnectionSpace(models.Model):
    """A space a connected app may use; per person, like the connection and the space (docs/scale.md)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    # Both keys are composite in the database: (user_id, appconnection_id) and (user_id, space_id).
    appconnection = models.ForeignKey(AppConnection, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="connection_links", db_constraint=False)

    class Meta:
        db_table = "accounts_appconnection_spaces"
        constraints = [
            models.UniqueConstraint(fields=["user", "appconnection", "space"], name="appconnection_space_user_uniq"),
        ]

    def __str__(self) -> str:
        return f"space {self.space_id} used by app connection {self.appconnection_id}"
