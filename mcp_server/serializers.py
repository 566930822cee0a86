"""The MCP tools' arguments, validated like the API's own input (the same fields, caps and messages).

The one definition of each tool's input: ``mcp_server.schemas`` generates the JSON schemas ``tools/list``
shows from these fields (types, bounds, required) and their ``help_text`` (the description an assistant reads).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from accounts.api.serializers import SpaceRefField
from core.fields import StrictCharField, StrictIntegerField
from memories.fields import ProviderField

# Every tool takes the space it acts on (docs/spaces.md); left out, the token's default space, never all of them.
SPACE_HELP = (
    "The id of the space to use (GET /me/spaces); left out: this token's default space. A space this token does "
    "not hold is not found."
)
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
    space = SpaceRefField(default=None, help_text=SPACE_HELP)  # accounts.spaces resolves it
    query = StrictCharField(
        max_length=settings.MEMORY_MAX_QUERY_CHARS,
        help_text="What to look for, in the person's words, e.g. 'where do I live'.",
    )
    max_tokens = _optional(
        StrictIntegerField,
        min_value=0,
        max_value=settings.CONTEXT_MAX_TOKENS_LIMIT,
        help_text=f"Token budget of the answer (default {settings.CONTEXT_MAX_TOKENS}; 0: no budget).",
    )
    provider = _optional(ProviderField, max_length=32, help_text="Only memories saved from this assistant.")
    since = _optional(serializers.DateTimeField, help_text="Only memories saved at or after this time (ISO 8601).")
    until = _optional(serializers.DateTimeField, help_text="Only memories saved at or before this time (ISO 8601).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["since"] and attrs["until"] and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"since": "must not be after until"})
        return attrs


class SaveArguments(_Arguments):
    space = SpaceRefField(default=None, help_text=SPACE_HELP)  # accounts.spaces resolves it
    text = StrictCharField(
        max_length=settings.MEMORY_MAX_TEXT_CHARS,
        trim_whitespace=False,
        help_text="What to remember, in the person's words.",
    )
    provider = ProviderField(
        required=False,
        allow_null=True,
        default="mcp",
        max_length=32,
        help_text="Which assistant this comes from (default: mcp).",
    )

    def validate_text(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {**attrs, "provider": attrs["provider"] or "mcp"}


class RecentArguments(_Arguments):
    space = SpaceRefField(default=None, help_text=SPACE_HELP)  # accounts.spaces resolves it
    limit = StrictIntegerField(
        required=False,
        allow_null=True,
        default=RECENT_DEFAULT,
        min_value=1,
        max_value=RECENT_MAX,
        help_text=f"How many (default {RECENT_DEFAULT}).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {**attrs, "limit": attrs["limit"] or RECENT_DEFAULT}


class ForgetArguments(_Arguments):
    space = SpaceRefField(default=None, help_text=SPACE_HELP)  # accounts.spaces resolves it
    memory_id = StrictIntegerField(min_value=1, help_text="The memory's id.")
