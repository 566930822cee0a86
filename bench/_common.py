"""Shared plumbing for the HTTP benchmarks: machine description, a server to measure, users and tokens.

The benchmarks talk to the server over HTTP only. Users and their access tokens are made in-process with
Django (same settings and secret as the server), so the server under test does no extra work for them.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the benches run as scripts; testkit.processes lives at the root

from testkit.processes import Served, free_port  # noqa: E402


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_gib = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    return f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, {mem_gib:.0f} GiB RAM, Python {platform.python_version()}"


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    if not ordered:
        return {"n": 0}

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], 2)

    return {
        "n": len(ordered),
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "mean": round(statistics.fmean(ordered), 2),
    }


def setup_django(pgdata: str | None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-secret-" + "b" * 40)
    if pgdata and not os.environ.get("DATABASE_URL"):
        os.environ["EMBEDDED_PGDATA"] = pgdata
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_users(prefix: str, count: int) -> list[tuple[str, str]]:
    """(user_id, access token) for ``count`` enterprise-tier users, so daily quotas do not cap the run."""
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    users = []
    for i in range(count):
        user, _ = User.objects.get_or_create(username=f"{prefix}-{i}", defaults={"tier": "enterprise"})
        users.append((str(user.pk), str(AccessToken.for_user(user))))
    return users


@contextlib.contextmanager
def server(base_url: str | None, port: int | None = None, workers: int = 2) -> Iterator[str]:
    """Yield the base URL of a server: the given one, or gunicorn started here on the bench's database."""
    if base_url:
        yield base_url.rstrip("/")
        return
    # Plain HTTP on loopback: without DEBUG the settings would redirect every request to HTTPS.
    # The bench measures the service, not the per-minute burst limiter (which would answer most of it 429).
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "RATELIMIT_API_RATE": "1000000/m",
        "RATELIMIT_ALLOW_LOCAL_CACHE": "1",
        "LOG_LEVEL": "WARNING",
    }

    def on_port(chosen: int) -> tuple[list[str], dict[str, str]]:
        argv = [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{chosen}", "-w", str(workers)]
        return [*argv, "--threads", "4", "--timeout", "120", "--log-level", "warning"], env

    chosen = port or free_port()
    log_path = Path(tempfile.gettempdir()) / f"bench-gunicorn-{chosen}.log"
    # Without --port: a free port, and another if it is taken before gunicorn binds it.
    served = Served(on_port(chosen)[0], env=env, log_path=log_path, port=chosen, own_group=False,
                    on_port=None if port else on_port)  # fmt: skip
    try:
        served.wait_answering(timeout=120)
        yield served.base_url
    finally:
        served.stop(timeout=30)


class Client:
    """A keep-alive HTTP/1.1 client for one thread."""

    def __init__(self, base_url: str):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.headers: dict[str, str] = {}  # of the last response

    def request(
        self, method: str, path: str, *, token: str | None = None, body: Any = None, query: dict[str, Any] | None = None
    ) -> tuple[int, Any, float]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if query:
            path = f"{path}?{urlencode(query)}"
        payload = json.dumps(body) if body is not None else None
        start = time.perf_counter()
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                self.headers = dict(response.getheaders())
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed an idle keep-alive connection (gunicorn's keepalive) just as it was reused:
                # nothing was processed, so send once more on a new connection, as HTTP clients do.
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt == 2:
                    raise
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                raise
        elapsed_ms = (time.perf_counter() - start) * 1000
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data.decode("utf-8", "replace")
        return response.status, parsed, elapsed_ms


def temp_pgdata(prefix: str) -> str:
    return tempfile.mkdtemp(prefix=prefix)
