from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from accounts.models import Tier

# Caches whose counters live in one process (or nowhere): each worker would get its own burst limit.
UNSHARED_CACHE_BACKENDS = frozenset(
    {
        "django.core.cache.backends.locmem.LocMemCache",
        "django.core.cache.backends.dummy.DummyCache",
    }
)


@register()
def shared_cache_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Outside development the burst limiter needs a cache shared by every process (REDIS_URL)."""
    if settings.DEBUG or settings.RATELIMIT_ALLOW_LOCAL_CACHE:
        return []
    alias = getattr(settings, "RATELIMIT_USE_CACHE", "default")
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    if backend not in UNSHARED_CACHE_BACKENDS:
        return []
    return [
        Error(
            f"DEBUG is off and the rate-limit cache {alias!r} ({backend}) is not shared between processes.",
            hint="Set REDIS_URL, or RATELIMIT_ALLOW_LOCAL_CACHE=1 for a deliberate single-process deployment.",
            id="accounts.E001",
        )
    ]


@register()
def supabase_settings_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    url = settings.SUPABASE_JWKS_URL
    if url and not url.startswith(("https://", "http://")):
        errors.append(Error(f"SUPABASE_JWKS_URL must be an http(s) URL, not {url!r}.", id="accounts.E002"))
    if not settings.SUPABASE_JWT_AUDIENCE:
        errors.append(Error("SUPABASE_JWT_AUDIENCE must not be empty.", id="accounts.E003"))
    return errors


@register()
def quota_settings_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    limits = settings.QUOTA_DAILY_LIMITS
    bad = [t for t in Tier.values if t not in limits or not (limits[t] is None or isinstance(limits[t], int))]
    if not bad:
        return []
    return [
        Error(
            f"QUOTA_DAILY_LIMITS needs an integer (or None for unlimited) for the tiers: {', '.join(bad)}.",
            id="accounts.E004",
        )
    ]
