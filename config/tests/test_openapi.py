from __future__ import annotations

import re

import pytest
import yaml
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

from config.urls import api_urlpatterns as api_includes
from webapp import oauth_urls

pytestmark = pytest.mark.django_db

ERROR_REF = "#/components/schemas/ErrorEnvelope"


def _routes(patterns) -> list[URLPattern]:
    """The routes under the apps' includes mounted at "" (config.urls only includes)."""
    routes = []
    for p in patterns:
        if isinstance(p, URLResolver) and str(p.pattern) == "":
            routes.extend(_routes(p.url_patterns))
        else:
            routes.append(p)
    return routes


api_urlpatterns = _routes(api_includes)


@pytest.fixture(scope="module")
def schema_text(django_db_blocker, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        # The command raises on any warning (an undocumented view, an unresolvable type) or invalid schema.
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return path.read_text()


@pytest.fixture(scope="module")
def schema(schema_text) -> dict:
    return yaml.safe_load(schema_text)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_schema_is_valid_openapi_without_warnings(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Memory Layer API"


def _documented_path(pattern: str) -> str:
    """``^memories/(?P<pk>[0-9]+)/?$`` as the schema spells it: ``/memories/{id}``."""
    path = pattern.lstrip("^").rstrip("$")
    path = re.sub(r"\(\?P<pk>[^)]*\)", "{id}", path)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", path)
    return "/" + path.removesuffix("/?")


def test_every_api_endpoint_is_documented_at_both_paths(schema):
    documented = set(schema["paths"])
    expected = {_documented_path(str(p.pattern)) for p in api_urlpatterns}
    assert len(expected) == len(api_urlpatterns) >= 9
    for path in expected:
        assert path in documented, path
        assert "/api/v1" + path in documented, path


def test_every_operation_uses_bearer_auth_except_getting_a_token_registering_or_the_adapters(schema):
    bearer = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schema["components"]["securitySchemes"]["jwtAuth"] == bearer
    assert schema["components"]["securitySchemes"]["supabaseAuth"] == bearer
    for path, _, operation in operations(schema):
        # GET /extension/adapters: public data (the same files ship inside the extension), no token read.
        if "/auth/token/" in path or path.endswith(("/auth/register", "/extension/adapters")):
            assert operation.get("security") in (None, [], [{}]), path
            continue
        assert {"jwtAuth": []} in operation["security"] and {"supabaseAuth": []} in operation["security"], path
        # Personal access tokens (mlk_...) work everywhere but on the staff dashboard's API.
        assert ({"personalToken": []} in operation["security"]) != ("admin/dashboard" in path), path


def test_every_error_status_of_every_operation_is_the_envelope(schema):
    envelope = schema["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["required"] == ["error"] and set(envelope["properties"]) == {"success", "error"}
    for path, method, operation in operations(schema):
        codes = {int(code) for code in operation["responses"]}
        assert {401, 500, 503} <= codes, (path, method)
        for code, response in operation["responses"].items():
            if int(code) >= 400:
                assert response["content"]["application/json"]["schema"]["$ref"] == ERROR_REF, (path, method, code)


@pytest.mark.parametrize(
    ("path", "method", "codes"),
    [
        # 404: a space that is not the caller's (docs/spaces.md)
        ("/save-prompt", "post", {200, 201, 400, 401, 403, 404, 413, 415, 422, 429, 500, 503}),
        ("/context/{user_id}", "get", {200, 400, 401, 403, 404, 429, 500, 503}),
        ("/api/v1/memories", "get", {200, 400, 401, 404, 429, 500, 503}),
        ("/api/v1/memories", "delete", {200, 400, 401, 403, 429, 500, 503}),
        ("/auth/token/", "post", {200, 400, 401, 413, 415, 429, 500, 503}),
        ("/api/v1/memories/{id}", "patch", {200, 400, 401, 403, 404, 413, 415, 429, 500, 503}),
        ("/api/v1/memories/import", "post", {200, 202, 400, 401, 403, 404, 413, 415, 429, 500, 503}),
        ("/me/tokens", "post", {201, 400, 401, 403, 404, 413, 415, 429, 500, 503}),
        ("/api/v1/me/tokens/{token_id}", "delete", {200, 401, 403, 404, 429, 500, 503}),
        ("/extension/adapters", "get", {200, 304, 401, 429, 500, 503}),
        ("/extension/health", "post", {200, 400, 401, 403, 413, 415, 429, 500, 503}),
    ],
)
def test_each_endpoint_declares_its_statuses(schema, path, method, codes):
    assert {int(code) for code in schema["paths"][path][method]["responses"]} == codes


def test_the_save_endpoints_document_the_idempotency_key_header(schema):
    for path in ("/save-prompt", "/api/v1/save-response"):
        names = {p["name"] for p in schema["paths"][path]["post"]["parameters"] if p["in"] == "header"}
        assert names == {"Idempotency-Key"}


def test_the_schema_endpoint_serves_it_without_a_token(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "/api/v1/memories/export" in response.json()["paths"]


def test_the_swagger_page_loads_everything_from_this_server(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "/api/schema/" in html
    assert not re.search(r"""(src|href)=["']https?://""", html), "the docs page must not need a CDN"


def test_the_swagger_assets_ship_with_the_sidecar_package():
    from django.contrib.staticfiles import finders

    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")


# Root routes that are not part of the versioned API: the health probes (Render calls /health; /ready) and the MCP
# endpoint (JSON-RPC, versioned by its MCP-Protocol-Version header, not by the path), and OAuth's authorization
# server (webapp.oauth_urls: its well-known documents must sit at the origin, its endpoints are OAuth's, not ours).
NOT_VERSIONED = {r"^health/?$", r"^ready/?$", r"^mcp/?$"} | {str(p.pattern) for p in oauth_urls.urlpatterns}


def test_no_root_api_route_is_missing_from_the_v1_tree():
    root = get_resolver()
    v1 = next(p for p in root.url_patterns if isinstance(p, URLResolver) and p.namespace == "v1")
    unversioned = {
        str(p.pattern)
        for p in _routes(root.url_patterns)
        if isinstance(p, URLPattern) and not str(p.pattern).startswith("api/") and str(p.pattern) not in NOT_VERSIONED
    }
    assert unversioned == {str(p.pattern) for p in _routes(v1.url_patterns)}
