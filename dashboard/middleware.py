"""Counts every API request into the metrics aggregates (dashboard.models), after the response is built: into
this process's buffer, written to PostgreSQL every METRICS_FLUSH_SECONDS (dashboard.services.MetricsBuffer)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import nullcontext
from functools import lru_cache
from importlib import import_module

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from core.dates import utc_today
from core.timing import phase
from dashboard import services

logger = logging.getLogger(__name__)

UNMATCHED = "(unmatched)"
_last_prune: dict[str, object] = {"day": None}


@lru_cache(maxsize=1)
def api_route_names() -> frozenset[str]:
    """URL names of the JSON API and /mcp (settings.METRICS_URLCONFS): the endpoints worth counting."""
    patterns = [p for urlconf in settings.METRICS_URLCONFS for p in import_module(urlconf).urlpatterns]
    return frozenset(str(p.name) for p in patterns if getattr(p, "name", None))


def endpoint_of(request: HttpRequest) -> str | None:
    """The URL name (root and /api/v1/ copies counted together), '(unmatched)' for unknown paths, or None to skip.

    The key is the route's name, never the raw path: user ids and memory ids in paths must not become keys.
    Staff pages, static files, the schema and the probes are not API traffic and are skipped.
    """
    match = request.resolver_match
    if match is None:  # answered by a middleware (413, a CORS preflight) before URL resolution
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return UNMATCHED
    name = match.url_name
    return name if name in api_route_names() else None


class RequestMetricsMiddleware:
    """Records endpoint, status, latency and user; a failure here is logged and never reaches the client."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        if settings.METRICS_ENABLED:
            self._record(request, response, (time.perf_counter() - started) * 1000)
        return response

    def _record(self, request: HttpRequest, response: HttpResponse, latency_ms: float) -> None:
        try:
            endpoint = endpoint_of(request)
            if endpoint is None:
                return
            user = getattr(request, "user", None)
            user_id = user.pk if user is not None and getattr(user, "is_authenticated", False) else None
            # Inside a transaction (ATOMIC_REQUESTS, tests) a savepoint keeps a failure from poisoning it.
            services.buffer.add(
                endpoint=endpoint,
                method=request.method or "",
                status=response.status_code,
                latency_ms=latency_ms,
                user_id=user_id,
            )
            if services.buffer.due():
                # Inside a transaction (ATOMIC_REQUESTS, tests) a savepoint keeps a failure from poisoning it.
                with phase("metrics"), transaction.atomic() if connection.in_atomic_block else nullcontext():
                    services.buffer.flush()
                _prune_once_a_day()
        except Exception as exc:
            logger.warning("request metrics not recorded: %s", exc.__class__.__name__)


def _prune_once_a_day() -> None:
    today = utc_today()
    if _last_prune["day"] == today:
        return
    _last_prune["day"] = today
    services.metrics_prune()
