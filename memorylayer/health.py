"""Liveness: ``GET /health`` answers ``{"status": "ok"}`` while the process can serve a request.

No authentication, no database, no model, no counts (a public endpoint must not leak figures). Readiness
(database and model) is a separate endpoint.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from memorylayer.errors import error_body

LIVENESS_PATHS = frozenset({"/health", "/health/"})


def liveness(request: HttpRequest) -> JsonResponse:
    if request.method not in ("GET", "HEAD"):
        return JsonResponse(error_body("Method not allowed"), status=405, headers={"Allow": "GET, HEAD"})
    return JsonResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


class HealthCheckMiddleware:
    """Answer liveness before the host check and the HTTPS redirect.

    Render's health checker calls the instance directly, over plain HTTP and not necessarily with the public
    host name, so /health must not depend on ALLOWED_HOSTS or SECURE_SSL_REDIRECT. It sits right after
    RequestIdMiddleware; the URLconf routes the same view for everything else (reverse(), the schema).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path in LIVENESS_PATHS:
            return liveness(request)
        return self.get_response(request)
