"""Request metrics as bounded aggregates: one row per (hour, endpoint, method, status class), one per (day, user).

Never a row per request: the middleware upserts counters (``dashboard.services.request_record``), so the tables
grow with the number of distinct endpoints and active users, not with traffic, and old rows are pruned
(``manage.py prune_request_metrics``, also done lazily once a day per process).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

# Upper bounds (ms) of the latency histogram's buckets; the last bucket is everything slower. Percentiles are
# interpolated inside a bucket, so they are estimates with the buckets' resolution.
LATENCY_BUCKETS_MS: tuple[int, ...] = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
BUCKET_COUNT = len(LATENCY_BUCKETS_MS) + 1


class StatusClass(models.TextChoices):
    SUCCESS = "2xx", "2xx"
    REDIRECT = "3xx", "3xx"
    CLIENT_ERROR = "4xx", "4xx (except 429)"
    RATE_LIMITED = "429", "429 rate limited"
    SERVER_ERROR = "5xx", "5xx"


class RequestMetric(models.Model):
    """Requests to one endpoint (URL name, never the raw path) in one UTC hour, with their latency histogram."""

    hour = models.DateTimeField(help_text="Start of the UTC hour.")
    endpoint = models.CharField(max_length=100, help_text="The resolved URL name, or '(unmatched)'.")
    method = models.CharField(max_length=10)
    status_class = models.CharField(max_length=3, choices=StatusClass.choices)
    count = models.PositiveIntegerField(default=0)
    total_ms = models.FloatField(default=0)
    latency_buckets = ArrayField(models.PositiveIntegerField(), size=BUCKET_COUNT)

    class Meta:
        constraints = [
            # the conflict target of the middleware's upsert
            models.UniqueConstraint(
                fields=["hour", "endpoint", "method", "status_class"], name="requestmetric_hour_key_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} {self.status_class} at {self.hour:%Y-%m-%d %H}:00: {self.count}"


class UserActivity(models.Model):
    """How many API requests one user made on one UTC day (and how many were successful /context calls), and
    when the last one was."""

    day = models.DateField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    requests = models.PositiveIntegerField(default=0)
    # The person's own page (/app/) charts it; no other table knows who called /context on which day.
    context_calls = models.PositiveIntegerField(default=0, help_text="Successful (2xx) /context calls that day.")
    last_seen = models.DateTimeField()

    class Meta:
        verbose_name_plural = "user activity"
        constraints = [
            # the conflict target of the middleware's upsert; also "who was active today"
            models.UniqueConstraint(fields=["day", "user"], name="useractivity_day_user_uniq"),
        ]
        indexes = [
            # a user's last activity (admin's "last active" column)
            models.Index(fields=["user", "-day"], name="useractivity_user_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.day}: {self.requests}"
