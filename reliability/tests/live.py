"""A real deployment for the concurrency and fault tests: gunicorn with 2 workers on its own PostgreSQL.

The PostgreSQL is a throwaway embedded server (testkit.processes.ThrowawayPostgres) that only these tests use, so
they can stop and restart it without touching the test session's database. Everything talks over 127.0.0.1; the
processes are started and stopped by testkit.processes.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg

from config.tests.deploy_env import PYTHON, ROOT, clean_env
from testkit.processes import Served, ThrowawayPostgres, gunicorn

BOOT_LIMIT_SECONDS = 240  # a bound on two workers loading the model on a busy machine
WORKER_LOADED = "embedding model loaded in worker"


@dataclass
class Gunicorn:
    """gunicorn (gunicorn.conf.py, 2 workers) with DEBUG off on ``database_url``."""

    database_url: str
    tmp: Path
    env_overrides: dict[str, str] = field(default_factory=dict)
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(50))
    served: Served | None = None

    @property
    def base_url(self) -> str:
        assert self.served is not None, "start() first"
        return self.served.base_url

    def log(self) -> str:
        return self.served.log() if self.served else ""

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
            WEB_CONCURRENCY="2",
            GUNICORN_THREADS="4",
            EMBEDDING_TORCH_THREADS="1",
            **self.env_overrides,
        )

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
        self.served = gunicorn(env=self.env(), log_path=self.tmp / "gunicorn.log")
        self.wait_for_workers(2)

    def wait_for_workers(self, loaded: int) -> None:
        assert self.served is not None
        self.served.wait_until(
            lambda: self.log().count(WORKER_LOADED) >= loaded and len(self.worker_pids()) == 2,
            what=f"{loaded} workers to load the model",
            timeout=BOOT_LIMIT_SECONDS,
        )

    def worker_pids(self) -> list[int]:
        assert self.served is not None
        try:
            return [child.pid for child in psutil.Process(self.served.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        if self.served is not None:
            self.served.stop()


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
    return db.sql(query, *params)
