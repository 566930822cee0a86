from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from accounts.checks import quota_settings_check, shared_cache_check, supabase_settings_check

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
REDIS = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://r:6379/0"}}


@override_settings(DEBUG=False, CACHES=LOCMEM, RATELIMIT_ALLOW_LOCAL_CACHE=False)
def test_it_refuses_a_per_process_cache_with_debug_off():
    assert [e.id for e in shared_cache_check()] == ["accounts.E001"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"DEBUG": True, "CACHES": LOCMEM, "RATELIMIT_ALLOW_LOCAL_CACHE": False},
        {"DEBUG": False, "CACHES": LOCMEM, "RATELIMIT_ALLOW_LOCAL_CACHE": True},
        {"DEBUG": False, "CACHES": REDIS, "RATELIMIT_ALLOW_LOCAL_CACHE": False},
    ],
)
def test_it_accepts_development_an_explicit_single_process_or_a_shared_cache(overrides):
    with override_settings(**overrides):
        assert shared_cache_check() == []


@override_settings(SUPABASE_JWKS_URL="ftp://example.com/jwks", SUPABASE_JWT_AUDIENCE="")
def test_it_checks_the_supabase_settings():
    assert [e.id for e in supabase_settings_check()] == ["accounts.E002", "accounts.E003"]


@override_settings(QUOTA_DAILY_LIMITS={"free": "100", "pro": 1000})
def test_it_checks_the_quota_settings():
    errors = quota_settings_check()
    assert [e.id for e in errors] == ["accounts.E004"] and "free, enterprise" in errors[0].msg


def test_the_default_settings_pass():
    assert supabase_settings_check() == [] and quota_settings_check() == []


def manage_check(**env: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    environment = {
        k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_DEBUG", "RATELIMIT_ALLOW_LOCAL_CACHE")
    }
    # No database is needed for `check`; a closed port keeps the embedded server from starting.
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DJANGO_SECRET_KEY="check-" + "k" * 50,
        DATABASE_URL="postgres://u:p@127.0.0.1:9/none",
        **env,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=root, env=environment, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_manage_check_passes_in_development_without_redis():
    result = manage_check(DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert "django_ratelimit" not in result.stdout + result.stderr


@pytest.mark.slow
def test_manage_check_fails_in_production_without_a_shared_cache():
    result = manage_check()
    assert result.returncode != 0 and "accounts.E001" in result.stderr


@pytest.mark.slow
def test_manage_check_passes_in_production_with_redis():
    result = manage_check(REDIS_URL="redis://127.0.0.1:6379/0")
    assert result.returncode == 0, result.stderr
    assert "accounts.E001" not in result.stderr
    # W001 only says Django's RedisCache is not on django-ratelimit's list (django-ratelimit#283): silenced.
    assert "django_ratelimit.W001" not in result.stderr
