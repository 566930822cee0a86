"""Run a command with PgBouncer (transaction pooling) in front of the database: `make run-pooled`, `make test-pooled`.

    python -m testkit.pooled -- .venv/bin/honcho start -f Procfile    # the embedded server (or DATABASE_URL)
    python -m testkit.pooled --throwaway -- .venv/bin/python -m pytest  # a throwaway server of its own

Starts PgBouncer (testkit.processes.PgBouncer) on PGBOUNCER_PORT (default: a free port) in front of DATABASE_URL,
else the embedded server at EMBEDDED_PGDATA (held, and so kept running, while the command runs), else with
``--throwaway`` a throwaway server; then runs the command with DATABASE_POOLER_URL pointing at PgBouncer, so the
app goes through it while the queue's worker LISTENs on the server directly (config/settings/base.py). Stops
PgBouncer (and the throwaway server) when the command ends; SIGTERM and SIGINT are passed to the command.
Imports no Django.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from testkit.processes import ROOT, PgBouncer, Served, ThrowawayPostgres

# What this prints when PgBouncer listens; `announced_port` reads it back from a server's log.
ANNOUNCED = re.compile(r"PgBouncer \(transaction pooling\) on 127\.0\.0\.1:(\d+) ")


def _target(throwaway: bool) -> tuple[str, str | None, Any]:
    """(the server's psycopg URL, the system user PgBouncer runs as when we are root, what to clean up)."""
    if throwaway:
        db = ThrowawayPostgres()
        os.environ["DATABASE_URL"] = db.django_url  # the app's direct connection (the worker's LISTEN)
        return db.uri, db.server.system_user, db
    if os.environ.get("DATABASE_URL"):
        url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
        socket_dir = parse_qs(urlsplit(url).query).get("host", [""])[0]
        # Over a Unix socket PgBouncer runs as the socket directory's owner (the only one who may enter it).
        return url, Path(socket_dir).owner() if socket_dir.startswith("/") else "nobody", None
    from core.embedded_db import embedded_database_url, embedded_system_user

    pgdata = os.environ.get("EMBEDDED_PGDATA", str(ROOT / "var" / "pgdata"))
    return embedded_database_url(pgdata), embedded_system_user(pgdata), None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--throwaway", action="store_true", help="a throwaway PostgreSQL instead of the configured")
    parser.add_argument("--pool-size", type=int, default=int(os.environ.get("PGBOUNCER_POOL_SIZE", "20")))
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given (after --)")
    target, user, throwaway = _target(args.throwaway)
    port = int(os.environ["PGBOUNCER_PORT"]) if os.environ.get("PGBOUNCER_PORT") else None
    password = os.environ.get("PGBOUNCER_PASSWORD") or None  # default: a random one (tests set theirs to inspect)
    bouncer = PgBouncer(target, port=port, user=user, pool_size=args.pool_size, password=password)
    print(f"PgBouncer (transaction pooling) on 127.0.0.1:{bouncer.port} in front of the database", flush=True)
    child = subprocess.Popen(command, env={**os.environ, "DATABASE_POOLER_URL": bouncer.django_url})  # noqa: S603

    def forward(signum: int, _frame: Any) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        return child.wait()
    finally:
        bouncer.cleanup()
        if throwaway is not None:
            throwaway.cleanup()


def announced_port(served: Served) -> int:
    """The port PgBouncer took (a free one, unless PGBOUNCER_PORT chose it) for a `make run-pooled` in ``served``."""

    def port_in_log() -> int:
        found = ANNOUNCED.search(served.log())
        return int(found.group(1)) if found else 0

    return served.wait_until(port_in_log, what="PgBouncer's port in the log")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
