"""Serializer fields shared by the apps' input serializers."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StrictStringMixin:
    """Only a JSON string: DRF's CharField also turns numbers into text (123 → "123"), which the schema forbids."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")  # type: ignore[attr-defined]
        return super().to_internal_value(data)  # type: ignore[misc,no-any-return]


class StrictCharField(StrictStringMixin, serializers.CharField):
    pass


class StrictEmailField(StrictStringMixin, serializers.EmailField):
    pass


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true or false: DRF's BooleanField also takes 0, 1, "yes" and "off", which the schema forbids."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    """Only a JSON integer: DRF's IntegerField also takes "5", 5.0 and true, which a JSON schema forbids."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)  # type: ignore[no-any-return]
