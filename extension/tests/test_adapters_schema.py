"""The bundled site adapters against their JSON Schema (the same check the server runs on them and on operators'
overrides), and the schema's closed vocabulary: code, unknown fields and unknown conditions are refused."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

ADAPTERS = Path(__file__).resolve().parent.parent / "adapters"
SITES = ("chatgpt", "claude", "gemini", "grok")


def load(name: str) -> Any:
    return json.loads((ADAPTERS / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = load("schema")
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.mark.parametrize("site", SITES)
def test_it_accepts_each_bundled_adapter(validator: Draft202012Validator, site: str) -> None:
    adapter = load(site)
    assert [e.message for e in validator.iter_errors(adapter)] == []
    assert adapter["site"] == site
    assert {layout["name"] for layout in adapter["layouts"]}  # every layout named


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("layouts", 0, "onload"), "fetch('https://example.org')"),  # an unknown field
        (("layouts", 0, "complete"), {"eval": "document.title"}),  # an unknown condition
        (("layouts", 0, "strip"), ["div { background: url(x) }"]),  # CSS text, not a selector
        (("layouts", 0, "send_keys"), ["Alt+Enter"]),  # a key outside the vocabulary
        (("layouts", 0, "send"), [{"css": "button", "run": "x"}]),  # an unknown hook field
        (("schema_version",), 2),
    ],
)
def test_it_refuses_what_is_not_in_the_vocabulary(validator: Draft202012Validator, where: tuple, value: Any) -> None:
    adapter = copy.deepcopy(load("claude"))
    target = adapter
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    assert list(validator.iter_errors(adapter))
