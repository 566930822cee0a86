"""POST /mcp at the HTTP level (Django's test client): methods, malformed messages, limits, the envelope."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import DailyUsage
from core import db_routing
from core.dates import utc_today
from mcp_server.tests.conftest import token_for
from mcp_server.views import may_write
from testkit import assert_error

pytestmark = pytest.mark.django_db

HEADERS: dict[str, Any] = {
    "HTTP_ACCEPT": "application/json, text/event-stream",
    "HTTP_MCP_PROTOCOL_VERSION": "2025-11-25",
}


def client(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    return api


def rpc(api: APIClient, method: str, params: dict | None = None, *, body: str | None = None, **headers):
    message = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params or {}}
    return api.post(
        "/mcp", body if body is not None else json.dumps(message), content_type="application/json", **HEADERS, **headers
    )


def test_it_serves_only_post(alice):
    api = client(alice)
    assert_error(api.get("/mcp", **HEADERS), 405, "not allowed")
    assert_error(api.delete("/mcp", **HEADERS), 405, "not allowed")
    assert_error(APIClient().get("/mcp"), 401, "Authentication required")


def test_it_answers_a_tool_call_in_json_rpc(alice):
    answer = rpc(client(alice), "tools/call", {"name": "recent_memories", "arguments": {}})
    assert answer.status_code == 200 and answer["Content-Type"] == "application/json"
    assert answer.json() == {
        "jsonrpc": "2.0",
        "id": 7,
        "result": {"content": [{"type": "text", "text": "No memories saved yet."}], "isError": False},
    }


def test_it_answers_malformed_messages_with_json_rpc_errors_in_json(alice):
    api = client(alice)
    parse = rpc(api, "x", body="{not json")
    assert parse.status_code == 400 and parse.json()["error"]["code"] == -32700
    unknown = rpc(api, "tools/call", {"name": "drop_tables", "arguments": {}})
    assert unknown.json()["error"] == {"code": -32602, "message": "Unknown tool: drop_tables"}
    no_method = rpc(api, "resources/list")
    assert no_method.json()["error"]["code"] == -32601
    wrong_type = api.post("/mcp", "{}", content_type="text/plain", **HEADERS)
    assert wrong_type.status_code in (400, 415) and wrong_type["Content-Type"] == "application/json"
    assert "error" in wrong_type.json()


def test_it_refuses_a_search_over_the_daily_quota_and_says_when_it_resets(alice, settings):
    settings.QUOTA_DAILY_LIMITS = {"free": 1, "pro": 1, "enterprise": None}
    DailyUsage.objects.create(user=alice, day=utc_today(), count=1)
    answer = rpc(client(alice), "tools/call", {"name": "search_memories", "arguments": {"query": "tea"}})
    result = answer.json()["result"]
    assert result["isError"] is True and "Daily limit of 1 requests reached" in result["content"][0]["text"]
    assert DailyUsage.objects.get().count == 1


def test_it_applies_the_burst_limit_to_every_message(alice, settings):
    settings.RATELIMIT_API_RATE = "2/m"
    api = client(alice)
    assert rpc(api, "ping").status_code == 200
    assert rpc(api, "ping").status_code == 200
    assert_error(rpc(api, "ping"), 429, "Too many requests")


def test_it_answers_no_memories_when_context_is_off_in_the_settings(alice):
    from accounts import services

    services.preferences_update(user=alice, changes={"context": False})
    answer = rpc(client(alice), "tools/call", {"name": "search_memories", "arguments": {"query": "tea"}})
    assert "turned context off" in answer.json()["result"]["content"][0]["text"]


def test_it_counts_mcp_requests_as_the_mcp_endpoint_in_the_request_metrics(alice):
    from dashboard.models import RequestMetric

    assert rpc(client(alice), "ping").status_code == 200
    assert RequestMetric.objects.filter(endpoint="mcp", method="POST", status_class="2xx").exists()


def test_it_records_a_write_position_only_for_the_tools_that_write(alice, settings):
    """A search is a POST too; recording it would send the person's next reads to the primary (core.db_routing)."""
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "core.db_routing.ReadYourWritesMiddleware"]  # as with a replica
    api, written = client(alice), db_routing._written_key(alice.pk)
    cache.delete(written)
    assert rpc(api, "tools/call", {"name": "search_memories", "arguments": {"query": "bike"}}).status_code == 200
    assert rpc(api, "tools/call", {"name": "recent_memories", "arguments": {}}).status_code == 200
    assert rpc(api, "tools/list").status_code == 200
    assert cache.get(written) is None
    saved = rpc(api, "tools/call", {"name": "save_memory", "arguments": {"text": "My bike is blue."}})
    assert saved.status_code == 200 and saved.json()["result"]["isError"] is False
    assert cache.get(written)  # the primary's WAL position after the save


@pytest.mark.parametrize(
    ("body", "writes"),
    [
        (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "search_memories"}}', False),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "forget_memory"}}', True),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "a_new_tool"}}', True),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}', False),
        (b"[1, 2]", True),
        (b"{not json", True),
    ],
)
def test_it_counts_any_message_it_cannot_tell_is_a_read_as_a_write(body, writes):
    assert may_write(body) is writes
