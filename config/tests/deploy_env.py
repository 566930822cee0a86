"""Environments for subprocess tests that run the project the way Render or `make serve` does."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from django.conf import settings

from core.embedded_db import embedded_database_url

ROOT = Path(settings.BASE_DIR)
PYTHON = sys.executable

# Anything the test run itself set (test settings, DEBUG, secrets) must not leak into the child.
# (DATABASE_POOLER_URL and DATABASE_REPLICA_URL too: `make test-pooled` sets the first for this session's database.)
_PREFIXES = (
    "DJANGO_",
    "DATABASE_",
    "PGBOUNCER_",
    "EMBEDDED_",
    "RENDER",
    "LOG_",
    "GUNICORN_",
    "WEB_CONCURRENCY",
    "PORT",
)


def session_database_url() -> str:
    """The test session's database as a URL another process can use (its embedded server, or DATABASE_URL)."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    database = settings.DATABASES["default"]
    uri = embedded_database_url(database["EMBEDDED"]["pgdata"], cleanup=database["EMBEDDED"]["cleanup"])
    return uri.replace("postgresql://", "postgres://", 1)


def clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PREFIXES)}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TQDM_DISABLE="1", PYTHONUNBUFFERED="1")
    env.update(overrides)
    return env


def production_env(**overrides: str) -> dict[str, str]:
    """What render.yaml gives the web service, with the database pointed at the test session's server."""
    production = {
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": session_database_url(),
        "RENDER": "true",
        "RENDER_EXTERNAL_HOSTNAME": "memorylayer-test.onrender.com",
        "REDIS_URL": "redis://127.0.0.1:6399/0",  # as render.yaml's Key Value instance; check never connects
    }
    return clean_env(**{**production, **overrides})
