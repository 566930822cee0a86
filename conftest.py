"""Shared personas and clients: alice (owner), bob (another user who must never see alice's data), staff."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import User
from testkit import client_for, make_user


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Burst-limit counters live in the (local-memory) cache: each test starts with none."""
    cache.clear()


@pytest.fixture
def alice(db: None) -> User:
    return make_user("alice")


@pytest.fixture
def bob(db: None) -> User:
    return make_user("bob")


@pytest.fixture
def staff(db: None) -> User:
    return make_user("staff", is_staff=True, is_superuser=True)


@pytest.fixture
def alice_client(alice: User) -> APIClient:
    return client_for(alice)


@pytest.fixture
def bob_client(bob: User) -> APIClient:
    return client_for(bob)


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()
