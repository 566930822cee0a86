"""Loading and checking adapter documents: the bundled files, and the real extension/adapters folder when present."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings

from extension_api.adapters import adapter_errors, bundle, bundle_load
from extension_api.checks import bundled_adapters_check
from extension_api.models import Site
from extension_api.tests.conftest import FIXTURES, fixture_adapter

REAL_DIR = Path(settings.BASE_DIR) / "extension" / "adapters"


def test_it_loads_every_valid_bundled_adapter_by_site():
    found = bundle()
    assert sorted(found.adapters) == ["chatgpt", "claude", "gemini", "grok"]
    assert found.errors == []
    assert found.adapters["claude"]["layouts"][1]["name"] == "hub"
    assert len(found.digest) == 16


def test_it_refuses_a_bundled_file_that_breaks_the_schema_and_keeps_the_others(adapters_copy):
    broken = fixture_adapter("grok") | {"script": "alert(1)"}
    (adapters_copy / "grok.json").write_text(json.dumps(broken))

    found = bundle()

    assert "grok" not in found.adapters and "claude" in found.adapters
    assert found.errors == ["grok.json: (top level): Additional properties are not allowed ('script' was unexpected)"]
    assert [check.id for check in bundled_adapters_check()] == ["extension_api.E001"]


def test_it_refuses_a_file_whose_name_is_not_its_site(adapters_copy):
    (adapters_copy / "gemini.json").write_text(json.dumps(fixture_adapter("claude")))
    found = bundle()
    assert "gemini" not in found.adapters and found.adapters["claude"] == fixture_adapter("claude")
    assert found.errors == ["gemini.json: site is 'claude' but the file is named gemini.json"]


def test_other_files_in_the_folder_are_not_adapters(adapters_copy):
    (adapters_copy / "index.json").write_text(json.dumps({"files": ["claude.json"]}))
    (adapters_copy / "grok.json").rename(adapters_copy / "xai.json")
    found = bundle()
    assert sorted(found.adapters) == ["chatgpt", "claude", "gemini"] and found.errors == []


def test_a_schema_that_cannot_be_applied_refuses_instead_of_crashing(adapters_copy):
    schema = json.loads((adapters_copy / "schema.json").read_text())
    schema["properties"]["layouts"] = {"$ref": "https://example.invalid/layouts.json"}
    (adapters_copy / "schema.json").write_text(json.dumps(schema))
    found = bundle()
    assert found.adapters == {}
    assert found.errors[0] == (
        "chatgpt.json: schema.json could not be applied: Unresolvable: https://example.invalid/layouts.json"
    )


def test_it_refuses_a_file_that_is_not_json(adapters_copy):
    (adapters_copy / "claude.json").write_text("{not json")
    assert bundle().errors[0].startswith("claude.json: not JSON")


def test_without_a_schema_nothing_is_served_and_the_reason_is_given(adapters_copy):
    (adapters_copy / "schema.json").unlink()
    found = bundle()
    assert found.adapters == {}
    assert found.errors[0].startswith("schema.json: missing from")
    assert "no usable schema.json" in adapter_errors(fixture_adapter("grok"), validator=found.validator)[0]


def test_a_schema_that_is_not_a_json_schema_is_refused(adapters_copy):
    (adapters_copy / "schema.json").write_text(json.dumps({"type": 12}))
    found = bundle()
    assert found.validator is None and found.adapters == {}
    assert found.errors[0].startswith("schema.json: not a valid JSON Schema")


def test_a_missing_folder_serves_none_and_is_logged_not_a_check_failure(settings, tmp_path, caplog):
    settings.EXTENSION_ADAPTERS_DIR = str(tmp_path / "nowhere")
    assert bundle().adapters == {}
    assert "no adapters folder at" in caplog.text
    assert bundled_adapters_check() == []


def test_it_names_each_problem_with_its_place_in_the_document():
    document = fixture_adapter("claude")
    document["layouts"][0]["answer"] = ""
    document["layouts"][1]["onload"] = "fetch('https://evil')"
    problems = adapter_errors(document, validator=bundle().validator)
    assert problems == [
        "layouts/0/answer: '' should be non-empty",
        "layouts/1: Additional properties are not allowed ('onload' was unexpected)",
    ]


def test_it_refuses_an_adapter_for_another_site_or_too_large(settings):
    validator = bundle().validator
    assert adapter_errors(fixture_adapter("grok"), validator=validator, site="claude") == [
        "site is 'grok' but this override is for 'claude'"
    ]
    settings.EXTENSION_ADAPTER_MAX_BYTES = 100
    assert "at most 100 are accepted" in adapter_errors(fixture_adapter("grok"), validator=validator)[0]
    assert adapter_errors(["not", "an", "object"], validator=validator) == ["an adapter is a JSON object"]


def test_the_real_adapter_files_pass_their_own_schema_when_present():
    """After the extension's adapters land in extension/adapters/, every file there must load; until then the
    fixtures stand in (the same assertions, never skipped)."""
    directory = REAL_DIR if (REAL_DIR / "schema.json").is_file() else FIXTURES
    found = bundle_load(str(directory))
    assert found.validator is not None
    assert found.errors == []
    assert sorted(found.adapters) == sorted(Site.values)  # one valid file per known site
    for document in found.adapters.values():
        assert document["schema_version"] == 1 and document["hosts"] and document["layouts"]
