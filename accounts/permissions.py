"""Permissions for personal access tokens: their scope everywhere, and the endpoints they may not use at all."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from accounts.models import PersonalAccessToken
from accounts.oauth import OAuthAccess


def access_token_of(request: Request) -> PersonalAccessToken | OAuthAccess | None:
    """The access token the request authenticated with (a personal one, or a connected app's OAuth token), or
    None (a JWT, a session). Both carry ``can_write``: the same scope rules hold for both."""
    return request.auth if isinstance(request.auth, PersonalAccessToken | OAuthAccess) else None


class TokenScopePermission(BasePermission):
    """A read token may only read: GET, HEAD and OPTIONS. Every other method needs the write scope (403)."""

    message = "This access token is read-only: saving, changing and deleting need a token with the write scope"

    def has_permission(self, request: Request, view: Any) -> bool:
        token = access_token_of(request)
        return token is None or request.method in SAFE_METHODS or token.can_write


class NoAccessToken(BasePermission):
    """Managing tokens and signing in to the web page take the person's own sign-in (a JWT or the /app/ session),
    never an access token (personal, or a connected app's): a leaked token must not mint more tokens or open the
    account's page."""

    message = (
        "A personal access token cannot be used here (nor a connected app's): sign in (a JWT from /auth/token/, "
        "or /app/) instead"
    )

    def has_permission(self, request: Request, view: Any) -> bool:
        return access_token_of(request) is None


class NoAccessTokenToChange(NoAccessToken):
    """An access token may read what it holds (GET), but only the person's own sign-in changes it (/me/spaces)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in SAFE_METHODS or super().has_permission(request, view)
