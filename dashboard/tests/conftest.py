from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Tier, User
from memories import services
from memories.models import Kind
from testkit import make_user

ADMIN_KEY = "test-admin-key-7d1e0c"


@pytest.fixture
def admin_key(settings: Any) -> str:
    settings.ADMIN_API_KEY = ADMIN_KEY
    return ADMIN_KEY


@pytest.fixture
def seeded(alice: User, bob: User, staff: User) -> dict[str, Any]:
    """A small known world: three tiers, memories from three providers, saved through the real service."""
    bob.tier = Tier.PRO
    bob.save(update_fields=["tier"])
    carol = make_user("carol", tier=Tier.ENTERPRISE)
    saves = [
        (alice, "claude", "I live in Lyon and cycle to work."),
        (alice, "claude", "My sister is called Inès."),
        (alice, "chatgpt", "I am allergic to peanuts."),
        (bob, "gemini", "Bob prefers tea to coffee."),
    ]
    for user, provider, text in saves:
        services.memory_save(user=user, kind=Kind.PROMPT, provider=provider, text=text)
    return {"alice": alice, "bob": bob, "carol": carol, "staff": staff}
