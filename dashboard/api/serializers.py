"""Output of GET /admin/dashboard (documentation and shape; the numbers come from dashboard.selectors)."""

from __future__ import annotations

from rest_framework import serializers


class DashboardSystemOutput(serializers.Serializer):
    total_users = serializers.IntegerField()
    total_memories = serializers.IntegerField()
    health_score = serializers.IntegerField(min_value=0, max_value=100)


class HealthCheckOutput(serializers.Serializer):
    name = serializers.CharField()
    ok = serializers.BooleanField()
    weight = serializers.IntegerField()
    detail = serializers.CharField()
    skipped = serializers.BooleanField()


class DashboardHealthOutput(serializers.Serializer):
    score = serializers.IntegerField(min_value=0, max_value=100)
    checks = HealthCheckOutput(many=True)


class DashboardUsageOutput(serializers.Serializer):
    day = serializers.DateField()
    api_calls_today = serializers.IntegerField()
    memories_stored_today = serializers.IntegerField()
    active_users_today = serializers.IntegerField()
    rate_limited_today = serializers.IntegerField()


class CaptureWindowOutput(serializers.Serializer):
    prompts_seen = serializers.IntegerField()
    answers_captured = serializers.IntegerField()
    answers_missing = serializers.IntegerField()
    fallbacks_used = serializers.IntegerField()
    capture_rate = serializers.FloatField(allow_null=True, help_text="answers_captured / prompts_seen; null: none.")


class CaptureLayoutOutput(serializers.Serializer):
    layout = serializers.CharField()
    last_24h = CaptureWindowOutput()
    last_7d = CaptureWindowOutput()
    flagged = serializers.BooleanField()
    flag_reason = serializers.CharField(allow_null=True)


class CaptureSiteOutput(CaptureLayoutOutput):
    layout = None  # type: ignore[assignment]
    site = serializers.CharField()
    layouts = CaptureLayoutOutput(many=True)


class DashboardOutput(serializers.Serializer):
    system = DashboardSystemOutput()
    health = DashboardHealthOutput()
    usage = DashboardUsageOutput()
    users_per_tier = serializers.DictField(child=serializers.IntegerField())
    memories_per_provider = serializers.DictField(child=serializers.IntegerField())
    search_index = serializers.DictField(help_text="The search engine's own status (backend, counts, in_sync).")
    capture_health = CaptureSiteOutput(
        many=True, help_text="The browser extension's capture health per site and layout (docs/extension-server.md)."
    )
    timestamp = serializers.DateTimeField()
