"""Serializer fields for a memory's provider and priority, shared by the API and the importers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from core.fields import StrictCharField
from memories.models import Priority


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
