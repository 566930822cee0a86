"""/app/tokens/: make (shown once), list and revoke personal access tokens; then use one as an MCP client would."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts import services
from accounts.models import PersonalAccessToken
from memories.models import Memory

pytestmark = pytest.mark.django_db


def _secret(response) -> str:
    match = re.search(r'value="(mlk_[A-Za-z0-9_-]+)"', response.content.decode())
    assert match, "the new token is on the page"
    return match.group(1)


def test_it_sends_anonymous_people_from_the_token_pages_to_the_login_page(client, alice):
    token = services.access_token_create(user=alice, name="t").token
    for response in (client.get("/app/tokens/"), client.post(f"/app/tokens/{token.pk}/revoke")):
        assert response.status_code == 302 and response["Location"].startswith("/app/login/")
    assert PersonalAccessToken.objects.get().revoked_at is None


def test_it_makes_a_token_and_shows_it_this_once(web, alice):
    made = web.post("/app/tokens/", {"name": "Claude Desktop", "scope": "write", "expires": "30"})

    assert made.status_code == 200
    secret = _secret(made)
    token = PersonalAccessToken.objects.get(user=alice)
    assert (token.name, token.scope, token.prefix) == ("Claude Desktop", "write", secret[:10])
    assert token.expires_at is not None and token.token_hash == services.access_token_hash(secret)
    assert "shown only this once" in made.content.decode() and "/mcp" in made.content.decode()
    assert made["Content-Security-Policy"].startswith("default-src 'none'") and "no-store" in made["Cache-Control"]
    assert "<script" not in made.content.decode() and "style=" not in made.content.decode()
    listed = web.get("/app/tokens/")
    assert secret not in listed.content.decode() and f"{secret[:10]}…" in listed.content.decode()


def test_it_lists_only_my_tokens(web, alice, bob):
    services.access_token_create(user=alice, name="mine")
    services.access_token_create(user=bob, name="bobs token")
    page = web.get("/app/tokens/").content.decode()
    assert "mine" in page and "bobs token" not in page


def test_it_revokes_my_token_and_not_another_persons(web, alice, bob):
    mine = services.access_token_create(user=alice, name="mine").token
    bobs = services.access_token_create(user=bob, name="bobs").token

    assert web.post(f"/app/tokens/{bobs.pk}/revoke").status_code == 404
    revoked = web.post(f"/app/tokens/{mine.pk}/revoke", follow=True)

    assert revoked.status_code == 200 and "Revoked “mine”" in revoked.content.decode()
    assert PersonalAccessToken.objects.get(pk=mine.pk).revoked_at is not None
    assert PersonalAccessToken.objects.get(pk=bobs.pk).revoked_at is None
    assert web.get(f"/app/tokens/{mine.pk}/revoke").status_code == 405


@pytest.mark.parametrize(
    "form",
    [{"name": "", "scope": "read"}, {"name": "x", "scope": "admin"}, {"name": "x", "scope": "read", "expires": "2"}],
)
def test_it_refuses_bad_input_and_makes_nothing(web, form):
    assert web.post("/app/tokens/", form).status_code == 400
    assert not PersonalAccessToken.objects.exists()


def test_it_needs_the_forms_csrf_token(alice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.post("/app/tokens/", {"name": "x", "scope": "read"}).status_code == 403
    assert not PersonalAccessToken.objects.exists()


def test_it_makes_a_token_that_saves_through_mcp_and_shows_the_memory_here(web, alice):
    secret = _secret(web.post("/app/tokens/", {"name": "mcp", "scope": "write"}))
    mcp = APIClient()
    mcp.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    call = {"name": "save_memory", "arguments": {"text": "I keep bees on the roof."}}
    answer = mcp.post(
        "/mcp",
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call}),
        content_type="application/json",
        HTTP_ACCEPT="application/json, text/event-stream",
        HTTP_MCP_PROTOCOL_VERSION="2025-11-25",
    )

    assert answer.json()["result"]["isError"] is False
    assert Memory.objects.get(user=alice).provider == "mcp"
    assert "I keep bees on the roof." in web.get("/app/", {"provider": "mcp"}).content.decode()
    assert PersonalAccessToken.objects.get().last_used_at is not None


def test_it_makes_a_token_for_the_spaces_ticked_and_lists_them(web, alice, bob):
    personal = services.space_default(user=alice)
    work = services.space_create(user=alice, name="Work")
    page = web.get("/app/tokens/").content.decode()
    assert f'value="{personal.pk}" id="id_spaces_0" checked' in page and f'value="{work.pk}"' in page

    web.post("/app/tokens/", {"name": "work only", "scope": "read", "spaces": [work.pk]})
    token = PersonalAccessToken.objects.get(user=alice)
    assert [s.pk for s in token.spaces.all()] == [work.pk]
    listed = web.get("/app/tokens/").content.decode()
    assert re.search(r'data-field="spaces">Work</span>', listed)

    bobs = services.space_create(user=bob, name="Bob's")
    refused = web.post("/app/tokens/", {"name": "sneaky", "scope": "read", "spaces": [bobs.pk]})
    assert refused.status_code == 400 and PersonalAccessToken.objects.filter(user=alice).count() == 1


def test_it_gives_a_token_with_no_space_ticked_the_default_space(web, alice):
    personal = services.space_default(user=alice)
    web.post("/app/tokens/", {"name": "plain", "scope": "read"})
    assert [s.pk for s in PersonalAccessToken.objects.get(user=alice).spaces.all()] == [personal.pk]
