from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Tier
from reliability.tests.live import Gunicorn
from testkit import make_user
from testkit.processes import ThrowawayPostgres


@pytest.fixture
def wsgi_in_test_transaction() -> Iterator[None]:
    """Like Django's test client: a WSGI call must not close the connection that holds the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_headers(db, settings, wsgi_in_test_transaction):
    settings.RATELIMIT_API_RATE = settings.RATELIMIT_AUTH_RATE = "100000/m"
    user = make_user("fuzzer", tier=Tier.ENTERPRISE)
    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


@dataclass
class Live:
    db: ThrowawayPostgres
    server: Gunicorn


@pytest.fixture(scope="package")
def live() -> Iterator[Live]:
    """gunicorn, 2 workers, on a throwaway PostgreSQL; shared by the concurrency and fault tests."""
    db = ThrowawayPostgres()
    server = Gunicorn(db.django_url, db.tmp)
    try:
        server.migrate()
        server.start()
        yield Live(db, server)
    finally:
        server.stop()
        db.cleanup()
