"""The admin key: ``X-Admin-Key`` header or the ``?admin_key=`` query parameter, compared in constant time.

There is no default key: with ``ADMIN_API_KEY`` unset every key is refused (staff JWTs still work). Wrong keys
are counted per client IP; past ``ADMIN_KEY_FAILURE_RATE`` the IP is answered 429 until the window ends, even
with the right key, so guessing is slower than any user quota.
"""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django_ratelimit.core import get_usage
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.ratelimit import BurstLimited

ADMIN_KEY_AUTH = "admin-key"
FAILURE_GROUP = "admin-key-failures"


class AdminKeyUser(AnonymousUser):
    """The caller who presented the admin key: no account, but staff for this endpoint."""

    def __str__(self) -> str:
        return "admin key"


def presented_key(request: Request) -> str | None:
    header = request.META.get("HTTP_X_ADMIN_KEY")
    if header is not None:
        return str(header)
    value = request.query_params.get("admin_key")
    return None if value is None else str(value)


def key_matches(candidate: str) -> bool:
    expected = settings.ADMIN_API_KEY
    if not expected:
        return False
    return hmac.compare_digest(candidate.encode("utf-8"), expected.encode("utf-8"))


def _failures(request: Request, *, increment: bool) -> dict[str, Any] | None:
    try:
        return get_usage(
            request, group=FAILURE_GROUP, key="ip", rate=settings.ADMIN_KEY_FAILURE_RATE, increment=increment
        )
    except Exception:  # the limiter's cache is down: the key comparison still decides
        return None


def _refuse_if_locked_out(request: Request) -> None:
    usage = _failures(request, increment=False)
    # time_left is 0 in a window's last second (django-ratelimit's window ends at a whole second): still locked;
    # -1 is its marker for a cache that failed.
    if usage and usage["count"] >= usage["limit"] and usage["time_left"] >= 0:
        retry = max(int(usage["time_left"]), 1)
        raise BurstLimited(
            f"Too many wrong admin keys from this address; retry in {retry} seconds",
            retry_after=retry,
        )


class AdminKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[AdminKeyUser, str] | None:
        candidate = presented_key(request)
        if candidate is None:
            return None  # the JWT classes may still authenticate a staff user
        _refuse_if_locked_out(request)
        if not key_matches(candidate):
            _failures(request, increment=True)
            raise exceptions.AuthenticationFailed("Invalid admin key")
        return AdminKeyUser(), ADMIN_KEY_AUTH

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class IsAdminKeyOrStaff(BasePermission):
    message = "Staff only: send the admin key (X-Admin-Key) or a staff user's token"

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.auth == ADMIN_KEY_AUTH:
            return True
        user = request.user
        return bool(user is not None and user.is_authenticated and user.is_staff)


class AdminKeyScheme(OpenApiAuthenticationExtension):
    target_class = "dashboard.api.authentication.AdminKeyAuthentication"
    name = "adminKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-Admin-Key"}
