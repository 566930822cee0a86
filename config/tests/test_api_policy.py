"""The input policy, checked over the whole API: every JSON body of ours refuses a key it does not declare.

The walk reads the OpenAPI schema, so a new endpoint is covered the day it is added: if its input serializer does
not derive from core.inputs.InputSerializer (or opts out without being listed here and in docs/api-policy.md), the
test fails. The lenient endpoints are listed once, below, with the reason in docs/api-policy.md.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from core.openapi import API_V1_PREFIX

pytestmark = pytest.mark.django_db

UNKNOWN = "unexpected_field"

# (path without /api/v1, method): bodies that ignore unknown keys, on purpose (docs/api-policy.md).
LENIENT = {
    ("/save-prompt", "post"),  # the seed's contract: clients we do not ship send what they send
    ("/save-response", "post"),
    ("/auth/register", "post"),
    ("/auth/token/", "post"),  # simplejwt's serializers
    ("/auth/token/refresh/", "post"),
    ("/auth/token/blacklist/", "post"),
    ("/memories/import", "post"),  # other services' export formats, read by the importers
}


@pytest.fixture(scope="module")
def schema(django_db_blocker, tmp_path_factory) -> dict[str, Any]:
    import yaml

    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--file", str(path))
    return yaml.safe_load(path.read_text())


def _unversioned(path: str) -> str:
    return "/" + path.removeprefix(API_V1_PREFIX) if path.startswith(API_V1_PREFIX) else path


# drf-spectacular documents no body on DELETE (OpenAPI 3.0 gives it no meaning); these take one all the same
# (their valid body as the schema would say it).
_CONFIRM = {"type": "object", "required": ["confirm"], "properties": {"confirm": {"type": "boolean"}}}
DELETE_BODIES = {"/memories": _CONFIRM, "/me": _CONFIRM}


def json_bodies(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, method, body schema) of every operation that takes a JSON body."""
    found = []
    for path, body in DELETE_BODIES.items():
        for tree in (path, API_V1_PREFIX.rstrip("/") + path):
            assert "delete" in schema["paths"][tree], tree
            found.append((tree, "delete", body))
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                found.append((path, method, content["application/json"]["schema"]))
    return found


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _valid_value(schema: dict[str, Any], node: dict[str, Any]) -> Any:
    node = _resolve(schema, node)
    if "enum" in node:
        return node["enum"][-1]
    kind = node.get("type")
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return node.get("minimum", 1)
    if kind == "array":
        return [_valid_value(schema, node["items"])] if "items" in node else []
    if kind == "object":
        return valid_ish_body(schema, node) if "properties" in node else {}
    return "2999-01-01T00:00:00Z" if node.get("format") == "date-time" else "policy-check"


def valid_ish_body(schema: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The body's required properties with plausible values: without the policy, such a request would succeed."""
    body = _resolve(schema, body)
    properties = body.get("properties", {})
    return {name: _valid_value(schema, properties[name]) for name in body.get("required", [])}


def test_the_lenient_list_names_only_real_json_endpoints(schema):
    endpoints = {(_unversioned(path), method) for path, method, _ in json_bodies(schema)}
    assert endpoints >= LENIENT
    # /me/settings, /me/tokens, PATCH /memories/{id}, DELETE /memories, DELETE /me, /extension/health
    assert len(endpoints - LENIENT) >= 6


def test_every_strict_json_endpoint_refuses_an_unknown_field_by_name(schema, alice_client):
    saved = alice_client.post("/save-prompt", {"prompt": "A memory for the path parameters."}, format="json")
    object_id = saved.json()["memory_id"]
    checked = []
    for path, method, body_schema in json_bodies(schema):
        if (_unversioned(path), method) in LENIENT:
            continue
        url = path.format(**{name: object_id for name in ("id", "pk", "token_id", "job_id", "user_id", "space_id")})
        body = {**valid_ish_body(schema, body_schema), UNKNOWN: 1}

        response = getattr(alice_client, method)(url, body, format="json")

        assert response.status_code == 400, (method, path, response.content)
        assert response.json()["success"] is False and UNKNOWN in response.json()["error"], (method, path)
        checked.append((method, path))
    assert len(checked) >= 12, checked  # both trees, root and /api/v1/
    assert alice_client.get(f"/memories/{object_id}").status_code == 200  # no DELETE deleted anything


def test_the_seeds_save_endpoint_ignores_unknown_fields(alice_client):
    response = alice_client.post("/save-prompt", {"prompt": "Lenient by contract.", UNKNOWN: 1}, format="json")
    assert response.status_code == 201


def test_a_misspelt_scope_makes_no_token(alice_client):
    response = alice_client.post("/me/tokens", {"name": "x", "scopes": ["write"]}, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "scopes: unknown field; expected name, scope, expires_at, spaces"
    assert alice_client.get("/me/tokens").json() == []
