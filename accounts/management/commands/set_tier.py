from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.models import Tier, User
from core.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Set a user's subscription tier (free, pro, enterprise); their next request uses the new quota."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="the username, or the user's UUID (a Supabase user's id)")
        parser.add_argument("tier", choices=Tier.values)

    def handle(self, *args: Any, **options: Any) -> None:
        user = find_user(options["user"])
        try:
            previous = services.user_set_tier(user=user, tier=options["tier"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"{user.username} ({user.pk}): {previous} -> {user.tier}")


def find_user(identifier: str) -> User:
    try:
        user_id = uuid.UUID(identifier)
    except ValueError:
        user = User.objects.filter(username=identifier).first()
    else:
        user = User.objects.filter(pk=user_id).first() or User.objects.filter(username=identifier).first()
    if user is None:
        raise CommandError(f"No user with username or id {identifier!r}")
    return user
