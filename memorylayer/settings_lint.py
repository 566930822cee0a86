"""Settings for static analysis (mypy's Django plugin imports settings): no database is started or used."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "lint-only-" + "l" * 48)
os.environ.setdefault("DATABASE_URL", "postgres://lint@127.0.0.1:1/lint")

from memorylayer.settings import *  # noqa: F403
