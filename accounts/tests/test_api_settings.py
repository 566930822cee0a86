"""GET and PATCH /me/settings: the capture settings, the caller's own only."""

from __future__ import annotations

import pytest

from accounts.models import Preferences
from testkit import assert_error, client_for

pytestmark = pytest.mark.django_db

ALL_ON = {"chatgpt": True, "claude": True, "gemini": True, "grok": True}
DEFAULTS = {
    "capture": True,
    "providers": ALL_ON,
    "context": True,
    "redact_pii": False,
    "excluded_phrases": [],
}


def test_a_new_person_has_everything_on_and_no_row_is_written(alice, alice_client):
    assert alice_client.get("/me/settings").json() == DEFAULTS
    assert not Preferences.objects.exists()


def test_patch_changes_only_what_it_names_and_keeps_the_other_providers(alice, alice_client):
    answer = alice_client.patch("/me/settings", {"providers": {"grok": False}, "redact_pii": True}, format="json")
    assert answer.status_code == 200
    expected = {**DEFAULTS, "providers": {**ALL_ON, "grok": False}, "redact_pii": True}
    assert answer.json() == expected
    assert alice_client.get("/api/v1/me/settings").json() == expected
    phrases = alice_client.patch("/me/settings", {"excluded_phrases": ["project zebra"]}, format="json").json()
    assert phrases["excluded_phrases"] == ["project zebra"] and phrases["providers"]["grok"] is False


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"colour": "blue"}, "colour: is not a setting"),
        ({"capture": "yes"}, "capture: must be a valid boolean"),
        ({"capture": 0}, "capture: must be a valid boolean"),
        ({"providers": {"bard": True}}, "unknown provider 'bard'"),
        ({"providers": {"grok": "off"}}, "providers"),
        ({"providers": ["grok"]}, "providers"),
        ({"excluded_phrases": "zebra"}, "excluded_phrases"),
        ({"excluded_phrases": [1]}, "excluded_phrases"),
        ({"excluded_phrases": ["x" * 201]}, "excluded_phrases"),
        ({"excluded_phrases": ["p"] * 101}, "excluded_phrases"),
    ],
)
def test_bad_settings_are_refused_and_nothing_changes(alice, alice_client, body, fragment):
    assert_error(alice_client.patch("/me/settings", body, format="json"), 400, fragment)
    assert alice_client.get("/me/settings").json() == DEFAULTS


def test_a_body_that_is_not_an_object_is_refused(alice_client):
    assert_error(alice_client.patch("/me/settings", [1, 2], format="json"), 400, "json object")


def test_it_needs_a_token_and_refuses_other_methods(alice_client, anon_client):
    assert_error(anon_client.get("/me/settings"), 401, "authentication")
    assert_error(anon_client.patch("/me/settings", {"capture": False}, format="json"), 401, "authentication")
    assert_error(alice_client.post("/me/settings", {"capture": False}, format="json"), 405, "not allowed")
    assert_error(alice_client.delete("/me/settings"), 405, "not allowed")


def test_one_persons_settings_never_touch_anothers(alice, bob, alice_client):
    alice_client.patch("/me/settings", {"capture": False}, format="json")
    assert client_for(bob).get("/me/settings").json()["capture"] is True
