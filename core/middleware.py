from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.errors import _too_big_message, error_body
from core.logs import request_id_var


class RequestSizeLimitMiddleware:
    """Answer 413 before anything reads a body larger than Django's upload limit.

    DRF parsers read the request stream directly, so Django's own check on ``request.body`` would not fire.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse(error_body("Invalid Content-Length header"), status=400)
        if _exempt(request.path):
            return self.get_response(request)  # the view enforces its own, larger cap
        if limit is not None and length > limit:
            return JsonResponse(error_body(_too_big_message()), status=413)
        return self.get_response(request)


def _exempt(path: str) -> bool:
    return any(re.search(pattern, path) for pattern in settings.REQUEST_SIZE_LIMIT_EXEMPT_PATHS)


class JsonErrorPageMiddleware:
    """With DEBUG on, Django answers unknown URLs and crashes with HTML pages; the API never does.

    HTML for people keeps its pages: the paths under ``settings.HTML_PATH_PREFIXES`` (the project's routes, which
    core does not know).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and response.get("Content-Type", "").startswith("text/html")
            and not request.path.startswith(tuple(settings.HTML_PATH_PREFIXES))
        ):
            message = f"Not found: {request.path}" if response.status_code == 404 else response.reason_phrase
            return JsonResponse(error_body(message), status=response.status_code)
        return response


class RequestIdMiddleware:
    """Give every request an id: a sane incoming ``X-Request-ID`` (Render's proxy or a client) or a new uuid4.

    The id goes on every log line written while the request is handled (``core.logs``) and back to the
    client in the ``X-Request-ID`` response header, so a report from a user can be matched to the logs.
    """

    header = "X-Request-ID"
    # Short and plain: an id, never a place to smuggle a token or a log-forging newline into the logs.
    valid = re.compile(r"[A-Za-z0-9._:-]{8,64}")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if self.valid.fullmatch(incoming) else str(uuid.uuid4())
        request_id_var.set(request_id)
        request.request_id = request_id  # type: ignore[attr-defined]
        response = self.get_response(request)
        response[self.header] = request_id
        return response
