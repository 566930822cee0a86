"""The second factor, as seen by the flows that must re-check who is asking (deleting the account).

Two questions only: does this person have a second factor, and is this code one of theirs (a current TOTP code
or an unused recovery code)? Answered by django-allauth's ``allauth.mfa`` when that app is installed (the
accounts work brings it); without it no account can have a second factor, so none is asked for. Passkeys
(WebAuthn) cannot be typed into a form: an account with only a passkey is asked for its password alone.
"""

from __future__ import annotations

from django.apps import apps

from accounts.models import User

# allauth.mfa's Authenticator.Type values that a typed code answers.
CODE_TYPES = ("totp", "recovery_codes")


def _mfa_installed() -> bool:
    return apps.is_installed("allauth.mfa")


def second_factor_required(*, user: User) -> bool:
    """True when ``user`` has a TOTP authenticator: a code must accompany the password."""
    if not _mfa_installed():
        return False
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type="totp").exists()


def second_factor_verify(*, user: User, code: str) -> bool:
    """True when ``code`` is a current TOTP code or an unused recovery code of ``user`` (a recovery code is
    spent by it, a TOTP code cannot be replayed within its window)."""
    code = "".join(code.split())
    if not code or not _mfa_installed():
        return False
    from allauth.mfa.models import Authenticator

    for authenticator in Authenticator.objects.filter(user=user, type__in=CODE_TYPES):
        if authenticator.wrap().validate_code(code):
            return True
    return False
