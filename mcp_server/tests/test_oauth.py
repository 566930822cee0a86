"""/mcp with OAuth (docs/oauth.md), over plain HTTP (Django's test client): the whole dance a connector makes, from
the 401's challenge to a revoked token, and the refusals on the way."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken

from accounts.models import AppConnection, PersonalAccessToken
from mcp_server.tests.conftest import token_for
from memories.models import Memory
from testkit import assert_error
from testkit import oauth as dance
from testkit.oauth import signed_in

pytestmark = pytest.mark.django_db

HEADERS: dict[str, Any] = {
    "HTTP_ACCEPT": "application/json, text/event-stream",
    "HTTP_MCP_PROTOCOL_VERSION": "2025-11-25",
}


def call(token: str | None, name: str, arguments: dict[str, Any] | None = None) -> Any:
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments or {}},
    }
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().post("/mcp", json.dumps(message), content_type="application/json", **HEADERS, **auth)


def text_of(answer: Any) -> str:
    assert answer.status_code == 200, answer.content
    return str(answer.json()["result"]["content"][0]["text"])


def test_it_points_a_client_without_a_token_to_the_authorization_server():
    answer = call(None, "recent_memories")
    assert_error(answer, 401, "Authentication required")
    challenge = answer["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'resource_metadata="http://testserver/.well-known/oauth-protected-resource/mcp"' in challenge
    assert 'scope="read write"' in challenge
    metadata = Client().get("/.well-known/oauth-protected-resource/mcp").json()
    assert metadata["resource"] == "http://testserver/mcp"
    assert metadata["authorization_servers"] == ["http://testserver"]
    server = Client().get("/.well-known/oauth-authorization-server").json()
    assert server["issuer"] == "http://testserver"
    assert server["registration_endpoint"] == "http://testserver/oauth/register/"
    assert server["authorization_endpoint"] == "http://testserver/app/oauth/authorize/"


def test_it_serves_the_whole_dance_from_registration_to_revocation(alice):
    client, browser = Client(), signed_in(alice)
    app = dance.connect(client, browser, access="write")
    assert app.scope == "read write"

    saved = text_of(call(app.access_token, "save_memory", {"text": "I moved to Utrecht in March."}))
    assert saved.startswith("Saved as memory")
    memory = Memory.objects.get(user=alice)
    assert memory.text == "I moved to Utrecht in March." and memory.provider == "mcp"
    found = text_of(call(app.access_token, "search_memories", {"query": "where do I live"}))
    assert "Utrecht" in found

    renewed = dance.refresh(client, app.client_id, app.refresh_token)
    assert renewed.status_code == 200, renewed.content
    fresh = renewed.json()
    assert fresh["refresh_token"] != app.refresh_token and fresh["access_token"] != app.access_token
    assert "Utrecht" in text_of(call(fresh["access_token"], "recent_memories"))
    assert_error(call(app.access_token, "recent_memories"), 401, "unknown access token")  # replaced

    assert dance.revoke(client, app.client_id, fresh["access_token"]).status_code == 200
    refused = call(fresh["access_token"], "recent_memories")
    assert_error(refused, 401, "unknown access token")
    assert 'error="invalid_token"' in refused["WWW-Authenticate"]
    assert 'resource_metadata="' in refused["WWW-Authenticate"]


def test_it_refuses_a_rotated_refresh_token_and_ends_its_family(alice):
    client = Client()
    app = dance.connect(client, signed_in(alice))
    fresh = dance.refresh(client, app.client_id, app.refresh_token).json()
    again = dance.refresh(client, app.client_id, app.refresh_token)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    # A used refresh token coming back means one of two holders is not the app: neither keeps access.
    assert_error(call(fresh["access_token"], "recent_memories"), 401, "unknown access token")
    assert dance.refresh(client, app.client_id, fresh["refresh_token"]).status_code == 400


def test_it_keeps_a_read_grant_to_reading(alice):
    app = dance.connect(Client(), signed_in(alice), access="read")
    assert app.scope == "read"
    answer = call(app.access_token, "save_memory", {"text": "Keep this."})
    assert answer.json()["result"]["isError"] is True
    assert "read-only" in text_of(answer)
    assert not Memory.objects.filter(user=alice).exists()
    assert text_of(call(app.access_token, "recent_memories")) == "No memories saved yet."


def test_it_ends_access_on_the_next_call_when_the_person_disconnects_the_app(alice):
    browser = signed_in(alice)
    app = dance.connect(Client(), browser)
    connection_id = AppConnection.objects.get(user=alice).pk
    assert browser.post(f"/app/account/sessions/apps/{connection_id}/revoke").status_code == 302
    assert_error(call(app.access_token, "recent_memories"), 401, "unknown access token")
    renewed = dance.refresh(Client(), app.client_id, app.refresh_token)
    assert renewed.status_code == 400 and renewed.json()["error"] == "invalid_grant"


def test_it_refuses_a_token_whose_consent_is_gone(alice):
    app = dance.connect(Client(), signed_in(alice))
    AppConnection.objects.filter(user=alice).delete()
    assert_error(call(app.access_token, "recent_memories"), 401, "disconnected")


def test_it_refuses_an_expired_token(alice):
    app = dance.connect(Client(), signed_in(alice))
    AccessToken.objects.filter(user=alice).update(expires=timezone.now() - timedelta(seconds=1))
    assert_error(call(app.access_token, "recent_memories"), 401, "expired")


def test_it_serves_each_person_their_own_memories_only(alice, bob):
    alice_app = dance.connect(Client(), signed_in(alice))
    bob_app = dance.connect(Client(), signed_in(bob))
    text_of(call(alice_app.access_token, "save_memory", {"text": "Alice's secret plan."}))
    assert text_of(call(bob_app.access_token, "recent_memories")) == "No memories saved yet."
    alice_memory = Memory.objects.get(user=alice)
    forget = call(bob_app.access_token, "forget_memory", {"memory_id": alice_memory.pk})
    assert forget.json()["result"]["isError"] is True
    assert Memory.objects.filter(pk=alice_memory.pk).exists()


def test_it_refuses_bob_disconnecting_alices_app(alice, bob):
    app = dance.connect(Client(), signed_in(alice))
    connection_id = AppConnection.objects.get(user=alice).pk
    answer = signed_in(bob).post(f"/app/account/sessions/apps/{connection_id}/revoke")
    assert answer.status_code == 404
    assert text_of(call(app.access_token, "recent_memories")) == "No memories saved yet."


def test_it_refuses_a_token_issued_for_another_resource(alice):
    client, browser = Client(), signed_in(alice)
    cid = dance.client_id(client)
    pair = dance.pkce()
    other = "https://elsewhere.example/mcp"
    code = dance.code_of(dance.consent(browser, dance.authorize_url(cid, pair.challenge, resource=other)))
    tokens = dance.exchange(client, cid, code, pair.verifier, resource=other)
    assert tokens.status_code == 200, tokens.content
    assert_error(call(tokens.json()["access_token"], "recent_memories"), 401, "another resource")


def test_it_keeps_personal_access_tokens_working(alice):
    assert text_of(call(token_for(alice), "recent_memories")) == "No memories saved yet."
    assert PersonalAccessToken.objects.filter(user=alice).exists()


def test_it_answers_503_with_retry_after_not_401_when_the_token_store_is_down(alice):
    app = dance.connect(Client(), signed_in(alice))
    pat = token_for(alice)

    def unavailable(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        raise OperationalError("connection refused")

    with connection.execute_wrapper(unavailable):
        answer = call(app.access_token, "recent_memories")
        personal = call(pat, "recent_memories")
    for response in (answer, personal):
        assert_error(response, 503, "temporarily unavailable")
        assert response["Retry-After"].isdigit()


def test_it_saves_and_searches_in_the_granted_space_only(alice):
    from accounts.services import space_create, space_default

    personal, work = space_default(user=alice), space_create(user=alice, name="Work")
    app = dance.connect(Client(), signed_in(alice), access="write", spaces=[work.pk])
    assert text_of(call(app.access_token, "save_memory", {"text": "The launch is on Friday."})).startswith("Saved")
    assert Memory.objects.get(user=alice).space == work  # no space named: the grant's (only) space
    refused = call(app.access_token, "search_memories", {"query": "launch", "space": personal.pk})
    assert refused.json()["result"]["isError"] is True and "space not found" in text_of(refused)
    refused = call(app.access_token, "save_memory", {"text": "Private.", "space": personal.pk})
    assert refused.json()["result"]["isError"] is True
    assert Memory.objects.filter(space=personal).count() == 0
    assert "Friday" in text_of(call(app.access_token, "search_memories", {"query": "when is the launch"}))
