from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models


class Tier(models.TextChoices):
    FREE = "free", "Free"
    PRO = "pro", "Pro"
    ENTERPRISE = "enterprise", "Enterprise"


class User(AbstractUser):
    """A person. The UUID primary key is the API's ``user_id`` (and a Supabase token's ``sub``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.FREE)

    def __str__(self) -> str:
        return self.username


class DailyUsage(models.Model):
    """How many quota-counted API requests a user made on one UTC day (see accounts.services.usage_consume)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="daily_usage")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "daily usage"
        constraints = [
            # the conflict target of the counting upsert; also serves "this user's usage today"
            models.UniqueConstraint(fields=["user", "day"], name="dailyusage_user_day_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.day}: {self.count}"
