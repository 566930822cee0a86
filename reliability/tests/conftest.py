from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Tier
from conftest import make_user


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
