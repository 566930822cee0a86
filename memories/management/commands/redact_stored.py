from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.management.base import BaseCommand, CommandParser

from memories import services


class Command(BaseCommand):
    help = (
        "Redact secrets (API keys, tokens, private keys, passwords, card numbers) in memories stored before "
        "saves redacted them, and re-embed what changed. Safe to run again: already-clean memories are skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", type=UUID, default=None, help="only this user's memories (user id, a UUID)")

    def handle(self, *args: Any, user: UUID | None, **options: Any) -> None:
        report = services.memories_redact_stored(user_id=user)
        self.stdout.write(
            self.style.SUCCESS(
                f"Scanned {report.scanned} memories: {report.redacted} redacted ({report.secrets} secrets), "
                f"{report.merged} folded into an identical clean copy."
            )
        )
