from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from memories.api.idempotency import idempotency_keys_purge


class Command(BaseCommand):
    help = "Delete Idempotency-Key records older than IDEMPOTENCY_KEY_TTL (24 hours by default). Safe to run any time."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = idempotency_keys_purge()
        self.stdout.write(f"Deleted {deleted} expired idempotency key(s).")
