"""The second factor, for every flow that checks a typed code: the password token endpoint the extension uses
and the re-check before deleting the account. (The /app/ sign-in page is allauth's own.)

django-allauth's ``allauth.mfa`` answers both questions through its own ``AuthenticateForm``, so every door
shares its rules: one per-user limit on wrong codes (ACCOUNT_RATE_LIMITS "login_failed"), a TOTP code accepted
once, a recovery code spent, the authenticator's last use recorded. Passkeys (WebAuthn) cannot be typed into a
form: to delete an account that has only a passkey, its password is asked alone; the token endpoint, which
hands out long-lived sign-ins, asks any account with a second factor for a code (a recovery code serves).
"""

from __future__ import annotations

from allauth.mfa.base.forms import AuthenticateForm
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled

from accounts.models import User

# allauth.mfa's Authenticator.Type values that a typed code answers.
CODE_TYPES = (Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES)


def second_factor_required(*, user: User) -> bool:
    """True when ``user`` has a TOTP authenticator: a code must accompany the password."""
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def second_factor_enabled(*, user: User) -> bool:
    """True when ``user`` has any second factor (TOTP, passkey or recovery codes)."""
    return is_mfa_enabled(user)


def second_factor_refusal(*, user: User, code: str) -> str | None:
    """None when ``code`` is a current TOTP code or an unused recovery code of ``user`` (and spends it); else
    why not, in allauth's words."""
    code = "".join(code.split())
    if not code or not Authenticator.objects.filter(user=user, type__in=CODE_TYPES).exists():
        return "Incorrect code."
    form = AuthenticateForm(data={"code": code}, user=user)
    if not form.is_valid():
        return " ".join(form.errors.get("code", [])) or "Incorrect code."
    form.authenticator.record_usage()
    return None


def second_factor_verify(*, user: User, code: str) -> bool:
    """True when ``code`` is accepted by :func:`second_factor_refusal`."""
    return second_factor_refusal(user=user, code=code) is None
