"""OAuth 2.1 for /mcp on django-oauth-toolkit (DOT): what this project adds around it (docs/oauth.md).

DOT is the authorization server (authorization code + PKCE, tokens, refresh rotation, revocation, RFC 8414 and
RFC 9728 metadata, RFC 7591 registration). Here: which access tokens this resource honours and with what
scope (:func:`oauth_access_check`), which clients may register (:class:`RegistrationView`: redirect URIs on
https or loopback, the authorization code grant only), and the protected resource metadata of /mcp.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from oauth2_provider.models import AccessToken
from oauth2_provider.views import (
    DynamicClientRegistrationManagementView,
    DynamicClientRegistrationView,
    OAuthProtectedResourceMetadataView,
)

from accounts.models import AppConnection, Space, TokenScope, User
from accounts.ratelimit import BurstLimited, burst_check

# The scopes this resource knows (settings.OAUTH2_PROVIDER["SCOPES"]); DOT's own registration tokens carry
# another scope and are never accepted as access to memories.
RESOURCE_SCOPES = frozenset({TokenScope.READ.value, TokenScope.WRITE.value})
# What a registered client may ask for: the authorization code grant (with its refresh tokens), nothing else.
REGISTRABLE_GRANT_TYPES = frozenset({"authorization_code", "refresh_token"})
LOOPBACK_HOSTS = frozenset({"localhost"})


class OAuthRefused(Exception):
    """An OAuth access token this resource does not honour; ``reason`` is told to the client (a 401)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class OAuthAccess:
    """An honoured OAuth access token: the app's connection (the person's consent) and the token's scope."""

    token: AccessToken
    connection: AppConnection

    @property
    def user(self) -> User:
        return self.connection.user

    @property
    def can_write(self) -> bool:
        # The narrower of the two: the token's scope, and what the person allows the app today.
        return self.connection.can_write and TokenScope.WRITE.value in self.token.scope.split()

    # The spaces the person let the app use, read by accounts.spaces exactly as a personal token's.
    @property
    def spaces(self) -> Any:
        return self.connection.spaces

    def held_spaces(self) -> QuerySet[Space]:
        return self.connection.held_spaces()

    @property
    def default_space(self) -> Space | None:
        return self.connection.default_space


def _token_find(secret: str) -> AccessToken | None:
    checksum = hashlib.sha256(secret.encode("utf-8")).hexdigest()
    return AccessToken.objects.select_related("application", "user").filter(token_checksum=checksum).first()


def _audience_ok(token: AccessToken, origin: str) -> bool:
    """RFC 8707: a token bound to resources must be bound to this server (its /mcp, or the whole origin: the
    read API and /mcp are one service). A token without resource indicators was issued here for here."""
    if not token.resource:
        return True
    return any(_origin_of(resource) == origin.lower() for resource in token.resource)


def _origin_of(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}".lower()


def oauth_access_check(*, secret: str, origin: str) -> OAuthAccess:
    """The access ``secret`` gives on this server (``origin``, e.g. ``https://memory.example``), or OAuthRefused."""
    token = _token_find(secret)
    if token is None or token.user is None or not RESOURCE_SCOPES & set(token.scope.split()):
        raise OAuthRefused("unknown access token")
    if token.is_expired():
        raise OAuthRefused("this access token has expired")
    if not _audience_ok(token, origin):
        raise OAuthRefused("this access token was issued for another resource")
    connection = (
        AppConnection.objects.select_related("user", "user__preferences")
        .filter(user=token.user, application=token.application)
        .first()
    )
    if connection is None:
        raise OAuthRefused("this app was disconnected")
    return OAuthAccess(token=token, connection=connection)


# --- Registration (RFC 7591) ------------------------------------------------------------------------------


def redirect_uri_allowed(uri: str) -> bool:
    """https anywhere, http only to this machine (loopback, RFC 8252 §7.3), never a fragment (OAuth 2.1)."""
    parts = urlsplit(uri)
    if parts.fragment or not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and _is_loopback(parts.hostname)


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def registration_refusal(metadata: Any) -> tuple[str, str] | None:
    """Why this server refuses client ``metadata`` (RFC 7591 error code, description), or None to let DOT go on."""
    if not isinstance(metadata, dict):
        return None  # DOT answers malformed bodies itself
    uris = metadata.get("redirect_uris")
    if not isinstance(uris, list) or not uris:
        return "invalid_redirect_uri", "redirect_uris must be a non-empty array"
    for uri in uris:
        if not isinstance(uri, str) or not redirect_uri_allowed(uri):
            return "invalid_redirect_uri", f"{uri!r} is not allowed: use https, or http on a loopback address"
    grant_types = metadata.get("grant_types", ["authorization_code"])
    if not isinstance(grant_types, list) or not set(grant_types) <= REGISTRABLE_GRANT_TYPES:
        return "invalid_client_metadata", "grant_types may only be authorization_code and refresh_token"
    response_types = metadata.get("response_types", ["code"])
    if not isinstance(response_types, list) or set(response_types) != {"code"}:
        return "invalid_client_metadata", "response_types may only be code"
    return None


class _RegistrationPolicy:
    def _refused(self, request: HttpRequest) -> HttpResponse | None:
        try:
            metadata = json.loads(request.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None  # DOT's own answer for a body that is not JSON
        refusal = registration_refusal(metadata)
        if refusal is None:
            return None
        error, description = refusal
        return JsonResponse({"error": error, "error_description": description}, status=400)


class RegistrationView(_RegistrationPolicy, DynamicClientRegistrationView):
    """RFC 7591 registration, open to anyone (an MCP client registers before the person signs in), limited to
    what a connector needs. A registered client can do nothing until a person consents on /app/."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:  # open to anyone, so held to the sign-in form's pace per client address (RATELIMIT_AUTH_RATE)
            burst_check(request, group="oauth-register", key="ip", rate=settings.RATELIMIT_AUTH_RATE)
        except BurstLimited as exc:
            body = {"error": "temporarily_unavailable", "error_description": exc.message}
            return JsonResponse(body, status=429, headers={"Retry-After": str(exc.retry_after)})
        return self._refused(request) or super().post(request, *args, **kwargs)


class RegistrationManagementView(_RegistrationPolicy, DynamicClientRegistrationManagementView):
    """RFC 7592 (the client's own registration, with its registration access token): the same limits on PUT."""

    def put(self, request: HttpRequest, client_id: str, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._refused(request) or super().put(request, client_id, *args, **kwargs)


# --- Protected resource metadata (RFC 9728) ------------------------------------------------------------------


class ProtectedResourceMetadataView(OAuthProtectedResourceMetadataView):
    """``/.well-known/oauth-protected-resource[/mcp]``: DOT's document, with this resource's scopes."""

    def get_scopes_supported(self) -> list[str]:
        return sorted(RESOURCE_SCOPES)


def mcp_resource_metadata_url(request: HttpRequest) -> str:
    """The RFC 9728 document of /mcp (the path-suffixed form the MCP specification looks for first)."""
    path = reverse("oauth2_provider:oauth-resource-metadata-mcp")
    return request.build_absolute_uri(path)


def bearer_challenge(request: HttpRequest, *, error: str | None = None, description: str | None = None) -> str:
    """``WWW-Authenticate`` for /mcp's 401: where to find the authorization server, and the scopes to ask for."""
    params = {"resource_metadata": mcp_resource_metadata_url(request), "scope": "read write"}
    if error:
        params = {"error": error, **({"error_description": description} if description else {}), **params}
    return "Bearer " + ", ".join(f'{key}="{_quoted(value)}"' for key, value in params.items())


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "")
