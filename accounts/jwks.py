"""Supabase's signing keys, fetched from the configured JWKS URL and cached for at most ten minutes.

Supabase caches its JWKS at the edge for ten minutes and asks verifiers not to keep keys longer, so that a
revoked key stops working within that time. A token whose ``kid`` is not in the cache triggers one refetch
(a key rotation must not wait for the cache to expire); after such a refetch, other unknown kids wait for a
short cool-down, so that a stream of made-up kids cannot turn into a stream of fetches. The URL comes from
settings only: nothing in a token (``jku``, ``x5u``, ``iss``) is ever fetched.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import jwt

logger = logging.getLogger(__name__)

MAX_CACHE_SECONDS = 600
# Only asymmetric keys are taken from a JWKS: an "oct" (HMAC) key there would reopen algorithm confusion.
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "ES256"})


class JWKSError(Exception):
    """The key set could not be fetched or holds no usable key for the token."""


@dataclass
class _KeySet:
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    fetched_at: float = float("-inf")
    unknown_kid_refetch_at: float = float("-inf")


class JWKSCache:
    """Keys of one JWKS URL, shared by the threads of a process."""

    def __init__(self, url: str, *, max_age: float, timeout: float, unknown_kid_cooldown: float):
        if not url.startswith(("https://", "http://")):
            raise JWKSError("SUPABASE_JWKS_URL must be an http(s) URL")
        self.url = url
        self.max_age = min(max_age, MAX_CACHE_SECONDS)
        self.timeout = timeout
        self.unknown_kid_cooldown = unknown_kid_cooldown
        self._lock = threading.Lock()
        self._set = _KeySet()

    def get_key(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            now = time.monotonic()
            fresh = now - self._set.fetched_at < self.max_age
            if not fresh:
                # Never serve keys older than max_age: if this fetch fails, the caller answers 401.
                self._set.keys = {}
                self._refresh(now)
            elif kid not in self._set.keys and now - self._set.unknown_kid_refetch_at >= self.unknown_kid_cooldown:
                self._set.unknown_kid_refetch_at = now
                self._refresh(now)  # on failure the fresh keys stay: the known kids keep working
            key = self._set.keys.get(kid)
        if key is None:
            raise JWKSError(f"no signing key with kid {kid!r}")
        return key

    def _refresh(self, now: float) -> None:
        self._set.keys, self._set.fetched_at = _parse(self._fetch()), now

    def _fetch(self) -> Any:
        request = urllib.request.Request(self.url, headers={"Accept": "application/json"})  # noqa: S310 (scheme checked)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read(1_000_001))
        except (OSError, ValueError) as exc:  # URLError, HTTPError and timeouts are OSErrors
            logger.warning("could not fetch the JWKS from %s: %s", self.url, exc)
            raise JWKSError("the signing keys could not be fetched") from exc


def _parse(document: Any) -> dict[str, jwt.PyJWK]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JWKSError("the JWKS document has no 'keys' list")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry)
        except jwt.PyJWTError:
            continue  # unsupported or malformed key: it can sign nothing we accept
        if key.algorithm_name in ASYMMETRIC_ALGORITHMS:
            keys[entry["kid"]] = key
    return keys


_caches: dict[str, JWKSCache] = {}
_caches_lock = threading.Lock()


def jwks_cache(url: str, *, max_age: float, timeout: float, unknown_kid_cooldown: float) -> JWKSCache:
    """The process-wide cache for ``url`` (settings may change in tests, so each URL has its own)."""
    with _caches_lock:
        cache = _caches.get(url)
        if cache is None:
            cache = _caches[url] = JWKSCache(
                url, max_age=max_age, timeout=timeout, unknown_kid_cooldown=unknown_kid_cooldown
            )
        cache.max_age = min(max_age, MAX_CACHE_SECONDS)
        cache.timeout, cache.unknown_kid_cooldown = timeout, unknown_kid_cooldown
        return cache


def clear_caches() -> None:
    with _caches_lock:
        _caches.clear()
