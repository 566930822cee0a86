"""Verification of Supabase access tokens (the browser extension signs people in with Supabase).

Each accepted algorithm is pinned to its own key source: HS256 only with SUPABASE_JWT_SECRET, RS256/ES256 only
with a key of that type from SUPABASE_JWKS_URL. ``alg: none``, other algorithms, and an HS256 token MAC'd with
a public key are refused before any signature check. Supabase issues anon and service_role keys with the same
signer, so ``aud`` and ``role`` are what separate a person's token from them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings

from accounts.jwks import ASYMMETRIC_ALGORITHMS, JWKSError, jwks_cache

REQUIRED_CLAIMS = ["exp", "sub", "aud", "role"]
ACCEPTED_ROLE = "authenticated"


class SupabaseTokenError(Exception):
    """The token is not an acceptable Supabase access token; the message says why."""


@dataclass(frozen=True)
class SupabaseIdentity:
    user_id: uuid.UUID
    email: str
    claims: dict[str, Any]


def supabase_enabled() -> bool:
    return bool(settings.SUPABASE_JWT_SECRET or settings.SUPABASE_JWKS_URL)


def supabase_token_verify(token: str) -> SupabaseIdentity:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise SupabaseTokenError("malformed token") from exc
    algorithm = header.get("alg")
    key = _verification_key(algorithm, header.get("kid"))  # refuses anything but the pinned algorithms
    assert isinstance(algorithm, str)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=settings.SUPABASE_JWT_AUDIENCE,
            issuer=settings.SUPABASE_JWT_ISSUER or None,
            leeway=settings.SUPABASE_JWT_LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS, "verify_signature": True},
        )
    except jwt.ExpiredSignatureError as exc:
        raise SupabaseTokenError("token has expired") from exc
    except jwt.InvalidAudienceError as exc:
        raise SupabaseTokenError(f"audience must be {settings.SUPABASE_JWT_AUDIENCE!r}") from exc
    except jwt.InvalidSignatureError as exc:
        raise SupabaseTokenError("signature verification failed") from exc
    except jwt.PyJWTError as exc:
        raise SupabaseTokenError(str(exc)) from exc
    return _identity(claims)


def _verification_key(algorithm: Any, kid: Any) -> Any:
    if algorithm == "HS256":
        if not settings.SUPABASE_JWT_SECRET:
            raise SupabaseTokenError("HS256 tokens are not accepted (SUPABASE_JWT_SECRET is not set)")
        return settings.SUPABASE_JWT_SECRET
    if algorithm in ASYMMETRIC_ALGORITHMS:
        if not settings.SUPABASE_JWKS_URL:
            raise SupabaseTokenError(f"{algorithm} tokens are not accepted (SUPABASE_JWKS_URL is not set)")
        if not isinstance(kid, str) or not kid:
            raise SupabaseTokenError("token has no key id (kid)")
        try:
            jwk = jwks_cache(
                settings.SUPABASE_JWKS_URL,
                max_age=settings.SUPABASE_JWKS_CACHE_SECONDS,
                timeout=settings.SUPABASE_JWKS_TIMEOUT_SECONDS,
                unknown_kid_cooldown=settings.SUPABASE_JWKS_UNKNOWN_KID_COOLDOWN_SECONDS,
            ).get_key(kid)
        except JWKSError as exc:
            raise SupabaseTokenError(str(exc)) from exc
        if jwk.algorithm_name != algorithm:
            raise SupabaseTokenError(f"key {kid!r} is not a {algorithm} key")
        return jwk.key
    raise SupabaseTokenError(f"algorithm {algorithm!r} is not accepted")


def _identity(claims: dict[str, Any]) -> SupabaseIdentity:
    role = claims.get("role")
    if role != ACCEPTED_ROLE:
        raise SupabaseTokenError(f"role {role!r} is not accepted")
    sub = claims.get("sub")
    try:
        user_id = uuid.UUID(sub) if isinstance(sub, str) else None
    except ValueError:
        user_id = None
    if user_id is None:
        raise SupabaseTokenError("sub must be a user UUID")
    email = claims.get("email")
    return SupabaseIdentity(user_id=user_id, email=email if isinstance(email, str) else "", claims=claims)
