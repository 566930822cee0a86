"""Headless Chromium for the browser tests: Debian's binary (``make browser`` installs it), driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# No sandbox in a container, no GPU, and nothing of Chromium's own that phones home during a test.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def headless_chromium() -> Iterator[Browser]:
    """A headless Chromium for one test. Call with ``DJANGO_ALLOW_ASYNC_UNSAFE`` set: Playwright's sync API keeps
    an event loop in this thread, and the ORM calls between its calls are synchronous."""
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
        # While Playwright's loop runs, Django keeps the ORM's connections apart from the test's own; give them back
        # to the pool, or the test database could not be dropped at the end.
        connections.close_all()
