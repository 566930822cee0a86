"""Liveness: ``GET /health`` answers ``{"status": "ok"}`` while the process can serve a request.

No authentication, no database, no model, no counts (a public endpoint must not leak figures). Readiness
(database and model) is ``GET /ready``: 200 ``{"status": "ready", ..., "queue": {...}}`` (the task queue's backlog:
aggregate figures, nobody's data) or 503 with the error envelope.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from core.errors import error_body
from dashboard.selectors import database_reachable, model_loaded
from memories.embedding import embeddings
from memories.search.dense import dense_engine
from memories.search.search_index import index_status
from memories.selectors import queue_status

logger = logging.getLogger(__name__)

LIVENESS_PATHS = frozenset({"/health", "/health/"})
READINESS_PATHS = frozenset({"/ready", "/ready/"})
_loading_lock = threading.Lock()
_loading: list[threading.Thread] = []


def liveness(request: HttpRequest) -> JsonResponse:
    if request.method not in ("GET", "HEAD"):
        return JsonResponse(error_body("Method not allowed"), status=405, headers={"Allow": "GET, HEAD"})
    return JsonResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


def readiness(request: HttpRequest) -> JsonResponse:
    """Ready when the database answers and this process holds the embedding model.

    /ready never loads the model inside the request (that takes seconds, longer than a probe waits): if it is
    not loaded yet, the first call starts loading it in a background thread and answers 503 until it is done.
    Under gunicorn every worker loads it before its first request (gunicorn.conf.py), so this is for runserver
    and for a worker that somehow lost it.
    """
    if request.method not in ("GET", "HEAD"):
        return JsonResponse(error_body("Method not allowed"), status=405, headers={"Allow": "GET, HEAD"})
    checks = [database_reachable(), model_loaded()]
    if not checks[1].ok:
        _start_loading_model()
    body = {check.name: "ok" if check.ok else check.detail for check in checks}
    headers = {"Cache-Control": "no-store"}
    if all(check.ok for check in checks):
        index = _search_index_readiness()
        if index is not None:
            body["search_index"] = index
        # A broken FAISS index degrades search to pgvector but does not take the instance out of rotation.
        status = "ready" if index in (None, "ok") else "degraded"
        # The queue's backlog: a growing wait means the worker is down or behind (saves still answer; their
        # memories are found by keywords until it catches up), so it is shown, not a reason for 503.
        return JsonResponse({"status": status, "checks": body, "queue": queue_status()}, headers=headers)
    failing = ", ".join(check.name for check in checks if not check.ok)
    return JsonResponse(
        error_body(f"Not ready: {failing}", checks=body), status=503, headers={**headers, "Retry-After": "5"}
    )


def _search_index_readiness() -> str | None:
    """With SEARCH_BACKEND=faiss: "ok", or what is wrong with the index and which engine answers meanwhile."""
    if not dense_engine().uses_index_file:
        return None
    status = index_status()
    if status["state"] == "ok":
        return "ok"
    return f"degraded: index {status['state']}, /context served by {status['serving']}; run rebuild_index"


def _start_loading_model() -> None:
    with _loading_lock:
        if _loading and _loading[0].is_alive():
            return
        thread = threading.Thread(target=_load_model, name="load-embedding-model", daemon=True)
        _loading[:] = [thread]
        thread.start()


def _load_model() -> None:
    try:
        embeddings.get_model()
    except Exception:
        logger.exception("could not load the embedding model")


class HealthCheckMiddleware:
    """Answer liveness before the host check and the HTTPS redirect.

    Render's health checker calls the instance directly, over plain HTTP and not necessarily with the public
    host name, so /health (and /ready) must not depend on ALLOWED_HOSTS or SECURE_SSL_REDIRECT. It sits right after
    RequestIdMiddleware; the URLconf routes the same view for everything else (reverse(), the schema).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path in LIVENESS_PATHS:
            return liveness(request)
        if request.path in READINESS_PATHS:
            return readiness(request)
        return self.get_response(request)
