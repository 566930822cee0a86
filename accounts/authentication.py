from __future__ import annotations

from typing import Any

import jwt
from django.utils import timezone
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts import selectors, services
from accounts.models import ACCESS_TOKEN_PREFIX, PersonalAccessToken, User
from accounts.oauth import OAuthAccess, OAuthRefused, oauth_access_check
from accounts.supabase import SupabaseTokenError, supabase_enabled, supabase_token_verify


def request_user(request: Request) -> User:
    """The account behind an authenticated request, typed: views behind ``IsAuthenticated`` call this rather than
    reading ``request.user`` (typed by DRF as Django's ``AbstractBaseUser | AnonymousUser``). Anything else (no
    user, the admin key's caller) is 401, never someone's data."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def invalid_token(reason: str) -> AuthenticationFailed:
    # The same shape and code as simplejwt's own refusals, so both come out of the envelope handler alike.
    return AuthenticationFailed({"detail": f"Invalid token: {reason}", "code": "token_not_valid"})


def _bearer_secret(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None for any other header or none."""
    parts = get_authorization_header(request).split()
    if len(parts) != 2 or parts[0].lower() != b"bearer":
        return None
    return parts[1].decode("latin-1")


def _active(user: User) -> User:
    if not user.is_active:
        raise AuthenticationFailed({"detail": "User is inactive", "code": "user_inactive"})
    return user


class _OpaqueBearerAuthentication(BaseAuthentication):
    """A bearer token this service looks up (not a JWT): answers 401 with the API's realm when it is listed
    first."""

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class PersonalTokenAuthentication(_OpaqueBearerAuthentication):
    """``Authorization: Bearer mlk_...``: a personal access token (POST /me/tokens), with its scope.

    Listed first: anything that is not a personal token (no ``mlk_`` prefix) is left to the JWT classes. A
    revoked or expired token is refused at once (401): the token row is read on every request, by its hash.
    ``request.auth`` is the token, which ``accounts.permissions.TokenScopePermission`` checks.
    """

    def authenticate(self, request: Request) -> tuple[User, PersonalAccessToken] | None:
        secret = _bearer_secret(request)
        if secret is None or not secret.startswith(ACCESS_TOKEN_PREFIX):
            return None
        token = selectors.access_token_find(secret=secret)
        if token is None:
            raise invalid_token("unknown personal access token")
        if token.revoked_at is not None:
            raise invalid_token("this personal access token was revoked")
        if token.expires_at is not None and token.expires_at <= timezone.now():
            raise invalid_token("this personal access token has expired")
        user = _active(token.user)
        services.access_token_touch(token=token)
        return user, token


class OAuthTokenAuthentication(_OpaqueBearerAuthentication):
    """``Authorization: Bearer <token>`` from an app the person connected through OAuth (docs/oauth.md).

    After the personal token class, before the JWT classes: a personal token (``mlk_``) and a JWT (three
    dot-separated parts) are left to them; anything else is looked up among django-oauth-toolkit's access tokens
    (by its SHA-256: they are stored hashed). ``request.auth`` is an :class:`accounts.oauth.OAuthAccess`, whose
    ``can_write`` ``TokenScopePermission`` checks exactly as a personal token's.
    """

    def authenticate(self, request: Request) -> tuple[User, OAuthAccess] | None:
        secret = _bearer_secret(request)
        if secret is None or secret.startswith(ACCESS_TOKEN_PREFIX) or secret.count(".") == 2:
            return None
        try:
            access = oauth_access_check(secret=secret, origin=request.build_absolute_uri("/").rstrip("/"))
        except OAuthRefused as exc:
            raise invalid_token(exc.reason) from exc
        return _active(access.user), access


class SupabaseJWTAuthentication(JWTAuthentication):
    """Bearer tokens issued by Supabase; the first valid one provisions the user whose id is ``sub``.

    Listed before simplejwt's class: tokens this service issued itself carry a ``token_type`` claim (Supabase's
    never do) and are left to simplejwt, as is everything when no Supabase key source is configured.
    """

    def authenticate(self, request: Request) -> tuple[User, dict[str, Any]] | None:  # type: ignore[override]
        header = self.get_header(request)
        raw = self.get_raw_token(header) if header is not None else None
        if raw is None or not supabase_enabled():
            return None
        token = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
        if _issued_locally(token):
            return None
        try:
            identity = supabase_token_verify(token)
        except SupabaseTokenError as exc:
            raise invalid_token(str(exc)) from exc
        user = services.supabase_user_provision(user_id=identity.user_id, email=identity.email)
        if not user.is_active:
            raise AuthenticationFailed({"detail": "User is inactive", "code": "user_inactive"})
        return user, identity.claims


def _issued_locally(token: str) -> bool:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return True  # not a JWT at all: simplejwt reports it the way it reports any malformed token
    return not isinstance(claims, dict) or "token_type" in claims


class UserJWTAuthentication(JWTAuthentication):
    """simplejwt's bearer tokens; the user comes with their preferences in the same statement (every save and
    /context call reads them). Otherwise exactly simplejwt's ``get_user``: same checks, same refusals."""

    def get_user(self, validated_token: Any) -> User:  # type: ignore[override]
        if api_settings.USER_ID_CLAIM not in validated_token:
            raise InvalidToken("Token contained no recognizable user identification")
        lookup = {api_settings.USER_ID_FIELD: validated_token[api_settings.USER_ID_CLAIM]}
        try:
            user = User.objects.select_related("preferences").get(**lookup)
        except User.DoesNotExist as exc:
            raise AuthenticationFailed("User not found", code="user_not_found") from exc
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed("The user's password has been changed.", code="password_changed")
        return user


class OAuthTokenScheme(OpenApiAuthenticationExtension):
    """OpenAPI: an access token of an app connected through OAuth (docs/oauth.md) travels as a bearer token."""

    target_class = "accounts.authentication.OAuthTokenAuthentication"
    name = "oauthToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An OAuth access token of a connected app; read scope reads, write scope also writes.",
        }


class SupabaseJWTScheme(OpenApiAuthenticationExtension):
    """OpenAPI: Supabase access tokens travel as a bearer JWT too (verified with the Supabase secret or JWKS)."""

    target_class = "accounts.authentication.SupabaseJWTAuthentication"
    name = "supabaseAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class UserJWTScheme(SimpleJWTScheme):
    """OpenAPI: the same bearer JWT scheme as simplejwt's own class (``jwtAuth``)."""

    target_class = "accounts.authentication.UserJWTAuthentication"


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    """OpenAPI: personal access tokens (``mlk_...``) travel as bearer tokens too."""

    target_class = "accounts.authentication.PersonalTokenAuthentication"
    name = "personalToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal access token from POST /me/tokens (mlk_...); a read token cannot write.",
        }
