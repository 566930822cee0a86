"""Settings for static analysis (mypy's Django plugin imports settings): the base settings start nothing."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "lint-only-" + "l" * 48)

from config.settings.base import *  # noqa: F403
