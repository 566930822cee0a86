"""CORS origins for browser extensions, which call the API from ``chrome-extension://<id>``."""

from __future__ import annotations

import re

from django.core.exceptions import ImproperlyConfigured

# Chrome extension ids are 32 letters from a to p.
EXTENSION_ID = re.compile(r"[a-p]{32}")


def extension_origin_regexes(extension_ids: list[str]) -> list[str]:
    """One exact-match origin pattern per extension id; a malformed id stops start-up with its value."""
    patterns = []
    for raw in extension_ids:
        extension_id = raw.strip()
        if not EXTENSION_ID.fullmatch(extension_id):
            raise ImproperlyConfigured(
                f"CORS_ALLOWED_EXTENSION_IDS: {extension_id!r} is not a Chrome extension id (32 letters a-p)"
            )
        patterns.append(rf"^chrome-extension://{extension_id}$")
    return patterns
