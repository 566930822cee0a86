from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from memories.search import indexing, search_index
from memories.search.index_store import index_store


class Command(BaseCommand):
    help = (
        "Compare FAISS top-k with exact pgvector search for a random sample of stored chunks (each used as a "
        "query within its owner's memories) and print recall@k. Exits 1 if recall is below --min-recall. With "
        "FAISS_INDEX_STORE=database the newest stored snapshot is fetched first if the local file lacks it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sample", type=int, default=100, help="number of query chunks (default 100)")
        parser.add_argument("--k", type=int, default=10, help="results compared per query (default 10)")
        parser.add_argument("--min-recall", type=float, default=0.0, help="fail below this recall (0..1)")
        parser.add_argument("--seed", type=int, default=None, help="random seed for the sample")

    def handle(self, *args: Any, sample: int, k: int, min_recall: float, seed: int | None, **options: Any) -> None:
        if sample < 1 or k < 1:
            raise CommandError("--sample and --k must be at least 1")
        index_store().sync()
        try:
            report = indexing.index_verify(sample=sample, k=k, seed=seed)
        except search_index.IndexUnavailable as exc:
            raise CommandError(f"index is {exc.state}: {exc.detail}") from exc
        self.stdout.write(
            f"queries: {report.queries}  k: {k}  recall@{k}: {report.recall:.4f}  "
            f"exact top-k matched in {report.perfect} of {report.queries} queries"
        )
        if report.queries and report.recall < min_recall:
            raise CommandError(f"recall {report.recall:.4f} is below {min_recall}")
