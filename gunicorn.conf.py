"""gunicorn configuration for Render and `make serve`: `gunicorn -c gunicorn.conf.py`. Every knob is an env var.

Memory: each worker holds its own copy of the embedding model (~0.5 GB resident with torch: docs/deploy.md), so
WEB_CONCURRENCY is bounded by the instance's RAM, not its CPUs; threads share the worker's model.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


wsgi_app = "config.wsgi:application"
# Render routes to 0.0.0.0:$PORT; `make serve` binds 127.0.0.1 through GUNICORN_BIND.
bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_int('PORT', 8000)}"
workers = _int("WEB_CONCURRENCY", 2)
threads = _int("GUNICORN_THREADS", 4)
worker_class = "gthread"
# Seconds a worker may stay silent before the master replaces it; a long save embeds many chunks.
timeout = _int("GUNICORN_TIMEOUT", 60)
# On SIGTERM (a deploy, a scale-down) in-flight requests get this long to finish.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then so a slow leak cannot grow without bound; jitter avoids restarting all at once.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)
# Load the model in the master and share its pages with forked workers (copy-on-write) instead of once per
# worker after fork. Off by default: see docs/deploy.md for the RSS measured both ways.
preload_app = os.environ.get("GUNICORN_PRELOAD", "0").lower() in ("1", "true", "yes")
# Render's proxy terminates TLS and sets X-Forwarded-*; only it can reach the instance (render.yaml sets "*").
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# gunicorn 25+ opens a control socket at one fixed path per user; nothing here uses it, and two instances on
# one machine (tests, `make serve`) would fight over it.
control_socket_disable = True
# tqdm progress bars (model loading) are noise in a log stream.
os.environ.setdefault("TQDM_DISABLE", "1")

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logger_class = "core.logs.GunicornLogger"
# No query string and no credential header here; GunicornLogger scrubs every atom anyway.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s "%(a)s"'


def on_starting(server: Any) -> None:
    """Read the settings once in the master before any worker exists.

    A missing secret stops start-up here with its name instead of every worker failing to boot, and without
    DATABASE_URL the master starts (and holds, for its whole life) the embedded PostgreSQL that the forked
    workers inherit; it stops when the master exits.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        database = settings.DATABASES["default"]  # imports the settings module
    except ImproperlyConfigured as exc:
        server.log.error("configuration error: %s", exc)
        sys.exit(1)
    if "EMBEDDED" in database:
        from core.embedded_postgres.base import embedded_connection_params

        embedded_connection_params(database)  # start it here, once, so the workers attach instead of racing
    if server.cfg.preload_app:
        _load_model(server, "master")


def post_worker_init(worker: Any) -> None:
    """Each worker loads the model once, after fork and before its first request (no-op when preloaded)."""
    _load_model(worker, f"worker {worker.pid}")


def worker_exit(server: Any, worker: Any) -> None:
    """Write the request counts this worker still holds in memory (dashboard.services.MetricsBuffer)."""
    try:
        from dashboard import services

        services.buffer.flush()
    except Exception as exc:  # the worker is leaving; a lost few seconds of counts must not hide why
        server.log.warning("request metrics not flushed at exit: %s", exc.__class__.__name__)


def _load_model(owner: Any, who: str) -> None:
    from django.conf import settings

    from memories.embedding import embeddings
    from memories.search import answerable

    if embeddings.is_loaded():
        return
    embeddings.get_model()
    if settings.CONTEXT_UNCOVERED_LIFT > 0:
        answerable.load()  # the word list /context's abstention then reads (memories/search/answerable.py)
    owner.log.info("embedding model loaded in %s (pid %s)", who, os.getpid())
