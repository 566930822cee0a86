"""GET/POST /me/spaces, PATCH/DELETE /me/spaces/{id}, POST /me/spaces/{id}/merge and POST /memories/move."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import DEFAULT_SPACE_NAME, Space
from accounts.services import access_token_create, space_create, space_default
from memories.models import Chunk, Memory
from memories.tests.factories import save
from testkit import assert_error

pytestmark = pytest.mark.django_db

PREFIXES = ["", "/api/v1"]


@pytest.fixture
def work(alice):
    return space_create(user=alice, name="Work")


def token_client(user, **kwargs) -> APIClient:
    secret = access_token_create(user=user, name="script", scope="write", **kwargs).secret
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.mark.parametrize("prefix", PREFIXES)
def test_it_lists_a_new_persons_personal_space_with_its_count(alice, alice_client, prefix):
    save(alice, "I like green tea.")

    response = alice_client.get(f"{prefix}/me/spaces")

    assert response.status_code == 200
    personal = space_default(user=alice)
    assert response.json() == [{"id": personal.pk, "name": DEFAULT_SPACE_NAME, "is_default": True, "memories": 1}]


def test_it_creates_a_space_and_refuses_a_name_taken_whatever_its_case(alice, alice_client):
    created = alice_client.post("/me/spaces", {"name": "  Work  "}, format="json")

    assert created.status_code == 201
    assert created.json() == {"id": created.json()["id"], "name": "Work", "is_default": False, "memories": 0}
    assert_error(alice_client.post("/me/spaces", {"name": "work"}, format="json"), 409, "already have a space")
    assert_error(alice_client.post("/me/spaces", {"name": " "}, format="json"), 400, "name")
    assert_error(alice_client.post("/me/spaces", {"name": "x", "colour": "red"}, format="json"), 400, "colour")
    assert list(Space.objects.filter(user=alice).values_list("name", flat=True)) == [DEFAULT_SPACE_NAME, "Work"]


def test_it_renames_and_makes_a_space_the_default(alice, alice_client, work):
    renamed = alice_client.patch(f"/me/spaces/{work.pk}", {"name": "Job", "is_default": True}, format="json")

    assert renamed.status_code == 200
    assert renamed.json() == {"id": work.pk, "name": "Job", "is_default": True, "memories": 0}
    assert Space.objects.get(user=alice, is_default=True) == work
    assert_error(alice_client.patch(f"/me/spaces/{work.pk}", {"is_default": False}, format="json"), 400, "default")
    assert_error(alice_client.patch(f"/me/spaces/{work.pk}", {}, format="json"), 400, "nothing to change")
    assert_error(alice_client.patch(f"/me/spaces/{work.pk}", {"name": "personal"}, format="json"), 409, "already")


def test_it_deletes_a_space_with_its_memories_through_the_purge(alice, alice_client, work):
    kept = save(alice, "Personal note.")
    gone = save(alice, "Quarterly budget draft.", space=work)

    response = alice_client.delete(f"/me/spaces/{work.pk}?memories=delete")

    assert response.status_code == 200
    assert response.json() == {"success": True, "deleted": 1, "moved": 0, "merged": 0}
    assert not Space.objects.filter(pk=work.pk).exists()
    assert not Memory.objects.filter(pk=gone.pk).exists() and not Chunk.objects.filter(memory_id=gone.pk).exists()
    assert Memory.objects.filter(pk=kept.pk).exists()


def test_it_deletes_a_space_after_moving_its_memories(alice, alice_client, work):
    personal = space_default(user=alice)
    save(alice, "Same text.")
    save(alice, "Same text.", space=work)
    moved = save(alice, "Only at work.", space=work)

    response = alice_client.delete(f"/me/spaces/{work.pk}?memories=move&to={personal.pk}")

    assert response.status_code == 200
    assert response.json() == {"success": True, "deleted": 0, "moved": 2, "merged": 1}
    assert Memory.objects.get(pk=moved.pk).space == personal
    assert sorted(Memory.objects.filter(user=alice).values_list("text", flat=True)) == ["Only at work.", "Same text."]


def test_it_refuses_to_delete_the_default_space_or_without_saying_what_happens_to_its_memories(
    alice, alice_client, work
):
    personal = space_default(user=alice)
    assert_error(alice_client.delete(f"/me/spaces/{personal.pk}?memories=delete"), 409, "default space")
    assert_error(alice_client.delete(f"/me/spaces/{work.pk}"), 400, "memories")
    assert_error(alice_client.delete(f"/me/spaces/{work.pk}?memories=move"), 400, "to")
    assert_error(alice_client.delete(f"/me/spaces/{work.pk}?memories=move&to={work.pk}"), 400, "cannot move")
    assert Space.objects.filter(user=alice).count() == 2


def test_it_merges_a_space_into_another_and_keeps_a_shared_text_once(alice, alice_client, work):
    personal = space_default(user=alice)
    save(alice, "Shared.", space=work)
    save(alice, "Shared.")
    save(alice, "Work only.", space=work)
    token = access_token_create(user=alice, name="t", spaces=[work.pk]).token

    response = alice_client.post(f"/me/spaces/{work.pk}/merge", {"into": personal.pk}, format="json")

    assert response.status_code == 200
    assert response.json() == {"success": True, "moved": 1, "merged": 1}
    assert not Space.objects.filter(pk=work.pk).exists()
    assert Memory.objects.filter(space=personal).count() == 2
    assert list(token.spaces.all()) == [personal]  # the token follows its space


def test_it_moves_memories_between_spaces(alice, alice_client, bob, work):
    memory = save(alice, "Move me.")
    bobs = save(bob, "Bob's.")

    response = alice_client.post("/memories/move", {"ids": [memory.pk], "space": work.pk}, format="json")

    assert response.status_code == 200 and response.json() == {"success": True, "moved": 1, "merged": 0}
    assert Memory.objects.get(pk=memory.pk).space == work
    assert_error(alice_client.post("/memories/move", {"ids": [bobs.pk], "space": work.pk}, format="json"), 404, "")
    assert_error(alice_client.post("/memories/move", {"ids": [memory.pk]}, format="json"), 400, "space")
    assert Memory.objects.get(pk=bobs.pk).space == space_default(user=bob)


@pytest.mark.parametrize("space_id", ["abc", "0", "-1", "1.5", "99999999999999999999", "all"])
def test_it_answers_404_for_a_malformed_space_id(alice_client, space_id):
    assert_error(alice_client.patch(f"/me/spaces/{space_id}", {"name": "x"}, format="json"), 404, "space not found")
    assert_error(alice_client.delete(f"/me/spaces/{space_id}?memories=delete"), 404, "space not found")


def test_it_answers_404_for_another_persons_space_and_changes_nothing(alice_client, bob):
    bobs = space_create(user=bob, name="Bob's work")
    save(bob, "Bob's plan.", space=bobs)

    assert_error(alice_client.patch(f"/me/spaces/{bobs.pk}", {"name": "mine"}, format="json"), 404, "space not found")
    assert_error(alice_client.delete(f"/me/spaces/{bobs.pk}?memories=delete"), 404, "space not found")
    assert_error(
        alice_client.post(f"/me/spaces/{bobs.pk}/merge", {"into": bobs.pk}, format="json"), 404, "space not found"
    )
    assert_error(alice_client.post("/memories/move", {"ids": [1], "space": bobs.pk}, format="json"), 404, "space")
    bobs.refresh_from_db()
    assert bobs.name == "Bob's work" and Memory.objects.filter(space=bobs).count() == 1


def test_it_refuses_wrong_methods(alice_client, work):
    assert_error(alice_client.put("/me/spaces", {}, format="json"), 405, "not allowed")
    assert_error(alice_client.get(f"/me/spaces/{work.pk}/merge"), 405, "not allowed")
    assert_error(alice_client.get("/memories/move"), 405, "not allowed")


def test_a_token_sees_only_its_spaces_and_cannot_manage_them(alice, work):
    client = token_client(alice, spaces=[work.pk])

    listed = client.get("/me/spaces")

    assert listed.status_code == 200 and [s["name"] for s in listed.json()] == ["Work"]
    assert_error(client.post("/me/spaces", {"name": "Mine"}, format="json"), 403, "access token")
    assert_error(client.patch(f"/me/spaces/{work.pk}", {"name": "x"}, format="json"), 403, "access token")
    assert_error(client.delete(f"/me/spaces/{work.pk}?memories=delete"), 403, "access token")


def test_it_needs_a_sign_in(anon_client):
    assert_error(anon_client.get("/me/spaces"), 401, "")


def test_a_token_whose_spaces_were_all_deleted_says_so_and_stores_nothing(alice, alice_client, work):
    client = token_client(alice, spaces=[work.pk])
    assert alice_client.delete(f"/me/spaces/{work.pk}?memories=delete").status_code == 200

    for response in (
        client.post("/save-prompt", {"user_id": str(alice.pk), "prompt": "Budget is due."}, format="json"),
        client.get(f"/context/{alice.pk}", {"query": "budget"}),
    ):
        assert response.status_code == 404
        assert "every space this token could use was deleted" in response.json()["error"]
    assert not Memory.objects.filter(user=alice).exists()
