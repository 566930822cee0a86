"""One-time web sign-in links for people whose account came from a Supabase token (they have no password).

The token is signed (``django.core.signing``, salted, with its own timestamp) and carries the user's id and a
digest of ``last_login`` (which every sign-in moves on) and the password hash. Redeeming the link therefore
spends it, as does any other sign-in or a password change; it also expires after WEB_LOGIN_LINK_SECONDS.
Nothing is stored: there is no table of links to purge.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.models import User
from core.exceptions import InvalidInput, NotAllowed

SALT = "accounts.login_links"


class LoginLinkInvalid(InvalidInput):
    """The link is expired, already used, tampered with, or for an account that cannot sign in this way."""


def _binding(user: User) -> str:
    # A digest, never the values: the signed payload is readable by whoever holds the link.
    last_login = user.last_login.isoformat() if user.last_login else ""
    value = f"{user.pk}|{last_login}|{user.password}"
    return salted_hmac(SALT, value, algorithm="sha256").hexdigest()[:32]


def login_link_token(*, user: User) -> str:
    """A token for ``/app/login/link/<token>`` that signs ``user`` in once, within WEB_LOGIN_LINK_SECONDS."""
    if user.is_staff or user.is_superuser:
        # A stolen bearer token must not become a session that opens the Django admin.
        raise NotAllowed("Staff accounts sign in to the web page with their password")
    return signing.dumps({"u": str(user.pk), "b": _binding(user)}, salt=SALT, compress=False)


def login_link_owner(*, token: str) -> uuid.UUID | None:
    """The user id a genuine token names, whether or not it is still valid; None for anything else."""
    try:
        payload: Any = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    return _uuid(payload.get("u")) if isinstance(payload, dict) else None


@transaction.atomic
def login_link_redeem(*, token: str) -> User:
    """The user a valid, unspent, unexpired token names, with the token spent; :class:`LoginLinkInvalid` otherwise.

    The row is locked while the token is checked and spent (``last_login`` moves on), so two requests racing
    with one link cannot both get through; the caller then signs the user in (``django.contrib.auth.login``).
    """
    try:
        payload: Any = signing.loads(token, salt=SALT, max_age=settings.WEB_LOGIN_LINK_SECONDS)
    except signing.SignatureExpired as exc:
        raise LoginLinkInvalid("This sign-in link has expired. Ask the extension for a new one.") from exc
    except signing.BadSignature as exc:
        raise LoginLinkInvalid("This sign-in link is not valid (it may have been cut short or altered).") from exc
    if not isinstance(payload, dict):
        raise LoginLinkInvalid("This sign-in link is not valid (it may have been cut short or altered).")
    user = _locked_user(payload.get("u"))
    if user is None or not user.is_active or user.is_staff or user.is_superuser:
        raise LoginLinkInvalid("This account cannot sign in with a link.")
    binding = payload.get("b")
    if not isinstance(binding, str) or not constant_time_compare(binding, _binding(user)):
        raise LoginLinkInvalid("This sign-in link has already been used. Ask the extension for a new one.")
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    return user


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _locked_user(user_id: Any) -> User | None:
    pk = _uuid(user_id)
    return None if pk is None else User.objects.select_for_update().filter(pk=pk).first()
