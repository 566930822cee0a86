"""The official MCP SDK's OAuth client (mcp.client.auth.OAuthClientProvider) against a live server: it knows only
the /mcp URL, finds the authorization server from the 401, registers itself, sends the person to the consent page
(played here by a signed-in HTTP client, the programmatic redirect handler), and then saves and searches."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest
from django.test import Client
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl

from accounts.models import AppConnection
from accounts.services import app_connection_revoke
from memories.models import Memory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

REDIRECT_URI = "http://127.0.0.1:33418/callback"
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
CHECKED_SPACE = re.compile(r'<input type="checkbox" name="spaces" value="(\d+)"[^>]*\bchecked\b')


class MemoryStorage:
    """The SDK's TokenStorage, kept in memory for one test."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Person:
    """The person at the browser: signed in to /app/, allows the app on the consent page, hands back the code."""

    def __init__(self, session_cookie: str, access: str):
        self.cookies = {"sessionid": session_cookie}
        self.access = access
        self.redirected_to: str | None = None
        self.consent_pages = 0

    async def redirect_handler(self, authorization_url: str) -> None:
        async with httpx2.AsyncClient(cookies=self.cookies, timeout=60.0) as browser:
            page = await browser.get(authorization_url)
            assert page.status_code == 200, page.text
            self.consent_pages += 1
            fields: dict[str, Any] = {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)}
            fields.update(access=self.access, allow="on", spaces=CHECKED_SPACE.findall(page.text))
            answer = await browser.post(authorization_url.split("?")[0], data=fields)
            assert answer.status_code == 302, answer.text
            self.redirected_to = answer.headers["location"]

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.redirected_to and self.redirected_to.startswith(REDIRECT_URI)
        query = parse_qs(urlsplit(self.redirected_to).query)
        return AuthorizationCodeResult(code=query["code"][0], state=query["state"][0], iss=query.get("iss", [None])[0])


def _session_cookie(user: Any) -> str:
    browser = Client()
    browser.force_login(user)
    return str(browser.cookies["sessionid"].value)


def _provider(url: str, person: Person, storage: MemoryStorage) -> OAuthClientProvider:
    metadata = OAuthClientMetadata(
        client_name="SDK test client",
        redirect_uris=[AnyUrl(REDIRECT_URI)],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    return OAuthClientProvider(
        server_url=url,
        client_metadata=metadata,
        storage=storage,
        redirect_handler=person.redirect_handler,
        callback_handler=person.callback_handler,
    )


def _session_run(url: str, provider: OAuthClientProvider, work: Any) -> Any:
    async def main() -> Any:
        async with (
            httpx2.AsyncClient(auth=provider, timeout=httpx2.Timeout(60.0)) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await work(session)

    return anyio.run(main)


def test_it_connects_the_sdks_oauth_client_from_the_mcp_url_alone(alice, mcp_url):
    person, storage = Person(_session_cookie(alice), access="write"), MemoryStorage()

    async def work(session: ClientSession) -> tuple[str, str]:
        saved = await session.call_tool("save_memory", {"text": "My sister Ines lives in Porto."})
        found = await session.call_tool("search_memories", {"query": "Where does Ines live?"})
        return saved.content[0].text, found.content[0].text  # type: ignore[union-attr]

    saved, found = _session_run(mcp_url, _provider(mcp_url, person, storage), work)

    assert saved.startswith("Saved as memory") and "Porto" in found
    assert person.consent_pages == 1
    assert storage.client is not None and storage.tokens is not None and storage.tokens.refresh_token
    assert Memory.objects.get(user=alice).text == "My sister Ines lives in Porto."
    connection = AppConnection.objects.get(user=alice)
    assert connection.scope == "write" and connection.application.name == "SDK test client"

    # Disconnected on /app/: the stored token is refused on the next call (the SDK's auth flow starts again).
    app_connection_revoke(user=alice, connection_id=connection.pk)
    answer = httpx2.post(
        mcp_url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        headers={"Authorization": f"Bearer {storage.tokens.access_token}", "Accept": "application/json"},
    )
    assert answer.status_code == 401 and "resource_metadata=" in answer.headers["www-authenticate"]
