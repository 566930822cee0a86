"""Operators fix a site's adapter here, without a store release: an override replaces the bundled adapter of its
site in GET /extension/adapters while enabled. Invalid data is refused on save with the schema's own words."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from extension_api import services
from extension_api.adapters import adapter_errors, bundle
from extension_api.models import AdapterOverride, CaptureHealth


class AdapterOverrideForm(forms.ModelForm):
    class Meta:
        model = AdapterOverride
        fields = ("site", "enabled", "data")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "data" in cleaned and cleaned.get("site"):
            problems = adapter_errors(cleaned["data"], validator=bundle().validator, site=cleaned["site"])
            if problems:
                self.add_error("data", [f"This adapter cannot be served: {problem}" for problem in problems])
        return cleaned


@admin.register(AdapterOverride)
class AdapterOverrideAdmin(admin.ModelAdmin):
    form = AdapterOverrideForm
    list_display = ("site", "enabled", "version", "updated_at", "updated_by")
    list_filter = ("enabled",)
    readonly_fields = ("updated_at", "updated_by", "bundled_adapter")
    fields = ("site", "enabled", "data", "bundled_adapter", "updated_at", "updated_by")

    @admin.display(description="adapter version")
    def version(self, obj: AdapterOverride) -> str:
        return str(obj.data.get("version", "")) if isinstance(obj.data, dict) else ""

    @admin.display(description="bundled adapter (served when no override is enabled)")
    def bundled_adapter(self, obj: AdapterOverride) -> str:
        document = bundle().adapters.get(obj.site) if obj.site else None
        if document is None:
            return "none"
        return format_html("<pre>{}</pre>", json.dumps(document, indent=2, ensure_ascii=False))

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """?site=claude on the add page starts from the bundled adapter of that site."""
        initial: dict[str, Any] = dict(super().get_changeform_initial_data(request))
        document = bundle().adapters.get(str(initial.get("site", "")))
        if document is not None:
            initial.setdefault("data", document)
        return initial

    def save_model(self, request: HttpRequest, obj: AdapterOverride, form: Any, change: bool) -> None:
        # The form's clean() gave the clear error already; the service checks again (the one write path).
        services.adapter_override_save(override=obj, user=request.user)  # type: ignore[arg-type]

    def delete_model(self, request: HttpRequest, obj: AdapterOverride) -> None:
        services.adapter_override_delete(override=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AdapterOverride]) -> None:
        for override in queryset:
            services.adapter_override_delete(override=override)


@admin.register(CaptureHealth)
class CaptureHealthAdmin(admin.ModelAdmin):
    """Aggregates written only by POST /extension/health."""

    list_display = ("hour", "site", "layout", "prompts_seen", "answers_captured", "answers_missing", "fallbacks_used")
    list_filter = ("site", "layout")
    date_hierarchy = "hour"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
