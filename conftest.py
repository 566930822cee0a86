"""Shared personas and clients: alice (owner), bob (another user who must never see alice's data), staff."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import User
from testkit import client_for, make_user


@pytest.fixture(scope="session", autouse=True)
def _pools_closed_before_the_server_stops(request: pytest.FixtureRequest) -> Iterator[None]:
    """Set up before pytest-django's database, so torn down after it: close every psycopg pool, whose
    background workers would otherwise try to reconnect to the embedded server as it stops at exit."""
    yield
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close_pool()  # type: ignore[attr-defined]  # PostgreSQL backends only, as here


@pytest.fixture(scope="session", autouse=True)
def _onnx_model_exported() -> None:
    """The default backend serves the ONNX export; `make setup` writes it, and a bare `pytest` gets it here
    (a no-op when the file matches the packaged weights)."""
    from django.conf import settings

    from memories.embedding import embeddings, onnx_export

    onnx_export.export(model_dir=Path(embeddings.model_path()), onnx_path=Path(settings.EMBEDDING_ONNX_PATH))


@pytest.fixture(autouse=True)
def _fresh_metrics_buffer() -> Iterator[None]:
    """Counts a test left in its process's metrics buffer (METRICS_FLUSH_SECONDS raised) die with it, instead of
    reaching the next test's tables or the exit-time flush after the database is gone."""
    from dashboard import services

    services.buffer = services.MetricsBuffer()
    yield
    services.buffer = services.MetricsBuffer()


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
