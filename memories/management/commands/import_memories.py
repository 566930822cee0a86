from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from accounts.spaces import space_pick
from core.exceptions import ApplicationError
from memories.transfer import jobs


class Command(BaseCommand):
    help = (
        "Import a chat history for one user, streamed from disk by the same reader as POST /memories/import: "
        "ChatGPT's conversations.json or export .zip, claude.ai's conversations.json, or a Memory Layer export "
        "(JSON or NDJSON). Without the API's size caps, embedded as it goes in this process; already stored "
        "memories are skipped. The import is listed on the person's /app/ page like any other."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="The user's username or id (UUID).")
        parser.add_argument("path", type=Path, help="The file to import.")
        parser.add_argument("--space", default=None, help="The id of the space to import into (default: the default).")

    def handle(self, *args: Any, **options: Any) -> None:
        user = self._user(options["user"])
        try:
            space = space_pick(user=user, raw=options["space"])
            job = jobs.import_job_here(user=user, path=options["path"], progress=self._progress, space=space)
        except OSError as exc:
            raise CommandError(f"Cannot read {options['path']}: {exc}") from exc
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        for problem in job.errors:
            self.stdout.write(f"{problem['status']}: {problem['item']}: {problem['reason']}")
        self.stdout.write(
            f"{job.format}: imported {job.imported}, already stored {job.duplicates}, skipped {job.skipped}, "
            f"failed {job.failed}"
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
