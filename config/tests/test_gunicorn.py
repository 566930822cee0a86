"""The production configuration, run for real: gunicorn (gunicorn.conf.py) with 2 workers on an embedded
PostgreSQL, DEBUG off, static files collected and served by whitenoise — what `make serve` starts."""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from config.tests.deploy_env import PYTHON, ROOT, clean_env, session_database_url
from testkit.processes import Served, gunicorn

pytestmark = pytest.mark.slow

SENTINEL_KEY = "sentinel-admin-key-9d41b7"
FAKE_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZW50aW5lbCJ9.c2VudGluZWwtc2lnbmF0dXJl"
BOOT_LIMIT_SECONDS = 240  # a bound on waiting for two workers to load torch and the model, not an assertion
WORKER_LOADED = "embedding model loaded in worker"


@dataclass
class Server:
    served: Served
    pgdata: Path

    @property
    def base_url(self) -> str:
        return self.served.base_url

    @property
    def log_path(self) -> Path:
        return self.served.log_path

    def log(self) -> str:
        return self.served.log()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # loopback only
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    # Not pytest's tmp_path: its root is 0700 (the embedded server runs as another user and must reach its data
    # directory) and other pytest sessions on the machine prune it.
    tmp = Path(tempfile.mkdtemp(prefix="memorylayer-serve-"))
    env = clean_env(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_STATIC_ROOT=str(tmp / "static"),
    )
    collect = subprocess.run(
        [PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**env, "DATABASE_URL": session_database_url()},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert collect.returncode == 0, collect.stderr
    env.update(
        EMBEDDED_PGDATA=str(tmp / "pgdata"),
        EMBEDDED_PG_CLEANUP="stop",
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="2",
        EMBEDDING_TORCH_THREADS="1",
    )
    served = gunicorn(env=env, log_path=tmp / "gunicorn.log")
    try:
        served.wait_until(
            lambda: served.log().count(WORKER_LOADED) >= 2, what="two workers", timeout=BOOT_LIMIT_SECONDS
        )
        yield Server(served, tmp / "pgdata")
    finally:
        # Only when a test failed before the graceful stop below: SIGTERM lets the master stop its PostgreSQL.
        served.stop(timeout=120)
        shutil.rmtree(tmp, ignore_errors=True)


def test_it_runs_two_workers_that_each_loaded_the_model_after_fork(server):
    lines = [line for line in server.log().splitlines() if WORKER_LOADED in line]
    assert len(lines) == 2
    assert len({line.rsplit("pid ", 1)[1] for line in lines}) == 2
    assert "embedding model loaded in master" not in server.log()


def test_it_answers_health_with_a_request_id(server):
    status, headers, body = _get(f"{server.base_url}/health", {"X-Request-ID": "probe-12345678"})
    assert status == 200 and json.loads(body) == {"status": "ok"}
    assert headers["X-Request-ID"] == "probe-12345678"


def test_it_serves_collected_static_files_with_whitenoise(server):
    manifest = json.loads((server.log_path.parent / "static" / "staticfiles.json").read_text())
    hashed = manifest["paths"]["admin/css/base.css"]
    status, headers, _ = _get(f"{server.base_url}/static/{hashed}", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    assert "immutable" in headers["Cache-Control"] and headers.get("Content-Encoding") == "gzip"


def test_it_runs_with_debug_off_and_answers_errors_with_the_envelope(server):
    status, _, body = _get(f"{server.base_url}/no-such-page")
    assert status == 404 and json.loads(body) == {"success": False, "error": "Not found: /no-such-page"}
    status, _, body = _get(f"{server.base_url}/context/x?query=y", {"Authorization": f"Bearer {FAKE_JWT}"})
    assert status == 401 and json.loads(body)["success"] is False


def test_zz_secrets_stay_out_of_its_logs_and_it_stops_cleanly_with_its_database(server):
    headers = {"Authorization": f"Bearer {FAKE_JWT}", "X-Admin-Key": SENTINEL_KEY, "X-Request-ID": "leak-check-0001"}
    _get(f"{server.base_url}/admin/dashboard?admin_key={SENTINEL_KEY}", headers)  # whatever serves it
    _get(f"{server.base_url}/context/x?query=y&admin_key={SENTINEL_KEY}", headers)
    assert (server.pgdata / "postmaster.pid").exists()

    server.served.signal(signal.SIGTERM)
    assert server.served.process.wait(timeout=120) == 0

    log = server.log()
    assert "request_id=leak-check-0001" in log and "[leak-check-0001] Unauthorized: /context/x" in log
    for secret in (SENTINEL_KEY, FAKE_JWT, FAKE_JWT.split(".")[1]):
        assert secret not in log
    assert "Shutting down: Master" in log
    assert not (server.pgdata / "postmaster.pid").exists(), "the embedded PostgreSQL outlived gunicorn"
