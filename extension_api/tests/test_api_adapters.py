"""GET /extension/adapters: public data, a strong ETag, 304 on revalidation, overrides in place of their site."""

from __future__ import annotations

import hashlib
import json

import pytest
from rest_framework.test import APIClient

from extension_api import services
from extension_api.models import AdapterOverride
from extension_api.tests.conftest import fixture_adapter
from testkit import assert_error, client_for

pytestmark = pytest.mark.django_db

URL = "/extension/adapters"


def _override(site: str, *, enabled: bool = True, **changes) -> AdapterOverride:
    data = fixture_adapter(site) | changes
    return services.adapter_override_save(override=AdapterOverride(site=site, data=data, enabled=enabled), user=None)


def test_it_serves_every_bundled_adapter_with_a_strong_etag_and_cache_headers(anon_client):
    response = anon_client.get(URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["schema_version"] == 1
    assert sorted(body["adapters"]) == ["chatgpt", "claude", "gemini", "grok"]
    assert body["adapters"]["claude"] == fixture_adapter("claude")
    etag = response["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert etag == '"' + hashlib.sha256(response.content).hexdigest()[:32] + '"'
    assert response["Cache-Control"] == "public, max-age=300, must-revalidate"


def test_it_answers_304_without_a_body_when_the_etag_still_matches(anon_client):
    etag = anon_client.get(URL)["ETag"]

    for header in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        response = anon_client.get(URL, HTTP_IF_NONE_MATCH=header)
        assert response.status_code == 304, header
        assert response.content == b""
        assert response["ETag"] == etag

    assert anon_client.get(URL, HTTP_IF_NONE_MATCH='"stale"').status_code == 200


def test_an_enabled_override_replaces_its_site_and_changes_the_etag(anon_client, django_capture_on_commit_callbacks):
    before = anon_client.get(URL)

    with django_capture_on_commit_callbacks(execute=True):
        _override("gemini", version="2026.11.7")
    after = anon_client.get(URL, HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    adapters = after.json()["adapters"]
    assert adapters["gemini"]["version"] == "2026.11.7"
    assert adapters["claude"] == before.json()["adapters"]["claude"]


def test_a_second_override_for_a_site_replaces_the_first(anon_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = _override("gemini", version="1")
        second = _override("gemini", version="2")
    assert second.pk == first.pk
    assert list(AdapterOverride.objects.values_list("site", "data__version")) == [("gemini", "2")]
    assert anon_client.get(URL).json()["adapters"]["gemini"]["version"] == "2"


def test_a_disabled_override_is_not_served(anon_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _override("grok", enabled=False, version="9.9.9")
    assert anon_client.get(URL).json()["adapters"]["grok"] == fixture_adapter("grok")


def test_deleting_an_override_serves_the_bundled_adapter_again(anon_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        override = _override("claude", version="2026.12.1")
    assert anon_client.get(URL).json()["adapters"]["claude"]["version"] == "2026.12.1"

    with django_capture_on_commit_callbacks(execute=True):
        services.adapter_override_delete(override=override)

    assert anon_client.get(URL).json()["adapters"]["claude"] == fixture_adapter("claude")


def test_a_stored_override_the_schema_now_refuses_is_never_served(anon_client):
    # Saved behind the service's back, as if an older, looser schema had allowed it.
    AdapterOverride.objects.create(site="chatgpt", data=fixture_adapter("chatgpt") | {"eval": "x()"})
    assert anon_client.get(URL).json()["adapters"]["chatgpt"] == fixture_adapter("chatgpt")


def test_the_service_refuses_invalid_override_data_and_stores_nothing():
    from core.exceptions import InvalidInput

    with pytest.raises(InvalidInput, match=r"cannot be served: layouts/0: 'answer' is a required property"):
        data = fixture_adapter("grok")
        del data["layouts"][0]["answer"]
        services.adapter_override_save(override=AdapterOverride(site="grok", data=data), user=None)
    assert not AdapterOverride.objects.exists()


def test_the_set_is_cached_until_an_override_changes_it(anon_client, django_assert_max_num_queries):
    anon_client.get(URL)
    with django_assert_max_num_queries(10) as queries:  # the request metrics' own writes only
        assert anon_client.get(URL).status_code == 200
    assert not [q for q in queries.captured_queries if "extension_api_adapteroverride" in q["sql"]]


def test_no_token_is_needed_and_a_bad_or_someone_elses_token_is_ignored(alice, anon_client):
    anonymous = anon_client.get(URL)
    expired = APIClient()
    expired.credentials(HTTP_AUTHORIZATION="Bearer not-a-valid-token")

    assert client_for(alice).get(URL).content == anonymous.content
    assert expired.get(URL).status_code == 200


def test_it_is_served_under_api_v1_too(anon_client):
    assert anon_client.get("/api/v1" + URL).content == anon_client.get(URL).content


def test_other_methods_are_refused(anon_client, alice_client):
    assert_error(anon_client.post(URL, {}, format="json"), 405, "not allowed")
    assert_error(alice_client.put(URL, {}, format="json"), 405, "not allowed")
    assert anon_client.head(URL).status_code == 200


def test_it_limits_requests_per_client_address(anon_client, settings):
    settings.EXTENSION_ADAPTERS_RATE = "2/m"
    assert anon_client.get(URL).status_code == 200
    assert anon_client.get(URL).status_code == 200
    response = anon_client.get(URL, REMOTE_ADDR="127.0.0.1")
    assert_error(response, 429, "Too many requests")
    assert int(response["Retry-After"]) >= 1
    assert APIClient(REMOTE_ADDR="10.9.8.7").get(URL).status_code == 200


def test_the_extension_origin_may_revalidate_and_read_the_etag(anon_client, settings):
    settings.CORS_ALLOWED_ORIGIN_REGEXES = [r"^chrome-extension://abcdefghijklmnopabcdefghijklmnop$"]
    origin = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
    preflight = anon_client.options(
        URL,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="if-none-match",
    )
    assert "if-none-match" in preflight["Access-Control-Allow-Headers"]
    response = anon_client.get(URL, HTTP_ORIGIN=origin)
    assert "ETag" in response["Access-Control-Expose-Headers"]
    assert json.loads(response.content)["schema_version"] == 1
