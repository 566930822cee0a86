"""The isolation matrix between two spaces of one person, mirroring the one between two people (test_isolation.py).

alice has Personal (her default) and Work. Whatever names Personal (or no space at all) never reads, lists,
exports, returns through an MCP tool, replays or changes what is in Work, and Work's rows stay exactly as they
were; a token scoped to one space reaches nothing else, and an unknown, malformed or foreign space id is 404.
"""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from accounts.models import PersonalAccessToken, Space, User
from accounts.services import access_token_create, space_create, space_default
from mcp_server import tools
from memories import services
from memories.models import Chunk, IdempotencyKey, ImportJob, Kind, Memory

pytestmark = pytest.mark.django_db

PREFIXES = ["", "/api/v1"]
WORK_SECRET = "The merger with Initech closes on Friday"
HEADER = "HTTP_X_MEMORY_SPACE"


@pytest.fixture
def personal(alice) -> Space:
    return space_default(user=alice)


@pytest.fixture
def work(alice) -> Space:
    return space_create(user=alice, name="Work")


@pytest.fixture
def work_memories(alice, work):
    first = services.memory_save(user=alice, space=work, kind=Kind.PROMPT, provider="chatgpt", text=WORK_SECRET).memory
    second = services.memory_save(
        user=alice, space=work, kind=Kind.RESPONSE, provider="claude", text="Keep it quiet.", prompt="Initech deal?"
    ).memory
    IdempotencyKey.objects.create(
        user=alice, space=work, key="shared-key-1", request_hash="0" * 64, response_status=201, response_body={}
    )
    return [first, second]


def snapshot(space: Space) -> dict[str, object]:
    """Everything in ``space`` that a request acting on another space could change."""
    space.refresh_from_db()
    memories = Memory.objects.filter(space=space).order_by("pk")
    return {
        "space": (space.name, space.is_default),
        "memories": list(
            memories.values_list("pk", "kind", "provider", "text", "prompt", "priority", "pinned", "all_spaces")
        ),
        "chunks": list(Chunk.objects.filter(memory__space=space).order_by("pk").values_list("pk", "text")),
        "keys": list(IdempotencyKey.objects.filter(space=space).values_list("key", "response_status")),
        "imports": list(ImportJob.objects.filter(space=space).values_list("pk", flat=True)),
    }


def assert_refused(response, *statuses):
    assert response.status_code in statuses, (response.status_code, response.content)
    assert response.json()["success"] is False
    assert WORK_SECRET not in response.content.decode()


def token_client(user: User, **kwargs) -> tuple[APIClient, PersonalAccessToken]:
    created = access_token_create(user=user, name="script", scope="write", **kwargs)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {created.secret}")
    return client, created.token


def asking_personal(personal: Space) -> list[dict[str, str]]:
    """The ways a read names Personal: nothing (the default), ?space=, the header."""
    return [{}, {"space": str(personal.pk)}, {HEADER: str(personal.pk)}]


def _split(way: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    return {k: v for k, v in way.items() if k == "space"}, {k: v for k, v in way.items() if k == HEADER}


@pytest.mark.parametrize("prefix", PREFIXES)
def test_personal_context_never_returns_work(alice, alice_client, personal, work, work_memories, prefix):
    services.memory_save(user=alice, kind=Kind.PROMPT, provider="chatgpt", text="My cat is called Initech.")
    before = snapshot(work)
    for way in asking_personal(personal):
        query, headers = _split(way)
        response = alice_client.get(
            f"{prefix}/context/{alice.pk}", {"query": "Initech merger", "min_score": -1, **query}, **headers
        )
        assert response.status_code == 200
        assert WORK_SECRET not in response.content.decode() and "cat" in response.content.decode()
    in_work = alice_client.get(
        f"{prefix}/context/{alice.pk}", {"query": "Initech merger", "min_score": -1, "space": work.pk}
    )
    assert WORK_SECRET in in_work.content.decode() and "cat" not in in_work.content.decode()
    assert snapshot(work) == before


@pytest.mark.parametrize("prefix", PREFIXES)
def test_personal_listing_search_and_export_never_show_work(alice, alice_client, personal, work, work_memories, prefix):
    services.memory_save(user=alice, kind=Kind.PROMPT, provider="chatgpt", text="Alice likes tea.")
    before = snapshot(work)
    for way in asking_personal(personal):
        query, headers = _split(way)
        listing = alice_client.get(f"{prefix}/memories/", query, **headers).json()
        assert [m["text"] for m in listing["results"]] == ["Alice likes tea."]
        assert alice_client.get(f"{prefix}/memories/", {"q": "Initech", **query}, **headers).json()["count"] == 0
        exported = b"".join(alice_client.get(f"{prefix}/memories/export", query, **headers).streaming_content)
        assert WORK_SECRET not in exported.decode() and json.loads(exported)["count"] == 1
        ndjson = b"".join(
            alice_client.get(f"{prefix}/memories/export", {"format": "ndjson", **query}, **headers).streaming_content
        )
        assert WORK_SECRET.encode() not in ndjson
    everything = alice_client.get(f"{prefix}/memories/", {"space": "all"}).json()
    assert everything["count"] == 3
    assert snapshot(work) == before


@pytest.mark.parametrize("prefix", PREFIXES)
def test_personal_cannot_see_change_or_delete_work_memories(alice_client, personal, work, work_memories, prefix):
    before = snapshot(work)
    for memory in work_memories:
        url = f"{prefix}/memories/{memory.pk}"
        for way in asking_personal(personal):
            query, headers = _split(way)
            suffix = f"?space={query['space']}" if query else ""
            assert_refused(alice_client.get(url + suffix, **headers), 404)
            patch = {"priority": "high", "pinned": True}
            assert_refused(alice_client.patch(url + suffix, patch, format="json", **headers), 404)
            assert_refused(alice_client.delete(url + suffix, **headers), 404)
        assert_refused(alice_client.patch(url, {"pinned": True, "space": personal.pk}, format="json"), 404)
    assert snapshot(work) == before
    assert alice_client.get(f"{prefix}/memories/{work_memories[0].pk}", {"space": work.pk}).status_code == 200


@pytest.mark.parametrize("prefix", PREFIXES)
def test_import_and_delete_all_stay_in_their_space(alice, alice_client, personal, work, work_memories, prefix):
    before = snapshot(work)
    document = {"memories": [{"kind": "prompt", "provider": "claude", "text": "Imported"}]}
    imported = alice_client.post(f"{prefix}/memories/import", document, format="json")
    assert imported.status_code == 200 and imported.json()["imported"] == 1
    assert Memory.objects.get(text="Imported").space == personal
    assert ImportJob.objects.get(pk=imported.json()["job_id"]).space == personal

    deleted = alice_client.delete(f"{prefix}/memories/", {"confirm": True}, format="json")
    assert deleted.json()["deleted"] == 1
    assert snapshot(work) == before

    into_work = alice_client.post(f"{prefix}/memories/import?space={work.pk}", document, format="json")
    assert into_work.status_code == 200 and Memory.objects.get(text="Imported").space == work
    everything = alice_client.delete(f"{prefix}/memories/", {"confirm": True, "space": "all"}, format="json")
    assert everything.json()["deleted"] == 3 and not Memory.objects.filter(user=alice).exists()


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_same_text_in_two_spaces_is_two_memories(alice, alice_client, personal, work, work_memories, prefix):
    in_personal = alice_client.post(f"{prefix}/save-prompt", {"prompt": WORK_SECRET}, format="json")
    assert in_personal.status_code == 201 and in_personal.json()["duplicate"] is False
    again_in_work = alice_client.post(f"{prefix}/save-prompt", {"prompt": WORK_SECRET, "space": work.pk}, format="json")
    assert again_in_work.status_code == 200 and again_in_work.json()["duplicate"] is True
    assert again_in_work.json()["memory_id"] == work_memories[0].pk
    assert Memory.objects.get(pk=in_personal.json()["memory_id"]).space == personal
    assert Memory.objects.filter(user=alice, text=WORK_SECRET).count() == 2


@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_work_idempotency_key_never_replays_in_personal(alice, alice_client, personal, work, work_memories, prefix):
    before = snapshot(work)
    response = alice_client.post(
        f"{prefix}/save-prompt", {"prompt": "alice's own"}, format="json", HTTP_IDEMPOTENCY_KEY="shared-key-1"
    )
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert Memory.objects.get(pk=response.json()["memory_id"]).space == personal
    assert snapshot(work) == before


@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_space_that_is_not_the_callers_is_404_and_stores_nothing(alice, alice_client, bob, prefix):
    bobs = space_create(user=bob, name="Bob's")
    count = Memory.objects.count()
    for raw in (str(bobs.pk), "abc", "0", "1e3", "99999999999999999999", " 12 x"):
        body = {"prompt": "should not be stored", "space": raw}
        assert_refused(alice_client.post(f"{prefix}/save-prompt", body, format="json"), 404)
        assert_refused(alice_client.post(f"{prefix}/save-prompt", {"prompt": "x"}, format="json", **{HEADER: raw}), 404)
        assert_refused(alice_client.get(f"{prefix}/context/{alice.pk}", {"query": "x", "space": raw}), 404)
        assert_refused(alice_client.get(f"{prefix}/memories/", {"space": raw}), 404)
        assert_refused(alice_client.get(f"{prefix}/memories/export", {"space": raw}), 404)
        assert_refused(alice_client.delete(f"{prefix}/memories/", {"confirm": True, "space": raw}, format="json"), 404)
    assert_refused(alice_client.post(f"{prefix}/save-prompt", {"prompt": "x", "space": True}, format="json"), 404)
    assert Memory.objects.count() == count


def test_a_token_scoped_to_work_uses_work_by_default_and_reaches_nothing_else(alice, personal, work, work_memories):
    services.memory_save(user=alice, kind=Kind.PROMPT, provider="chatgpt", text="Personal diary entry.")
    client, _ = token_client(alice, spaces=[work.pk])

    listing = client.get("/memories/").json()
    assert {m["text"] for m in listing["results"]} == {WORK_SECRET, "Keep it quiet."}
    assert client.get("/memories/", {"space": "all"}).json()["count"] == 2  # "all" is all of the token's
    assert_refused(client.get("/memories/", {"space": personal.pk}), 404)
    assert_refused(client.get(f"/context/{alice.pk}", {"query": "diary", "space": personal.pk}), 404)
    saved = client.post("/save-prompt", {"prompt": "Saved by the work script."}, format="json")
    assert saved.status_code == 201 and Memory.objects.get(pk=saved.json()["memory_id"]).space == work
    assert_refused(client.post("/save-prompt", {"prompt": "x", "space": personal.pk}, format="json"), 404)
    exported = b"".join(client.get("/memories/export").streaming_content).decode()  # type: ignore[attr-defined]
    assert "diary" not in exported and WORK_SECRET in exported


def test_a_token_without_spaces_keeps_working_in_the_default_space(alice, personal, work, work_memories):
    client, token = token_client(alice)

    assert list(token.spaces.all()) == [personal] and token.default_space == personal
    saved = client.post("/save-prompt", {"prompt": "From an old script."}, format="json")
    assert Memory.objects.get(pk=saved.json()["memory_id"]).space == personal
    assert WORK_SECRET not in client.get("/memories/", {"space": "all"}).content.decode()


def test_a_token_whose_spaces_were_all_deleted_reaches_nothing(alice, work, work_memories):
    client, _ = token_client(alice, spaces=[work.pk])
    services.space_delete(user=alice, space=work, mode="delete")

    assert_refused(client.get("/memories/"), 404)
    assert_refused(client.post("/save-prompt", {"prompt": "x"}, format="json"), 404)


def _caller(user: User, token: PersonalAccessToken | None = None) -> tools.Caller:
    return tools.Caller(user=user, can_write=True, token=token)


def test_mcp_tools_act_on_one_space(alice, personal, work, work_memories):
    before = snapshot(work)
    caller = _caller(alice)
    tools.tool_run(caller=caller, name="save_memory", arguments={"text": "I moved to Utrecht."})

    found = tools.tool_run(caller=caller, name="search_memories", arguments={"query": "Initech merger Friday"})
    assert WORK_SECRET not in found
    recent = tools.tool_run(caller=caller, name="recent_memories", arguments={})
    assert "Utrecht" in recent and WORK_SECRET not in recent
    with pytest.raises(tools.ToolError):
        tools.tool_run(caller=caller, name="forget_memory", arguments={"memory_id": work_memories[0].pk})
    assert snapshot(work) == before

    in_work = tools.tool_run(
        caller=caller, name="search_memories", arguments={"query": "Initech merger Friday", "space": work.pk}
    )
    assert WORK_SECRET in in_work and "Utrecht" not in in_work


def test_mcp_with_a_token_uses_its_default_space_and_refuses_others(alice, bob, personal, work, work_memories):
    _, token = token_client(alice, spaces=[work.pk])
    caller = _caller(alice, token)

    recent = tools.tool_run(caller=caller, name="recent_memories", arguments={})
    assert WORK_SECRET in recent
    saved = tools.tool_run(caller=caller, name="save_memory", arguments={"text": "Standup at nine."})
    assert "Saved as memory" in saved and Memory.objects.get(text="Standup at nine.").space == work
    bobs = space_default(user=bob)
    for raw in (personal.pk, bobs.pk, "nope"):
        for name, arguments in (
            ("search_memories", {"query": "x"}),
            ("save_memory", {"text": "x"}),
            ("recent_memories", {}),
            ("forget_memory", {"memory_id": work_memories[0].pk}),
        ):
            with pytest.raises(tools.ToolError, match="space not found"):
                tools.tool_run(caller=caller, name=name, arguments={**arguments, "space": raw})
    assert Memory.objects.filter(space=personal).count() == 0 and Memory.objects.filter(space=work).count() == 3
