"""Operators override a site's adapter from the admin: valid data is served at once, invalid data is refused with
the schema's words and never stored."""

from __future__ import annotations

import json

import pytest

from extension_api.models import AdapterOverride
from extension_api.tests.conftest import fixture_adapter

pytestmark = pytest.mark.django_db

ADD = "/admin/extension_api/adapteroverride/add/"


@pytest.fixture
def staff_browser(client, staff):
    client.force_login(staff)
    return client


def _form(site: str, data, enabled: bool = True) -> dict:
    form = {"site": site, "data": json.dumps(data) if not isinstance(data, str) else data}
    if enabled:
        form["enabled"] = "on"
    return form


def test_staff_add_an_override_and_the_next_fetch_serves_it(
    staff_browser, staff, anon_client, django_capture_on_commit_callbacks
):
    anon_client.get("/extension/adapters")  # the set is cached now
    data = fixture_adapter("claude")
    data["layouts"][1]["strip"].append("[data-cds=Disclaimer]")
    data["version"] = "2026.12.5"

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_browser.post(ADD, _form("claude", data))

    assert response.status_code == 302, response.content.decode()[-3000:]
    override = AdapterOverride.objects.get()
    assert override.updated_by == staff and override.enabled
    served = anon_client.get("/extension/adapters").json()["adapters"]["claude"]
    assert served["version"] == "2026.12.5"
    assert "[data-cds=Disclaimer]" in served["layouts"][1]["strip"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (fixture_adapter("grok") | {"script": "alert(1)"}, "Additional properties are not allowed (&#x27;script&#x27;"),
        (fixture_adapter("claude"), "site is &#x27;claude&#x27; but this override is for &#x27;grok&#x27;"),
        ({"schema_version": 1, "site": "grok"}, "(top level): &#x27;hosts&#x27; is a required property"),
        ("{not json", "Enter a valid JSON"),
    ],
)
def test_invalid_data_is_refused_with_a_clear_error_and_nothing_is_stored(staff_browser, data, message):
    response = staff_browser.post(ADD, _form("grok", data))

    assert response.status_code == 200
    html = response.content.decode()
    assert "errornote" in html
    assert message in html
    assert not AdapterOverride.objects.exists()


def test_the_add_page_starts_from_the_bundled_adapter_of_the_site(staff_browser):
    html = staff_browser.get(ADD + "?site=gemini").content.decode()
    assert "message-content.model-response-text .markdown-main-panel" in html


def test_the_change_page_shows_the_bundled_adapter_beside_the_override(staff_browser):
    override = AdapterOverride.objects.create(site="grok", data=fixture_adapter("grok") | {"version": "3"})
    html = staff_browser.get(f"/admin/extension_api/adapteroverride/{override.pk}/change/").content.decode()
    assert "bundled adapter (served when no override is enabled)" in html.lower()
    assert "&quot;version&quot;: &quot;2026.10.1&quot;" in html


def test_deleting_from_the_admin_serves_the_bundled_adapter_again(
    staff_browser, anon_client, django_capture_on_commit_callbacks
):
    override = AdapterOverride.objects.create(site="grok", data=fixture_adapter("grok") | {"version": "3"})
    assert anon_client.get("/extension/adapters").json()["adapters"]["grok"]["version"] == "3"

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_browser.post(f"/admin/extension_api/adapteroverride/{override.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert anon_client.get("/extension/adapters").json()["adapters"]["grok"]["version"] == "2026.10.1"


def test_the_bulk_delete_action_goes_through_the_service_too(
    staff_browser, anon_client, django_capture_on_commit_callbacks
):
    override = AdapterOverride.objects.create(site="grok", data=fixture_adapter("grok") | {"version": "3"})
    anon_client.get("/extension/adapters")
    with django_capture_on_commit_callbacks(execute=True):
        staff_browser.post(
            "/admin/extension_api/adapteroverride/",
            {"action": "delete_selected", "_selected_action": [override.pk], "post": "yes"},
        )
    assert not AdapterOverride.objects.exists()
    assert anon_client.get("/extension/adapters").json()["adapters"]["grok"]["version"] == "2026.10.1"


def test_capture_health_is_read_only_in_the_admin(staff_browser):
    assert staff_browser.get("/admin/extension_api/capturehealth/").status_code == 200
    assert staff_browser.get("/admin/extension_api/capturehealth/add/").status_code == 403


def test_non_staff_cannot_open_the_override_admin(client, alice):
    client.force_login(alice)
    assert client.get(ADD).status_code == 302
