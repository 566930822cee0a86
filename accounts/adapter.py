"""django-allauth's account adapter: the few places where allauth's flows meet this project's own rules."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest

from accounts import services
from accounts.ratelimit import forwarded_client_ip


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        """A person who signs up on the web page starts with their "Personal" space, like every other door."""
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            services.space_default(user=user)
        return user

    def set_password(self, user: Any, password: str) -> None:
        """Every new password (a reset by email, a change while signed in) also signs the extension out.

        Web sessions end by themselves (Django binds each to the password hash); the extension's refresh tokens
        are revoked here, so its access token dies within JWT_ACCESS_LIFETIME_SECONDS.
        """
        super().set_password(user, password)
        services.refresh_tokens_revoke_all(user=user)

    def get_client_ip(self, request: HttpRequest) -> str:
        """The same client address django-ratelimit's per-IP limits use (RATELIMIT_IP_META_KEY)."""
        if settings.RATELIMIT_IP_META_KEY == "accounts.ratelimit.forwarded_client_ip":
            return forwarded_client_ip(request) or super().get_client_ip(request)
        return super().get_client_ip(request)
