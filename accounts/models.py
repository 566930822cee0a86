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
