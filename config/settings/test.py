"""Test settings: a throwaway embedded PostgreSQL per test session unless DATABASE_URL is set."""

import os
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-" + "t" * 48)
# The test client and live servers speak plain HTTP: no HTTPS redirect, cookies without the Secure flag.
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("DJANGO_SECURE_COOKIES", "0")
if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("EMBEDDED_PGDATA", tempfile.mkdtemp(prefix="memorylayer-test-pg-"))
    os.environ.setdefault("EMBEDDED_PG_CLEANUP", "delete")

from config.settings.base import *  # noqa: F403

# Metrics reach the tables at the end of each request, through the same buffer (dashboard.services).
METRICS_FLUSH_SECONDS = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast hashing; tests make many users
# Tests never run collectstatic: plain storage, and whitenoise finds files in the apps like runserver does.
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Saves embed in the request (the worker's own function, run inline), so a test can search right after saving;
# the queue's tests turn this off and run a real worker (memories/tests/queue/).
MEMORY_EMBED_INLINE = True
