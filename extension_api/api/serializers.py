"""Input and output of the extension endpoints. Health reports are strict: a field the server does not know is
refused by name, so nothing but counts (no content, no page address) can ever be sent and stored."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from core.inputs import InputSerializer
from extension_api.models import Site
from extension_api.services import HealthReport

# Clocks differ: a period may end this far in the future of the server's.
CLOCK_SKEW = timedelta(minutes=5)
MAX_PERIOD = timedelta(hours=24)


class StrictSerializer(InputSerializer):
    """The API's input policy (core.inputs: unknown keys refused by name), worded for health reports."""

    def unknown_fields_error(self, names: list[str]) -> Any:
        return {name: ["unknown field: reports carry counts only, never content or page addresses"] for name in names}


def _count() -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0)


class HealthReportInput(StrictSerializer):
    site = serializers.ChoiceField(choices=Site.choices)
    layout = serializers.RegexField(
        r"^[a-z0-9][a-z0-9_-]{0,39}$", error_messages={"invalid": "lowercase letters, digits, - and _ (at most 40)"}
    )
    adapter_version = serializers.RegexField(
        r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,39}$", error_messages={"invalid": "a version like 2026.10.1 (at most 40)"}
    )
    prompts_seen = _count()
    answers_captured = _count()
    answers_missing = _count()
    fallbacks_used = _count()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        limit = settings.EXTENSION_HEALTH_MAX_COUNT
        over = [
            name
            for name in ("prompts_seen", "answers_captured", "answers_missing", "fallbacks_used")
            if attrs[name] > limit
        ]
        if over:
            raise serializers.ValidationError({name: [f"at most {limit} per report"] for name in over})
        start, end, now = attrs["period_start"], attrs["period_end"], timezone.now()
        if start > end:
            raise serializers.ValidationError({"period_start": ["must not be after period_end"]})
        if end - start > MAX_PERIOD:
            raise serializers.ValidationError({"period_start": ["a report covers at most 24 hours"]})
        if end > now + CLOCK_SKEW:
            raise serializers.ValidationError({"period_end": ["is in the future"]})
        if end < now - timedelta(hours=settings.EXTENSION_HEALTH_MAX_AGE_HOURS):
            raise serializers.ValidationError(
                {"period_end": [f"is more than {settings.EXTENSION_HEALTH_MAX_AGE_HOURS} hours ago"]}
            )
        return attrs


class HealthInput(StrictSerializer):
    reports = HealthReportInput(many=True, allow_empty=False)

    def to_internal_value(self, data: Any) -> Any:
        # Counted before any report is validated: an oversized batch costs one len(), not thousands of validations.
        reports = data.get("reports") if isinstance(data, Mapping) else None
        limit = settings.EXTENSION_HEALTH_MAX_REPORTS
        if isinstance(reports, list) and len(reports) > limit:
            raise serializers.ValidationError({"reports": [f"at most {limit} reports per request"]})
        if reports == []:
            raise serializers.ValidationError({"reports": ["send at least one report"]})
        return super().to_internal_value(data)

    def health_reports(self) -> list[HealthReport]:
        fields = (
            "site",
            "layout",
            "period_end",
            "prompts_seen",
            "answers_captured",
            "answers_missing",
            "fallbacks_used",
        )
        return [HealthReport(**{name: item[name] for name in fields}) for item in self.validated_data["reports"]]


class HealthRecordedOutput(serializers.Serializer):
    success = serializers.BooleanField()
    recorded = serializers.IntegerField(help_text="How many (site, layout, hour) aggregates the reports were added to.")


class AdaptersOutput(serializers.Serializer):
    """Documentation of GET /extension/adapters (the body is served as stored bytes, with a strong ETag)."""

    schema_version = serializers.IntegerField()
    adapters = serializers.DictField(
        child=serializers.DictField(), help_text="One adapter document per site, as in extension/adapters/<site>.json."
    )
