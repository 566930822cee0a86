"""The server's side of the browser extension: operators' adapter overrides and capture-health aggregates.

Neither table holds anything personal. ``CaptureHealth`` rows are counts per (site, layout, UTC hour) with no user
and no content, so deleting an account has nothing to purge here. ``AdapterOverride.updated_by`` names the staff
member who last changed an override (set to NULL if that account goes).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Site(models.TextChoices):
    """The chat sites the extension captures. A new site needs a bundled adapter file and a value here."""

    CHATGPT = "chatgpt", "ChatGPT"
    CLAUDE = "claude", "Claude"
    GEMINI = "gemini", "Gemini"
    GROK = "grok", "Grok"


class AdapterOverride(models.Model):
    """An operator's replacement for one site's bundled adapter, served instead of it while enabled.

    Written only through ``extension_api.services.adapter_override_save``, which validates ``data`` against the
    bundled schema.json first: invalid data is refused, never stored, never served.
    """

    site = models.CharField(max_length=32, choices=Site.choices, unique=True)
    data = models.JSONField(help_text="The whole adapter document, as in extension/adapters/<site>.json.")
    enabled = models.BooleanField(default=True, help_text="Served instead of the bundled adapter while ticked.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    class Meta:
        verbose_name = "adapter override"

    def __str__(self) -> str:
        return f"{self.site} override ({'enabled' if self.enabled else 'disabled'})"


class CaptureHealth(models.Model):
    """What the extensions reported for one site layout in one UTC hour, summed over every reporting person."""

    site = models.CharField(max_length=32)
    layout = models.CharField(max_length=40)
    hour = models.DateTimeField(help_text="Start of the UTC hour the reports' periods ended in.")
    prompts_seen = models.PositiveBigIntegerField(default=0)
    answers_captured = models.PositiveBigIntegerField(default=0)
    answers_missing = models.PositiveBigIntegerField(default=0)
    fallbacks_used = models.PositiveBigIntegerField(default=0)
    reports = models.PositiveIntegerField(default=0, help_text="How many reports were added into this row.")

    class Meta:
        verbose_name_plural = "capture health"
        constraints = [
            # the conflict target of the reports' upsert (services.health_record)
            models.UniqueConstraint(fields=["site", "layout", "hour"], name="capturehealth_site_layout_hour_uniq"),
        ]
        indexes = [
            # the dashboard's window sums (hour >= now - 7 days) and pruning
            models.Index(fields=["hour"], name="capturehealth_hour_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.site}/{self.layout} at {self.hour:%Y-%m-%d %H}:00: {self.answers_captured}/{self.prompts_seen}"
