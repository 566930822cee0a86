"""The MCP tools' arguments, validated like the API's own input (the same fields, caps and messages)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from accounts.api.serializers import SpaceRefField
from core.fields import StrictCharField, StrictIntegerField
from memories.fields import ProviderField

RECENT_DEFAULT = 10
RECENT_MAX = 50


class _Arguments(serializers.Serializer):
    """A tool's arguments: a name the tool does not take is refused (an assistant learns from the message)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({unknown[0]: "is not an argument of this tool"})
        return super().to_internal_value(data)


def _optional(field: type[serializers.Field], **kwargs: Any) -> serializers.Field:
    # Assistants often send null for an optional argument they do not use: the same as leaving it out.
    return field(required=False, allow_null=True, default=None, **kwargs)


class SearchArguments(_Arguments):
    space = SpaceRefField(default=None)  # resolved by accounts.spaces: the token's default when left out
    query = StrictCharField(max_length=settings.MEMORY_MAX_QUERY_CHARS)
    max_tokens = _optional(StrictIntegerField, min_value=0, max_value=settings.CONTEXT_MAX_TOKENS_LIMIT)
    provider = _optional(ProviderField, max_length=32)
    since = _optional(serializers.DateTimeField)
    until = _optional(serializers.DateTimeField)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["since"] and attrs["until"] and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"since": "must not be after until"})
        return attrs


class SaveArguments(_Arguments):
    space = SpaceRefField(default=None)  # resolved by accounts.spaces: the token's default when left out
    text = StrictCharField(max_length=settings.MEMORY_MAX_TEXT_CHARS, trim_whitespace=False)
    provider = ProviderField(required=False, allow_null=True, default="mcp", max_length=32)

    def validate_text(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {**attrs, "provider": attrs["provider"] or "mcp"}


class RecentArguments(_Arguments):
    space = SpaceRefField(default=None)  # resolved by accounts.spaces: the token's default when left out
    limit = StrictIntegerField(
        required=False, allow_null=True, default=RECENT_DEFAULT, min_value=1, max_value=RECENT_MAX
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {**attrs, "limit": attrs["limit"] or RECENT_DEFAULT}


class ForgetArguments(_Arguments):
    space = SpaceRefField(default=None)  # resolved by accounts.spaces: the token's default when left out
    memory_id = StrictIntegerField(min_value=1)
