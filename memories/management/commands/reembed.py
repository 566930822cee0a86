from __future__ import annotations

from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.models import User
from memories import tasks
from memories.search import indexing


class Command(BaseCommand):
    help = (
        "Embed every stored chunk again with the configured model (after changing EMBEDDING_MODEL_*). "
        "Works in ascending chunk id order with the worker's vector writer and records its progress in the "
        "database, so an interrupted run resumes where it stopped, from any machine (/ready shows it). Run "
        "rebuild_index afterwards when SEARCH_BACKEND=faiss."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=64, help="chunks embedded per model call (default 64)")
        parser.add_argument("--user", type=UUID, default=None, help="only this user's chunks (user id, a UUID)")
        parser.add_argument("--restart", action="store_true", help="ignore recorded progress and start over")
        parser.add_argument(
            "--queue",
            action="store_true",
            help="hand the work to the task queue's worker (turns on the bulk lane, after people's imports) instead of "
            "running it here",
        )

    def handle(
        self, *args: Any, batch_size: int, user: UUID | None, restart: bool, queue: bool, **options: Any
    ) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if user is not None and not User.objects.filter(pk=user).exists():
            raise CommandError(f"No user with id {user}")
        if queue:
            job_id = tasks.reembed.defer(batch_size=batch_size, user_id=str(user) if user else None, restart=restart)
            self.stdout.write(self.style.SUCCESS(f"Queued re-embedding as job {job_id} (the worker runs it)."))
            return
        pending = indexing.reembed_pending(user_id=user) if not restart else None
        with tqdm(
            total=pending, unit="chunk", desc="reembed", file=self.stderr, disable=options["verbosity"] == 0
        ) as bar:
            result = indexing.chunks_reembed(batch_size=batch_size, user_id=user, restart=restart, progress=bar.update)
        resumed = f" (resumed after chunk id {result.resumed_after})" if result.resumed_after else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-embedded {result.chunks} chunks with {settings.EMBEDDING_MODEL_NAME}{resumed}; "
                f"done up to chunk id {result.last_chunk_id}."
            )
        )
