"""Time spent per phase of a request, answered in the standard ``Server-Timing`` header.

``with phase("embed"): ...`` adds the block's wall time to the current request's phase (phases repeat and
add up); ``ServerTimingMiddleware`` starts the tally and writes ``Server-Timing: auth;dur=0.4, embed;dur=5.1``
(milliseconds), which browsers' developer tools show and ``bench/`` reads. Outside a request it does nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

_phases: ContextVar[dict[str, float] | None] = ContextVar("server_timing_phases", default=None)


@contextmanager
def phase(name: str) -> Iterator[None]:
    phases = _phases.get()
    if phases is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        phases[name] = phases.get(name, 0.0) + (time.perf_counter() - started) * 1000


def server_timing(phases: dict[str, float]) -> str:
    return ", ".join(f"{name};dur={ms:.2f}" for name, ms in phases.items())


class ServerTimingMiddleware:
    """Outermost but for the request id: ``total`` covers every other middleware too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        phases: dict[str, float] = {}
        token = _phases.set(phases)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            _phases.reset(token)
        phases["total"] = (time.perf_counter() - started) * 1000
        response["Server-Timing"] = server_timing(phases)
        return response
