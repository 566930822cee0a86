from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from memories.search import search_index
from memories.search.index_store import index_store


class Command(BaseCommand):
    help = (
        "Show the FAISS index's state (ok, missing, corrupt, stale), indexed vs stored chunk counts, "
        "the model it was built with and which engine serves searches. Exits 1 unless the state is ok "
        "(with --check). With FAISS_INDEX_STORE=database it first fetches the newest stored snapshot if the "
        "local file lacks it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the status as one JSON object")
        parser.add_argument("--check", action="store_true", help="fail (exit 1) unless the state is ok")

    def handle(self, *args: Any, **options: Any) -> None:
        index_store().sync()  # here, not in a background thread the command would not wait for
        status = search_index.index_status(load_index=True)
        if options["json"]:
            self.stdout.write(json.dumps(status, indent=2, sort_keys=True))
        else:
            for key in sorted(status):
                self.stdout.write(f"{key:>15}: {status[key]}")
        if options["check"] and status["state"] != search_index.OK:
            raise CommandError(f"index is {status['state']}: {status.get('detail', '')}")
