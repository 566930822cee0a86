from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from accounts.models import User
from core.fields import StrictCharField, StrictEmailField


class RegisterInput(serializers.Serializer):
    """Only these three fields are read: anything else in the body (tier, is_staff, id, ...) is ignored."""

    username = StrictCharField(max_length=150, validators=[UnicodeUsernameValidator()])
    email = StrictEmailField(max_length=254)
    password = StrictCharField(max_length=128, write_only=True, trim_whitespace=False)

    def validate_username(self, value: str) -> str:
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError("A user with that username already exists.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        candidate = User(username=attrs["username"], email=attrs["email"])
        try:
            password_validation.validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs


class UserOutput(serializers.Serializer):
    user_id = serializers.UUIDField(source="pk")
    username = serializers.CharField()
    email = serializers.EmailField()
    tier = serializers.CharField()


class UsageOutput(serializers.Serializer):
    day = serializers.DateField()
    used = serializers.IntegerField()
    limit = serializers.IntegerField(allow_null=True, help_text="null: unlimited")
    remaining = serializers.IntegerField(allow_null=True, help_text="null: unlimited")
    reset_at = serializers.DateTimeField(help_text="the next midnight UTC")


class MeOutput(serializers.Serializer):
    user_id = serializers.UUIDField()
    username = serializers.CharField()
    email = serializers.EmailField()
    tier = serializers.CharField()
    usage = UsageOutput()


class WebLoginLinkOutput(serializers.Serializer):
    url = serializers.CharField(help_text="Open it in a browser (relative to this server) to sign in to /app/ once.")
    expires_in = serializers.IntegerField(help_text="Seconds the link stays valid (WEB_LOGIN_LINK_SECONDS).")
