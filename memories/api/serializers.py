from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from core.fields import StrictCharField
from memories.models import Kind, Priority

# A client's clock may run a little ahead of ours; a timestamp further ahead than this is refused.
CLOCK_SKEW = timedelta(seconds=60)


def _text_field(**kwargs: Any) -> StrictCharField:
    # DRF's CharField already refuses NUL bytes and lone surrogates (which PostgreSQL cannot store).
    return StrictCharField(
        max_length=settings.MEMORY_MAX_TEXT_CHARS, trim_whitespace=False, allow_blank=False, **kwargs
    )


class ProviderField(StrictCharField):
    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data).strip().lower()
        allowed = [p.lower() for p in settings.MEMORY_PROVIDERS]
        if value not in allowed:
            raise serializers.ValidationError(f"'{value}' is not supported; use one of: {', '.join(allowed)}")
        return value


class PriorityField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any):
        super().__init__(choices=[label for _, label in Priority.choices], **kwargs)

    def to_internal_value(self, data: Any) -> int:  # type: ignore[override]
        label = super().to_internal_value(data.lower() if isinstance(data, str) else data)
        return {lbl: value for value, lbl in Priority.choices}[label]


class _SaveInput(serializers.Serializer):
    user_id = serializers.UUIDField(required=False)
    provider = ProviderField(required=False, default="chatgpt", max_length=32)
    priority = PriorityField(required=False, default=Priority.NORMAL)
    pinned = serializers.BooleanField(required=False, default=False)
    # The original time of the message (backfills, imports); stored as the memory's created_at.
    timestamp = serializers.DateTimeField(required=False, default=None)

    def validate_timestamp(self, value: Any) -> Any:
        if value is not None and value > timezone.now() + CLOCK_SKEW:
            raise serializers.ValidationError("must not be in the future")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for name in ("prompt", "response"):
            if name in attrs and not attrs[name].strip():
                raise serializers.ValidationError({name: "This field may not be blank."})
        return attrs


class SavePromptInput(_SaveInput):
    prompt = _text_field()


class SaveResponseInput(_SaveInput):
    prompt = _text_field()
    response = _text_field()


class SaveOutput(serializers.Serializer):
    success = serializers.BooleanField(default=True)
    chunks_stored = serializers.IntegerField()
    timestamp = serializers.DateTimeField()
    memory_id = serializers.IntegerField()
    duplicate = serializers.BooleanField()


class ContextQueryInput(serializers.Serializer):
    query = serializers.CharField(max_length=settings.MEMORY_MAX_QUERY_CHARS)
    top_k = serializers.IntegerField(
        required=False, default=settings.CONTEXT_TOP_K_DEFAULT, min_value=1, max_value=settings.CONTEXT_TOP_K_MAX
    )
    provider = ProviderField(required=False, default=None, max_length=32)
    kind = serializers.ChoiceField(choices=Kind.values, required=False, default=None)
    since = serializers.DateTimeField(required=False, default=None)
    until = serializers.DateTimeField(required=False, default=None)
    min_score = serializers.FloatField(required=False, default=None, min_value=-1000, max_value=1000)

    def validate_min_score(self, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise serializers.ValidationError("A valid number is required.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["since"] and attrs["until"] and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"since": "must not be after until"})
        return attrs


class ContextResultOutput(serializers.Serializer):
    memory_id = serializers.IntegerField()
    text = serializers.CharField()
    score = serializers.FloatField()
    provider = serializers.CharField()
    kind = serializers.CharField()
    created_at = serializers.DateTimeField()
    priority = serializers.SerializerMethodField()

    def get_priority(self, obj: Any) -> str:
        return str(Priority(obj.priority).label)


class ContextOutput(serializers.Serializer):
    contexts = serializers.ListField(child=serializers.CharField())
    count = serializers.IntegerField()
    results = ContextResultOutput(many=True)
