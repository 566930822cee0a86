from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from core.cors import extension_origin_regexes

pytestmark = pytest.mark.django_db

EXTENSION_ID = "abcdefghijklmnopabcdefghijklmnop"
CORS = {
    "CORS_ALLOWED_ORIGINS": ["https://app.example.com"],
    "CORS_ALLOWED_ORIGIN_REGEXES": extension_origin_regexes([EXTENSION_ID]),
}


def preflight(client, origin, path="/save-prompt", headers="authorization, content-type, idempotency-key"):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


@override_settings(**CORS)
@pytest.mark.parametrize("origin", [f"chrome-extension://{EXTENSION_ID}", "https://app.example.com"])
def test_it_allows_a_preflight_from_an_allowed_origin(client, origin):
    response = preflight(client, origin)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == origin
    allowed = {h.strip() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key", "x-memory-space"} <= allowed
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response


@override_settings(**CORS)
@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example.com",
        "chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba",
        "https://app.example.com.evil.io",
    ],
)
def test_it_refuses_a_preflight_from_another_origin(client, origin):
    response = preflight(client, origin, path="/api/v1/memories/")

    assert "Access-Control-Allow-Origin" not in response


@override_settings(**CORS)
def test_it_labels_real_responses_and_errors_for_an_allowed_origin(client, alice):
    origin = f"chrome-extension://{EXTENSION_ID}"

    response = client.post("/save-prompt", {}, content_type="application/json", HTTP_ORIGIN=origin)

    assert response.status_code == 401 and response.json()["success"] is False
    assert response["Access-Control-Allow-Origin"] == origin
    assert "idempotent-replayed" in response["Access-Control-Expose-Headers"].lower()


def test_it_turns_extension_ids_into_exact_origin_patterns():
    assert extension_origin_regexes([f" {EXTENSION_ID} "]) == [rf"^chrome-extension://{EXTENSION_ID}$"]
    assert extension_origin_regexes([]) == []


@pytest.mark.parametrize("bad", ["short", "ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP", ".*", EXTENSION_ID + "q"])
def test_it_stops_start_up_on_a_malformed_extension_id(bad):
    with pytest.raises(ImproperlyConfigured, match="CORS_ALLOWED_EXTENSION_IDS"):
        extension_origin_regexes([bad])
