"""A real MCP client (the official SDK's, over Streamable HTTP) against the live server of the test run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from accounts import services
from accounts.models import TokenScope, User

T = TypeVar("T")


def token_for(user: User, scope: str = TokenScope.WRITE) -> str:
    return services.access_token_create(user=user, name=f"mcp {scope}", scope=scope).secret


def http_client(token: str | None) -> httpx2.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60.0))


def in_session(url: str, token: str | None, work: Callable[[ClientSession], Awaitable[T]]) -> T:
    """Connect, run the initialize handshake, then ``work(session)``; all in one event loop."""

    async def main() -> T:
        async with (
            http_client(token) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await work(session)

    return anyio.run(main)


def call(url: str, token: str, tool: str, arguments: dict[str, Any] | None = None) -> tuple[bool, str]:
    """One tool call in its own session: (is_error, the text it answered)."""

    async def work(session: ClientSession) -> tuple[bool, str]:
        result = await session.call_tool(tool, arguments or {})
        return result.is_error, "\n".join(block.text for block in result.content if block.type == "text")

    return in_session(url, token, work)


@pytest.fixture
def mcp_url(live_server: Any) -> str:
    return f"{live_server.url}/mcp"
