from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.models import update_last_login
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenObtainSerializer,
    TokenRefreshSerializer,
)
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from accounts import services
from accounts.models import PROVIDERS, SPACE_NAME_MAX_CHARS, TokenScope, User
from core.fields import StrictBooleanField, StrictCharField, StrictEmailField, StrictIntegerField
from core.inputs import InputSerializer


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}], "nullable": True})
class SpaceRefField(serializers.Field):
    """A space named in a request body: its id, taken as sent. The resolver (accounts.spaces) reads it before
    validation and answers a malformed, unknown or foreign id with 404, the same as another person's memory."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault(
            "help_text",
            "The space's id (GET /me/spaces). Left out: the X-Memory-Space header's, else your default space "
            "(with an access token: the token's default space).",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class SpaceOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    is_default = serializers.BooleanField(help_text="Used when a request names no space.")
    memories = serializers.IntegerField(help_text="How many memories it holds.")


class SpaceRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SpaceCreateInput(InputSerializer):
    name = StrictCharField(max_length=SPACE_NAME_MAX_CHARS, help_text="Unique among your spaces, whatever the case.")
    is_default = StrictBooleanField(required=False, default=False, help_text="Make it the default space.")


class SpaceUpdateInput(InputSerializer):
    name = StrictCharField(max_length=SPACE_NAME_MAX_CHARS, required=False)
    is_default = StrictBooleanField(
        required=False, help_text="true: make it the default space (false on the default is refused)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Nothing to change: send name and/or is_default")
        return attrs


class SpaceDeleteQuery(InputSerializer):
    ignore_unknown_fields = True  # a query string: docs/api-policy.md

    memories = serializers.ChoiceField(
        choices=["delete", "move"],
        help_text="delete: the space's memories are deleted for good; move: they move into `to` first.",
    )
    to = SpaceRefField(help_text="With memories=move: the id of the space they move to.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["memories"] == "move" and attrs.get("to") in (None, ""):
            raise serializers.ValidationError({"to": "name the space the memories move to."})
        return attrs


class SpaceMergeInput(InputSerializer):
    into = SpaceRefField(required=True, allow_null=False, help_text="The id of the space that receives every memory.")


class RegisterInput(InputSerializer):
    """Only these three fields are read: anything else in the body (tier, is_staff, id, ...) is ignored."""

    ignore_unknown_fields = True  # a contract endpoint: lenient for the clients that call it (docs/api-policy.md)

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


MAX_EXCLUDED_PHRASES = 100


class ProvidersField(serializers.DictField):
    """{provider: bool} for some or all of the four assistants; any other key is refused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=StrictBooleanField(), **kwargs)

    def to_internal_value(self, data: Any) -> dict[str, bool]:
        value = super().to_internal_value(data)
        unknown = sorted(set(value) - set(PROVIDERS))
        if unknown:
            raise serializers.ValidationError(f"unknown provider {unknown[0]!r}; use {', '.join(PROVIDERS)}")
        return dict(value)


class PreferencesInput(InputSerializer):
    """PATCH /me/settings: any subset of the settings; a key that is not a setting is refused.

    The fields are built in ``get_fields`` because one of them is called ``context``, which a class attribute
    would shadow DRF's ``Serializer.context`` with.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "capture": StrictBooleanField(required=False),
            "providers": ProvidersField(required=False),
            "context": StrictBooleanField(required=False),
            "redact_pii": StrictBooleanField(required=False),
            "excluded_phrases": serializers.ListField(
                child=StrictCharField(max_length=200), required=False, max_length=MAX_EXCLUDED_PHRASES
            ),
        }

    def unknown_fields_error(self, names: list[str]) -> Any:
        return {names[0]: "is not a setting"}


class PreferencesOutput(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:  # see PreferencesInput for why not class attributes
        return {
            "capture": serializers.BooleanField(),
            "providers": serializers.DictField(child=serializers.BooleanField()),
            "context": serializers.BooleanField(),
            "redact_pii": serializers.BooleanField(),
            "excluded_phrases": serializers.ListField(child=serializers.CharField()),
        }


class WebLoginLinkOutput(serializers.Serializer):
    url = serializers.CharField(help_text="Open it in a browser (relative to this server) to sign in to /app/ once.")
    expires_in = serializers.IntegerField(help_text="Seconds the link stays valid (WEB_LOGIN_LINK_SECONDS).")


class AccessTokenInput(InputSerializer):
    """POST /me/tokens: a name to recognize the token by, its scope and, optionally, when it stops working."""

    name = StrictCharField(max_length=100, help_text="What the token is for, e.g. 'Claude Desktop on my laptop'.")
    scope = serializers.ChoiceField(
        choices=TokenScope.values,
        default=TokenScope.READ,
        help_text="read: search and list only; write: also save, change and delete.",
    )
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Refused from this time on; null: never expires."
    )
    spaces = serializers.ListField(
        child=StrictIntegerField(min_value=1),
        required=False,
        allow_empty=False,
        max_length=100,
        help_text="The ids of the spaces the token may use (default: your default space). A request with the "
        "token that names no space uses the default one among them.",
    )

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value.strip()


class AccessTokenOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    scope = serializers.CharField()
    prefix = serializers.CharField(help_text="The token's first characters, to tell tokens apart.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="To the minute.")
    revoked_at = serializers.DateTimeField(allow_null=True)
    spaces = SpaceRefOutput(many=True, help_text="The spaces the token may use.")
    default_space = SpaceRefOutput(allow_null=True, help_text="Used when a request with the token names none.")


class CreatedAccessTokenOutput(AccessTokenOutput):
    token = serializers.CharField(help_text="The token itself: shown in this answer only, never again.")


class TokenObtainInput(TokenObtainPairSerializer):
    """POST /auth/token/: simplejwt's pair, plus ``otp`` for an account with two-factor sign-in.

    The second factor is checked after the password and before any token is made: a refused request leaves no
    outstanding refresh token behind.
    """

    otp = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=64,
        write_only=True,
        help_text="With two-factor sign-in on: the authenticator app's current code, or one recovery code.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # TokenObtainPairSerializer.validate with the check between authenticating and making the tokens.
        data: dict[str, Any] = TokenObtainSerializer.validate(self, attrs)  # self.user, or simplejwt's 401
        services.token_second_factor_check(user=self.user, code=attrs.get("otp") or None)  # type: ignore[arg-type]
        refresh = self.get_token(self.user)  # type: ignore[type-var]  # authenticated: never None here
        data["refresh"] = str(refresh)
        data["access"] = str(refresh.access_token)  # type: ignore[attr-defined]
        if jwt_settings.UPDATE_LAST_LOGIN:
            update_last_login(None, self.user)  # type: ignore[arg-type]
        return data


class TokenRefreshInput(TokenRefreshSerializer):
    """simplejwt's refresh, unchanged, except that a token whose account was deleted is refused (401) rather than
    failing (simplejwt looks the user up with ``get``)."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        try:
            return super().validate(attrs)
        except User.DoesNotExist as exc:
            raise AuthenticationFailed(str(self.error_messages["no_active_account"]), "no_active_account") from exc
