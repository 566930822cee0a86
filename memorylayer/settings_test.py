"""Test settings: a throwaway embedded PostgreSQL per test session unless DATABASE_URL is set."""

import os
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-" + "t" * 48)
if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("EMBEDDED_PGDATA", tempfile.mkdtemp(prefix="memorylayer-test-pg-"))
    os.environ.setdefault("EMBEDDED_PG_CLEANUP", "delete")

from memorylayer.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast hashing; tests make many users
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
