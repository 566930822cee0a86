from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Browser

from accounts.models import User
from memories.models import Memory
from memories.tests.factories import save
from testkit.browser import headless_chromium


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    """Headless Chromium for the page's browser tests (testkit.browser)."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with headless_chromium() as chromium:
        yield chromium


@pytest.fixture
def web(alice: User) -> Client:
    """alice signed in to the page (a session, as after the login form)."""
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def recent() -> datetime:
    return timezone.now() - timedelta(hours=1)


@pytest.fixture
def alice_memories(alice: User, recent) -> list[Memory]:
    """Three of alice's memories, newest last: a claude prompt, a chatgpt answer, a gemini prompt."""
    return [
        save(alice, "I live in Lyon and cycle to work every day.", provider="claude", when=recent - timedelta(days=3)),
        save(
            alice,
            "Use 00 flour and 65% hydration for the pizza dough.",
            kind="response",
            provider="chatgpt",
            prompt="Best pizza dough?",
            when=recent - timedelta(days=1),
        ),
        save(alice, "My sister Inès is a marine biologist in Brest.", provider="gemini", when=recent),
    ]


@pytest.fixture
def bob_memory(bob: User, recent) -> Memory:
    return save(bob, "Bob's secret garden is behind the old mill.", provider="claude", when=recent)
