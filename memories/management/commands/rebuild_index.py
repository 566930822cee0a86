from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from memories.models import Chunk
from memories.search import indexing, search_index


class Command(BaseCommand):
    help = (
        "Build the FAISS index of chunk embeddings from the pgvector column (SEARCH_BACKEND=faiss serves it). "
        "Writes a temp file and moves it into place; running servers pick it up on their next search. With "
        "FAISS_INDEX_STORE=database it is also stored in PostgreSQL, from which every web process fetches it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=5000, help="rows read per query (default 5000)")

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        total = Chunk.objects.count()
        with tqdm(
            total=total, unit="chunk", desc="rebuild_index", file=self.stderr, disable=options["verbosity"] == 0
        ) as bar:
            result = indexing.index_rebuild(batch_size=max(1, batch_size), progress=bar.update)
        self.stdout.write(
            self.style.SUCCESS(
                f"Indexed {result.rows} chunks of {result.users} users (up to chunk id {result.max_chunk_id}) "
                f"into {result.path} (sidecar {search_index.sidecar_path(result.path).name})."
            )
        )
        if result.snapshot_id is not None:
            self.stdout.write(f"Stored in the database as snapshot {result.snapshot_id}.")
