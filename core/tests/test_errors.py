from __future__ import annotations

import pytest
from django.db import OperationalError
from django.test import RequestFactory, override_settings
from rest_framework import exceptions

from core import errors
from core.exceptions import Limited

pytestmark = pytest.mark.django_db


def test_it_answers_unknown_urls_with_the_envelope(client):
    response = client.get("/no-such-endpoint")
    assert response.status_code == 404
    assert response.json() == {"success": False, "error": "Not found: /no-such-endpoint"}


@override_settings(DEBUG=True)
def test_it_answers_unknown_urls_with_the_envelope_even_in_debug(client):
    response = client.get("/no-such-endpoint")
    assert response.status_code == 404 and response.json()["success"] is False


def test_the_500_handler_hides_the_stack_trace():
    response = errors.handler500(RequestFactory().get("/x"))
    assert response.status_code == 500
    assert response.content == b'{"success": false, "error": "Internal server error"}'


def test_an_unexpected_exception_becomes_a_500_envelope():
    response = errors.api_exception_handler(RuntimeError("boom"), {"view": None})
    assert response is not None and response.status_code == 500
    assert response.data == {"success": False, "error": "Internal server error"}


def test_a_database_outage_becomes_503_with_retry_after():
    response = errors.api_exception_handler(OperationalError("connection refused"), {})
    assert response is not None and response.status_code == 503
    assert response.data["success"] is False and response["Retry-After"] == "5"


def test_nested_validation_errors_name_the_field():
    exc = exceptions.ValidationError({"results": [{"text": ["too long"]}], "non_field_errors": ["bad"]})
    response = errors.api_exception_handler(exc, {})
    assert response is not None
    assert response.data["error"] == "results.text: too long; bad"


def test_a_service_error_keeps_its_status_and_extra_fields():
    response = errors.api_exception_handler(Limited("slow down", retry_after=3, extra={"limit": 5}), {})
    assert response is not None and response.status_code == 429
    assert response.data == {"success": False, "error": "slow down", "limit": 5}


def test_the_other_page_handlers_answer_json():
    request = RequestFactory().get("/x")
    assert errors.handler400(request).status_code == 400
    assert errors.handler403(request).status_code == 403


def test_an_invalid_content_length_is_a_400(client):
    response = client.post("/save-prompt", "{}", content_type="application/json", CONTENT_LENGTH="abc")
    assert response.status_code == 400 and response.json()["success"] is False


def _html_404(request):
    from django.http import HttpResponseNotFound

    return HttpResponseNotFound("<h1>Not Found</h1>", content_type="text/html")


@pytest.mark.parametrize(("path", "html"), [("/pages/x", True), ("/dashboard/x", False), ("/api/x", False)])
def test_the_pages_that_keep_html_errors_are_a_setting(settings, path, html):
    from core.middleware import JsonErrorPageMiddleware

    settings.HTML_PATH_PREFIXES = ["/pages/"]  # core knows no app's routes: the project names them
    response = JsonErrorPageMiddleware(_html_404)(RequestFactory().get(path))
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html") is html
