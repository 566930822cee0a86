from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from accounts.jwks import clear_caches
from accounts.tests.supabase_fakes import HS_SECRET, JWKSServer, SigningKey


@pytest.fixture(autouse=True)
def _fresh_jwks_caches() -> Iterator[None]:
    clear_caches()
    yield
    clear_caches()


@pytest.fixture(scope="session")
def rs_key() -> SigningKey:
    return SigningKey("RS256")


@pytest.fixture(scope="session")
def es_key() -> SigningKey:
    return SigningKey("ES256")


@pytest.fixture
def jwks_server(rs_key: SigningKey, es_key: SigningKey) -> Iterator[JWKSServer]:
    server = JWKSServer([rs_key, es_key])
    yield server
    server.close()


@pytest.fixture
def supabase_hs(settings: Any) -> str:
    """Supabase's legacy HS256 secret configured (and no JWKS)."""
    settings.SUPABASE_JWT_SECRET = HS_SECRET
    settings.SUPABASE_JWKS_URL = ""
    return HS_SECRET


@pytest.fixture
def supabase_jwks(settings: Any, jwks_server: JWKSServer) -> JWKSServer:
    """Supabase's asymmetric signing keys configured (and no HS256 secret)."""
    settings.SUPABASE_JWT_SECRET = ""
    settings.SUPABASE_JWKS_URL = jwks_server.url
    return jwks_server
