from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dashboard.services import metrics_prune


class Command(BaseCommand):
    help = (
        "Delete request-metric aggregates older than METRICS_RETENTION_DAYS (default 90) days. Every process also "
        "does this lazily once a UTC day, so running it is optional."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--keep-days", type=int, default=None, help="Override METRICS_RETENTION_DAYS.")

    def handle(self, *args: Any, keep_days: int | None = None, **options: Any) -> None:
        metrics, activity = metrics_prune(keep_days=keep_days)
        self.stdout.write(f"Deleted {metrics} hourly request rows and {activity} daily user-activity rows.")
