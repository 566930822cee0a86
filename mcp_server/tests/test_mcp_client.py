"""The MCP endpoint as an MCP client sees it: the SDK's ClientSession over Streamable HTTP, a live server."""

from __future__ import annotations

import anyio
import httpx2
import pytest
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client
from rest_framework_simplejwt.tokens import AccessToken

from accounts import services
from accounts.models import DailyUsage, TokenScope
from accounts.services import space_default
from mcp_server.tests.conftest import call, http_client, in_session, token_for
from memories.models import Memory

pytestmark = pytest.mark.django_db(transaction=True)

TOOLS = {"search_memories", "save_memory", "recent_memories", "forget_memory"}


def test_it_initializes_and_lists_the_four_tools_with_their_schemas(alice, mcp_url):
    async def work(session: ClientSession):
        return session.initialize_result, await session.list_tools()

    init, listed = in_session(mcp_url, token_for(alice, TokenScope.READ), work)

    assert init.protocol_version == "2025-11-25"
    assert init.server_info.name == "memory-layer" and "search_memories" in init.instructions
    assert init.capabilities.tools is not None
    tools = {tool.name: tool for tool in listed.tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert len(tool.description) > 80 and tool.input_schema["type"] == "object"
        assert tool.input_schema["additionalProperties"] is False
    assert tools["search_memories"].input_schema["required"] == ["query"]
    assert set(tools["search_memories"].input_schema["properties"]) == {
        "query",
        "max_tokens",
        "provider",
        "since",
        "until",
        "space",
    }
    assert "mcp" in tools["save_memory"].input_schema["properties"]["provider"]["enum"]
    assert tools["search_memories"].annotations.read_only_hint is True
    assert tools["forget_memory"].annotations.destructive_hint is True


def test_it_saves_finds_lists_and_forgets_with_a_write_token(alice, mcp_url):
    token = token_for(alice)

    error, saved = call(mcp_url, token, "save_memory", {"text": "I moved to Utrecht in March."})
    assert not error and saved.startswith("Saved as memory") and "provider mcp" in saved
    memory = Memory.objects.get(user=alice)
    assert (memory.provider, memory.kind, memory.text) == ("mcp", "prompt", "I moved to Utrecht in March.")

    error, found = call(mcp_url, token, "search_memories", {"query": "Where do I live now?"})
    assert not error and "Utrecht" in found
    assert f"(memory {memory.pk})" in found and "You (mcp): I moved to Utrecht" in found
    assert f"{memory.created_at:%Y-%m-%d}" in found  # when it was said

    error, recent = call(mcp_url, token, "recent_memories", {"limit": 5})
    assert not error and f"(memory {memory.pk})" in recent and "Utrecht" in recent

    error, again = call(mcp_url, token, "save_memory", {"text": "I moved to Utrecht in March.", "provider": "claude"})
    assert not error and again == f"Already saved as memory {memory.pk}."

    error, forgot = call(mcp_url, token, "forget_memory", {"memory_id": memory.pk})
    assert not error and forgot.startswith(f"Forgot memory {memory.pk}")
    assert not Memory.objects.exists()
    # the saves and the search count against the daily quota, like /save-prompt and /context; list and forget not
    assert DailyUsage.objects.get(user=alice).count == 3


def test_it_saves_through_the_apis_save_path(alice, mcp_url):
    token = token_for(alice)
    services.preferences_update(user=alice, changes={"excluded_phrases": ["project zebra"]})

    error, secret = call(mcp_url, token, "save_memory", {"text": "my key is sk-proj-" + "a1B2c3D4e5" * 4})
    assert not error and "1 secret(s) were replaced" in secret
    assert "[REDACTED" in Memory.objects.get().text
    error, skipped = call(mcp_url, token, "save_memory", {"text": "About Project Zebra", "provider": "gemini"})
    assert not error and skipped.startswith("Not saved: the text contains an excluded phrase")
    assert Memory.objects.count() == 1


def test_it_searches_with_a_read_token_but_cannot_save_or_forget(alice, mcp_url):
    memory = Memory.objects.create(
        user=alice, space=space_default(user=alice), kind="prompt", provider="claude", text="x", content_hash="h"
    )
    reader = token_for(alice, TokenScope.READ)

    error, refused = call(mcp_url, reader, "save_memory", {"text": "I like tea."})
    assert error and "read-only" in refused and "write scope" in refused
    error, refused = call(mcp_url, reader, "forget_memory", {"memory_id": memory.pk})
    assert error and "read-only" in refused
    assert list(Memory.objects.values_list("pk", flat=True)) == [memory.pk]
    error, recent = call(mcp_url, reader, "recent_memories")
    assert not error and f"(memory {memory.pk})" in recent
    assert not DailyUsage.objects.exists()  # refused calls are not counted


def test_it_refuses_a_revoked_token_at_once(alice, mcp_url):
    token = token_for(alice)
    assert call(mcp_url, token, "recent_memories")[0] is False
    row = services.access_token_revoke(user=alice, token_id=alice.access_tokens.get().pk)
    assert row.revoked_at is not None

    with pytest.raises(Exception):  # noqa: B017  # the SDK surfaces the 401 as a transport error
        call(mcp_url, token, "recent_memories")
    answer = _post(mcp_url, token, {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})
    assert answer.status_code == 401 and "revoked" in answer.json()["error"]


def test_it_never_shows_two_people_each_others_memories(alice, bob, mcp_url):
    alices, bobs = token_for(alice), token_for(bob)
    call(mcp_url, alices, "save_memory", {"text": "My sister Ines lives in Porto."})
    memory = Memory.objects.get(user=alice)

    error, found = call(mcp_url, bobs, "search_memories", {"query": "Where does my sister Ines live?"})
    assert not error and found == "No memory is relevant enough to this query."
    assert call(mcp_url, bobs, "recent_memories") == (False, "No memories saved yet.")
    error, refused = call(mcp_url, bobs, "forget_memory", {"memory_id": memory.pk})
    assert error and "no memory" in refused.lower()
    assert Memory.objects.filter(pk=memory.pk).exists()
    error, own = call(mcp_url, alices, "search_memories", {"query": "Where does my sister Ines live?"})
    assert not error and "Porto" in own


def test_it_answers_401_in_the_envelope_without_a_token(mcp_url):
    answer = _post(mcp_url, None, {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert answer.json()["success"] is False
    assert _post(mcp_url, "mlk_" + "x" * 43, {"jsonrpc": "2.0", "id": 1, "method": "ping"}).status_code == 401


def test_it_accepts_a_jwt_too(alice, mcp_url):
    assert call(mcp_url, str(AccessToken.for_user(alice)), "recent_memories") == (False, "No memories saved yet.")


def test_it_tells_the_assistant_about_bad_arguments(alice, mcp_url):
    token = token_for(alice)
    error, message = call(mcp_url, token, "search_memories", {"query": 5})
    assert error and message.startswith("Invalid arguments: query")
    error, message = call(mcp_url, token, "recent_memories", {"limit": "3"})
    assert error and "limit" in message
    error, message = call(mcp_url, token, "save_memory", {"text": "x", "colour": "blue"})
    assert error and "colour: is not an argument" in message
    error, message = call(mcp_url, token, "search_memories", {"query": "x", "provider": "bard"})
    assert error and "'bard' is not supported" in message
    assert not DailyUsage.objects.filter(count__gt=0).exists()  # refunded, as the API refunds a 400


def test_it_speaks_the_current_revision_without_a_handshake(alice, mcp_url):
    token = token_for(alice)

    async def main():
        async with (
            http_client(token) as http,
            # "auto", the SDK client's default: server/discover first, the initialize handshake only if refused
            Client(streamable_http_client(mcp_url, http_client=http), mode="auto") as client,
        ):
            listed = await client.list_tools()
            saved = await client.call_tool("save_memory", {"text": "I am allergic to peanuts."})
            found = await client.call_tool("search_memories", {"query": "what am I allergic to?"})
            return client.session.protocol_version, listed, saved, found

    version, listed, saved, found = anyio.run(main)

    assert version == "2026-07-28"
    assert {tool.name for tool in listed.tools} == TOOLS
    assert not saved.is_error and not found.is_error and "peanuts" in found.content[0].text


def _post(url: str, token: str | None, message: dict) -> httpx2.Response:
    async def main() -> httpx2.Response:
        async with http_client(token) as http:
            headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
            return await http.post(url, json=message, headers=headers)

    return anyio.run(main)
