"""core.timing: phases add up inside a request and do nothing outside one; the header's format."""

from __future__ import annotations

from django.http import HttpResponse
from django.test import RequestFactory

from core.timing import ServerTimingMiddleware, phase, server_timing


def test_outside_a_request_a_phase_does_nothing():
    with phase("embed"):
        pass
    assert server_timing({"a": 1.234, "b": 0.0}) == "a;dur=1.23, b;dur=0.00"


def test_the_middleware_adds_up_repeated_phases_and_a_total():
    def view(request):
        for _ in range(3):
            with phase("embed"):
                pass
        return HttpResponse("ok")

    response = ServerTimingMiddleware(view)(RequestFactory().get("/"))
    names = [part.split(";")[0] for part in response["Server-Timing"].split(", ")]
    assert names == ["embed", "total"]
