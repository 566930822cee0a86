"""The memory API with a connected app's OAuth access token (docs/oauth.md): the personal tokens' scope and space
rules, the same refusals."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.services import space_create, space_default
from memories.models import Memory
from memories.services import memory_save
from testkit import assert_error
from testkit import oauth as dance
from testkit.oauth import bearer, signed_in

pytestmark = pytest.mark.django_db


def test_it_lets_a_read_token_read_the_api_but_not_write(alice):
    app = dance.connect(Client(), signed_in(alice), access="read")
    listed = bearer(app.access_token).get("/memories/")
    assert listed.status_code == 200, listed.content
    assert_error(bearer(app.access_token).delete("/memories/"), 403, "read-only")
    saved = bearer(app.access_token).post(
        "/save-prompt", {"user_id": str(alice.pk), "text": "x", "provider": "mcp"}, content_type="application/json"
    )
    assert saved.status_code == 403
    assert not Memory.objects.exists()


def test_it_uses_the_grants_spaces_on_the_api_and_refuses_the_others(alice):
    personal, work, private = (
        space_default(user=alice),
        space_create(user=alice, name="Work"),
        space_create(user=alice, name="Private"),
    )
    for space, text in ((personal, "personal note"), (work, "work note"), (private, "private note")):
        memory_save(user=alice, space=space, kind="prompt", provider="claude", text=text)
    app = dance.connect(Client(), signed_in(alice), access="read", spaces=[work.pk, personal.pk])
    api = bearer(app.access_token)

    def texts(answer: Any) -> list[str]:
        assert answer.status_code == 200, answer.content
        return [m["text"] for m in answer.json()["results"]]

    assert texts(api.get("/memories/")) == ["personal note"]  # no space named: the grant's default
    assert texts(api.get(f"/memories/?space={work.pk}")) == ["work note"]
    assert_error(api.get(f"/memories/?space={private.pk}"), 404, "space not found")
