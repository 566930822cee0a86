from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from core.exceptions import ApplicationError
from memories.transfer import importers


class Command(BaseCommand):
    help = (
        "Import a Memory Layer export (JSON or NDJSON) or ChatGPT's conversations.json for one user, without the "
        "API's size caps (for histories too large for POST /memories/import). Already stored memories are skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="The user's username or id (UUID).")
        parser.add_argument("path", type=Path, help="The file to import.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = self._user(options["user"])
        try:
            payload = importers.parse_file(options["path"].read_bytes())
            report = importers.memories_import(user=user, payload=payload, progress=self._progress)
        except OSError as exc:
            raise CommandError(f"Cannot read {options['path']}: {exc}") from exc
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        for problem in report.problems:
            self.stdout.write(f"{problem['status']}: {problem['item']}: {problem['reason']}")
        self.stdout.write(
            f"{report.format}: imported {report.imported}, skipped {report.skipped}, failed {report.failed}"
        )

    def _user(self, name: str) -> User:
        try:
            user = User.objects.filter(pk=uuid.UUID(name)).first()
        except ValueError:
            user = User.objects.filter(username=name).first()
        if user is None:
            raise CommandError(f"No user {name!r}")
        return user

    def _progress(self, done: int, total: int) -> None:
        self.stdout.write(f"{done}/{total}")
