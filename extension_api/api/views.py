"""GET /extension/adapters (anonymous, per-IP burst limit, ETag) and POST /extension/health (the person's token)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.utils.http import parse_etags
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.ratelimit import burst_check, user_key
from core.openapi import error_responses
from extension_api import selectors, services
from extension_api.api.serializers import AdaptersOutput, HealthInput, HealthRecordedOutput
from extension_api.selectors import ServedAdapters


def _not_modified(request: Request, served: ServedAdapters) -> bool:
    """If-None-Match names the current ETag (weak comparison, as RFC 9110 says for this header) or is "*"."""
    header = request.headers.get("If-None-Match", "")
    if not header:
        return False
    if header.strip() == "*":
        return True
    current = served.etag.removeprefix("W/")
    return any(tag.removeprefix("W/") == current for tag in parse_etags(header))


def _cache_headers(response: HttpResponse, served: ServedAdapters) -> HttpResponse:
    response["ETag"] = served.etag
    # The same for everyone (no personal data): any cache may keep it; after max-age, revalidate with the ETag.
    response["Cache-Control"] = f"public, max-age={settings.EXTENSION_ADAPTERS_MAX_AGE_SECONDS}, must-revalidate"
    return response


class AdaptersView(APIView):
    """The site adapters the extension should use: public data (the same files ship inside the extension), so no
    token is needed or read; an expired token must never stop a capture fix from arriving."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={200: AdaptersOutput, 304: OpenApiResponse(description="Not modified (If-None-Match)")},
        summary="The current site adapters (declarative data), with a strong ETag",
        description=(
            "The bundled adapters, each replaced by its operator override when one is enabled. No token needed. "
            "Send If-None-Match with the last ETag: 304 when nothing changed. Limited per client address."
        ),
        auth=[],
    )
    def get(self, request: Request) -> HttpResponse:
        burst_check(request, group="extension-adapters", key="ip", rate=settings.EXTENSION_ADAPTERS_RATE)
        served = selectors.adapters_served()
        if _not_modified(request, served):
            return _cache_headers(HttpResponse(status=304), served)
        return _cache_headers(HttpResponse(served.body, content_type="application/json"), served)

    get.burst_limited = True  # type: ignore[attr-defined]  # the OpenAPI schema documents its 429


class HealthView(APIView):
    """Capture-health counts from a person's extension; the person's token (write scope) is required but not stored."""

    @extend_schema(
        request=HealthInput,
        responses={200: HealthRecordedOutput, **error_responses(400, 403)},
        summary="Report capture health: counts per site and layout, never content or addresses",
    )
    def post(self, request: Request) -> Response:
        burst_check(request, group="extension-health", key=user_key, rate=settings.EXTENSION_HEALTH_RATE)
        serializer = HealthInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        recorded = services.health_record(reports=serializer.health_reports())
        return Response(HealthRecordedOutput({"success": True, "recorded": recorded}).data)

    post.burst_limited = True  # type: ignore[attr-defined]
