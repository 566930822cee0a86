"""The daily quota on the memory endpoints, as a mixin for their viewsets.

Order inside DRF's ``initial``: authentication and permissions (an anonymous or refused request stops there
and is never counted), then the throttles (the per-user burst limit, accounts.ratelimit.UserBurstThrottle),
then one atomic count. A request whose answer is not a
success (2xx) is refunded in ``finalize_response``, so validation errors, 403s, 405s and server errors never
use up the day's quota. Every response that went through the count carries the X-RateLimit-* headers.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.db import DatabaseError
from django.utils import timezone
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services
from accounts.authentication import request_user
from accounts.services import UsageStatus
from core.exceptions import Limited
from core.timing import phase

logger = logging.getLogger(__name__)

# Preflights and OPTIONS do no work: they are neither counted nor limited.
UNCOUNTED_METHODS = frozenset({"OPTIONS"})


class QuotaExceeded(Limited):
    """Over the tier's daily request limit."""


def seconds_until(moment: Any) -> int:
    return max(math.ceil((moment - timezone.now()).total_seconds()), 1)


def quota_headers(usage: UsageStatus) -> dict[str, str]:
    unlimited = usage.limit is None
    return {
        "X-RateLimit-Limit": "unlimited" if unlimited else str(usage.limit),
        "X-RateLimit-Remaining": "unlimited" if unlimited else str(usage.remaining),
        "X-RateLimit-Reset": str(int(usage.reset_at.timestamp())),
    }


class DailyQuotaMixin:
    """List first among a viewset's bases: ``class SaveViewSet(DailyQuotaMixin, viewsets.ViewSet)``."""

    daily_quota = True  # read by core.openapi: 429 is a documented answer
    # Actions that are not requests of the quota (following an import's progress).
    uncounted_actions: frozenset[str] = frozenset()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        with phase("auth"):
            super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if request.method in UNCOUNTED_METHODS or getattr(self, "action", None) in self.uncounted_actions:
            return
        user = request_user(request)
        with phase("quota"):
            usage = services.usage_consume(user=user)
        request.quota_usage = usage  # type: ignore[attr-defined]
        if not usage.allowed:
            tier = user.tier
            raise QuotaExceeded(
                f"Daily limit of {usage.limit} requests reached for the {tier} tier",
                extra={
                    "limit": usage.limit,
                    "tier": tier,
                    "reset_at": usage.reset_at.isoformat().replace("+00:00", "Z"),
                },
                retry_after=seconds_until(usage.reset_at),
            )

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        usage: UsageStatus | None = getattr(request, "quota_usage", None)
        if usage is not None:
            if usage.allowed and not status.is_success(response.status_code):
                usage = _refund(request, usage)
            for name, value in quota_headers(usage).items():
                response[name] = value
        return response


def _refund(request: Request, usage: UsageStatus) -> UsageStatus:
    request.quota_usage = None  # type: ignore[attr-defined]
    try:
        return services.usage_refund(user=request_user(request), usage=usage)
    except DatabaseError:
        # The answer is already an error; don't turn it into a 500. The user loses one request of today's quota.
        logger.exception("could not refund a quota request")
        return usage
