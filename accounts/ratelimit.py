"""Burst protection with django-ratelimit: per client IP on the sign-up and token endpoints, per user on the API.

The per-user limit is a DRF throttle (:class:`UserBurstThrottle`, in ``DEFAULT_THROTTLE_CLASSES``): DRF checks
throttles after authentication and permissions, so the key is the token's user rather than Django's anonymous
user (one shared bucket), and a refused request is never counted. A view that must not be limited says so with
``throttle_classes = []`` (or ``get_throttles``). They use django-ratelimit's counting (``get_usage``) directly to
answer 429 with the envelope and an accurate ``Retry-After``. If the cache itself fails (Redis down), the
request is let through and logged: the durable daily quota still applies, and a limiter outage must not take
the whole API down.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.exceptions import Limited

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

_PERIOD_WORDS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


class BurstLimited(Limited):
    """Over a burst limit (django-ratelimit's window)."""


def user_key(group: str, request: HttpRequest | Request) -> str:
    return str(request.user.pk)  # type: ignore[union-attr]


def forwarded_client_ip(request: HttpRequest | Request) -> str:
    """The client address behind RATELIMIT_TRUSTED_PROXIES reverse proxies that append to X-Forwarded-For.

    For ``RATELIMIT_IP_META_KEY = "accounts.ratelimit.forwarded_client_ip"``. Entries left of the ones the trusted
    proxies appended were written by the client and are ignored (a client could name any address there).
    """
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    hops = max(int(settings.RATELIMIT_TRUSTED_PROXIES), 1)
    if len(forwarded) >= hops:
        return forwarded[-hops]
    return str(request.META.get("REMOTE_ADDR", ""))


def burst_check(request: HttpRequest | Request, *, group: str, key: str | Callable[[str, Any], str], rate: str) -> None:
    """Count this request in ``group`` and raise :class:`BurstLimited` if it goes over ``rate``."""
    try:
        usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
    except Exception:
        logger.exception("rate limiter unavailable; letting the request through")
        return
    if usage is None:
        return
    if usage["time_left"] < 0:  # django-ratelimit's marker for a failed cache add/incr
        logger.error("rate limiter cache failed; letting the request through")
        return
    if usage["should_limit"]:
        retry_after = max(int(usage["time_left"]), 1)
        raise BurstLimited(
            f"Too many requests: the limit is {_describe(rate)}; retry in {retry_after} seconds",
            retry_after=retry_after,
        )


def _describe(rate: str) -> str:
    count, _, period = rate.partition("/")
    unit = period[-1:].lower()
    multiple = period[:-1]
    word = _PERIOD_WORDS.get(unit, "period")
    return f"{count} per {multiple + ' ' + word + 's' if multiple else word}"


def burst_limited_by_ip(group: str) -> Callable[[F], F]:
    """Decorate a DRF handler method (``post``): at most RATELIMIT_AUTH_RATE requests per client IP."""

    def decorator(handler: F) -> F:
        @functools.wraps(handler)
        def wrapped(view: Any, request: Request, *args: Any, **kwargs: Any) -> Any:
            burst_check(request, group=group, key="ip", rate=settings.RATELIMIT_AUTH_RATE)
            return handler(view, request, *args, **kwargs)

        wrapped.burst_limited = True  # type: ignore[attr-defined]  # the OpenAPI schema documents its 429
        return wrapped  # type: ignore[return-value]

    return decorator


class UserBurstThrottle(BaseThrottle):
    """At most RATELIMIT_API_RATE requests per authenticated user, over every throttled endpoint together.

    Over the limit it raises :class:`BurstLimited` itself rather than answering ``False``: DRF's ``Throttled``
    would say neither the rate nor django-ratelimit's exact end of window (``Retry-After``). Anonymous callers
    (sign-up, tokens: limited per IP by :func:`burst_limited_by_ip`; the admin key) and OPTIONS pass.
    """

    group = "api"

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method == "OPTIONS" or not getattr(request.user, "is_authenticated", False):
            return True
        burst_check(request, group=self.group, key=user_key, rate=settings.RATELIMIT_API_RATE)
        return True
