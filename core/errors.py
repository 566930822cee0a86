"""The one place that turns every error into the API's envelope: {"success": false, "error": "..."}."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from core.exceptions import (
    ApplicationError,
    Conflict,
    InvalidInput,
    Limited,
    Mismatch,
    NotAllowed,
    NotAuthenticated,
    NotFound,
    TooLarge,
)

logger = logging.getLogger(__name__)


# The one mapping from domain errors (core.exceptions) to status codes; the most specific class listed first.
STATUS_OF: tuple[tuple[type[ApplicationError], int], ...] = (
    (InvalidInput, status.HTTP_400_BAD_REQUEST),
    (NotAuthenticated, status.HTTP_401_UNAUTHORIZED),
    (NotAllowed, status.HTTP_403_FORBIDDEN),
    (NotFound, status.HTTP_404_NOT_FOUND),
    (Conflict, status.HTTP_409_CONFLICT),
    (TooLarge, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE),
    (Mismatch, status.HTTP_422_UNPROCESSABLE_ENTITY),
    (Limited, status.HTTP_429_TOO_MANY_REQUESTS),
)


def status_of(exc: ApplicationError) -> int:
    return next((code for kind, code in STATUS_OF if isinstance(exc, kind)), status.HTTP_400_BAD_REQUEST)


def application_error_response(exc: ApplicationError) -> Response:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Limited) else {}
    return Response(error_body(exc.message, **exc.extra), status=status_of(exc), headers=headers)


def error_body(message: str, **extra: Any) -> dict[str, Any]:
    extra = {key: _encodable(value) if isinstance(value, str) else value for key, value in extra.items()}
    return {"success": False, "error": _encodable(message), **extra}


def _encodable(text: str) -> str:
    """Messages quote the client's input ("'\ud800' is not a valid choice"); a lone surrogate from a JSON escape
    cannot be encoded as UTF-8 and would turn the 400 into a 500 when the response is rendered. U+FFFD instead."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def flatten_errors(detail: Any, prefix: str = "") -> list[str]:
    """DRF's nested validation detail as 'field: message' lines, so a person sees which field is wrong."""
    if isinstance(detail, dict):
        lines: list[str] = []
        for key, value in detail.items():
            name = "" if key in ("non_field_errors", "detail") else f"{prefix}{key}"
            lines.extend(flatten_errors(value, f"{name}." if name else ""))
        return lines
    if isinstance(detail, list):
        return [line for item in detail for line in flatten_errors(item, prefix)]
    field = prefix.rstrip(".")
    return [f"{field}: {detail}" if field else str(detail)]


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        set_rollback()  # as DRF does for its own exceptions: nothing half-written survives an error answer
        return application_error_response(exc)
    if isinstance(exc, Ratelimited):  # django-ratelimit's own decorator, if a view uses it: 429, not 403
        return Response(error_body("Too many requests; retry shortly."), status=status.HTTP_429_TOO_MANY_REQUESTS)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body(_too_big_message()), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, (OperationalError, InterfaceError)):
        set_rollback()
        logger.warning("database unavailable: %s", exc)
        return Response(
            error_body("The database is temporarily unavailable; please retry shortly."),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        if isinstance(exc, DatabaseError):
            logger.exception("database error")
        else:
            logger.exception("unhandled error in %s", context.get("view"))
        return Response(error_body("Internal server error"), status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    if isinstance(exc, exceptions.ValidationError):
        message = "; ".join(flatten_errors(exc.detail)) or "Invalid input"
    elif isinstance(exc, exceptions.NotAuthenticated):
        message = "Authentication required: send 'Authorization: Bearer <access token>'"
    elif isinstance(exc, exceptions.AuthenticationFailed):
        message = _auth_message(exc)
    elif isinstance(exc, exceptions.ParseError):
        message = f"Malformed request body: {exc.detail}"
    else:
        message = "; ".join(flatten_errors(exc.detail)) if hasattr(exc, "detail") else str(exc)
    response.data = error_body(message, **_extra(response.data))
    return response


def _auth_message(exc: exceptions.APIException) -> str:
    detail: Any = exc.detail
    if isinstance(detail, dict):
        messages = detail.get("messages")
        if messages:
            return f"Invalid token: {messages[0].get('message', detail.get('detail'))}"
        return str(detail.get("detail", "Invalid token"))
    return str(detail)


def _extra(data: Any) -> dict[str, Any]:
    # simplejwt adds a machine-readable code next to its detail; keep it, drop the nested noise.
    if isinstance(data, dict) and isinstance(data.get("code"), str):
        return {"code": data["code"]}
    return {}


def _too_big_message() -> str:
    from django.conf import settings

    return f"Request body too large: the limit is {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes"


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body(f"Not found: {request.path}"), status=404)


def handler500(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_body("Internal server error"), status=500)


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("Bad request"), status=400)


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("Forbidden"), status=403)
