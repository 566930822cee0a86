"""Spaces on the person's page: /app/spaces/ (make, rename, make default, delete, merge), the memories page one space
at a time (list, preview, export, import) and moving ticked memories. Every view's answer, then the database."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.test import Client

from accounts import services as account_services
from accounts.models import Space
from memories.models import Chunk, Memory
from memories.tests.factories import save

pytestmark = pytest.mark.django_db

CHANGES = [
    "/app/spaces/new",
    "/app/spaces/{id}/rename",
    "/app/spaces/{id}/default",
    "/app/spaces/{id}/delete",
    "/app/spaces/{id}/merge",
    "/app/memories/move",
]


def _text(response) -> str:
    return response.content.decode()


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def personal(alice) -> Space:
    return account_services.space_default(user=alice)


@pytest.fixture
def work(alice, personal) -> Space:
    return account_services.space_create(user=alice, name="Work")


@pytest.fixture
def two_spaces(alice, personal, work) -> dict[str, Memory]:
    """One memory in each of alice's spaces."""
    return {
        "personal": save(alice, "My dog Max is a golden retriever who loves the lake.", space=personal),
        "work": save(alice, "The Falcon launch review with Dana is on Thursday.", space=work),
    }


@pytest.fixture
def bobs_space(bob) -> Space:
    return account_services.space_create(user=bob, name="Bob's work")


# --- Sign-in, methods, CSRF --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/app/spaces/", *CHANGES])
def test_it_sends_anonymous_people_to_the_login_page(client, work, path):
    path = path.format(id=work.pk)
    response = client.get(path) if path == "/app/spaces/" else client.post(path, {"name": "x"})
    assert response.status_code == 302 and response["Location"] == f"/app/login/?next={path}"
    assert Space.objects.get(pk=work.pk).name == "Work"


@pytest.mark.parametrize("path", CHANGES)
def test_it_refuses_get_on_every_change(web, work, path):
    assert web.get(path.format(id=work.pk)).status_code == 405
    assert web.post("/app/spaces/").status_code == 405


def test_it_refuses_a_change_without_the_csrf_token(alice, work):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.post("/app/spaces/new", {"name": "Health"}).status_code == 403
    assert browser.post(f"/app/spaces/{work.pk}/rename", {"name": "Job"}).status_code == 403
    assert list(Space.objects.filter(user=alice).values_list("name", flat=True)) == ["Personal", "Work"]


# --- The spaces page ----------------------------------------------------------------------------------------


def test_it_lists_the_spaces_with_their_counts_and_speaks_to_people(web, two_spaces, bobs_space):
    save(bobs_space.user, "Bob's secret", space=bobs_space)
    response = web.get("/app/spaces/")
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    page = _text(response)
    found = re.findall(r'data-space-name="([^"]+)".*?data-field="count">(\d+) memor', page, flags=re.S)
    assert found == [("Personal", "1"), ("Work", "1")]
    assert "Bob" not in page and "<script" not in page
    assert "/me/spaces" not in page and "X-Memory-Space" not in page and "csrfmiddlewaretoken" in page


def test_it_makes_a_space_and_refuses_a_name_taken_in_any_case(web, alice, personal):
    response = web.post("/app/spaces/new", {"name": "  Health   notes "})
    assert response.status_code == 302 and response["Location"] == "/app/spaces/"
    assert Space.objects.filter(user=alice, name="Health notes", is_default=False).exists()
    taken = web.post("/app/spaces/new", {"name": "health NOTES"})
    assert taken.status_code == 409 and "already have a space called" in _text(taken)
    blank = web.post("/app/spaces/new", {"name": "   "})
    assert blank.status_code == 400
    assert Space.objects.filter(user=alice).count() == 2


def test_it_renames_and_makes_default_only_the_persons_own_spaces(web, alice, personal, work, bobs_space):
    assert web.post(f"/app/spaces/{work.pk}/rename", {"name": "Job"}).status_code == 302
    assert Space.objects.get(pk=work.pk).name == "Job"
    assert web.post(f"/app/spaces/{work.pk}/default").status_code == 302
    assert Space.objects.get(user=alice, is_default=True).pk == work.pk
    for path in (f"/app/spaces/{bobs_space.pk}/rename", f"/app/spaces/{bobs_space.pk}/default"):
        response = web.post(path, {"name": "Mine now"})
        assert response.status_code == 404 and "no such space among yours" in _text(response)
    assert web.post("/app/spaces/99999999999999999999/rename", {"name": "x"}).status_code == 404
    bob_space = Space.objects.get(pk=bobs_space.pk)
    assert bob_space.name == "Bob's work" and bob_space.is_default is False


def test_it_deletes_a_space_moving_its_memories(web, alice, personal, work, two_spaces):
    response = web.post(f"/app/spaces/{work.pk}/delete", {"memories": "move", "to": personal.pk})
    assert response.status_code == 302
    assert not Space.objects.filter(pk=work.pk).exists()
    assert set(Memory.objects.filter(user=alice).values_list("space_id", flat=True)) == {personal.pk}
    assert Memory.objects.filter(user=alice).count() == 2
    assert "its 1 memories are in “Personal” now" in " ".join(_messages(web.get("/app/spaces/")))


def test_it_deletes_a_space_with_its_memories_for_good(web, alice, work, two_spaces):
    gone = two_spaces["work"]
    assert Chunk.objects.filter(memory=gone).exists()
    response = web.post(f"/app/spaces/{work.pk}/delete", {"memories": "delete"})
    assert response.status_code == 302
    assert not Space.objects.filter(pk=work.pk).exists()
    assert not Memory.objects.filter(pk=gone.pk).exists() and not Chunk.objects.filter(memory_id=gone.pk).exists()
    assert Memory.objects.filter(pk=two_spaces["personal"].pk).exists()


def test_it_deletes_nothing_without_a_choice_the_default_space_or_into_another_persons(
    web, alice, personal, work, two_spaces, bobs_space
):
    assert web.post(f"/app/spaces/{work.pk}/delete", {}).status_code == 400
    assert web.post(f"/app/spaces/{work.pk}/delete", {"memories": "move"}).status_code == 400
    refused = web.post(f"/app/spaces/{personal.pk}/delete", {"memories": "delete"})
    assert refused.status_code == 409 and "default" in _text(refused)
    assert web.post(f"/app/spaces/{work.pk}/delete", {"memories": "move", "to": bobs_space.pk}).status_code == 404
    assert web.post(f"/app/spaces/{bobs_space.pk}/delete", {"memories": "delete"}).status_code == 404
    assert Space.objects.count() == 4 and Memory.objects.count() == 2  # Personal and Work for each


def test_it_merges_two_spaces(web, alice, personal, work, two_spaces, bobs_space):
    assert web.post(f"/app/spaces/{work.pk}/merge", {"into": bobs_space.pk}).status_code == 404
    assert web.post(f"/app/spaces/{work.pk}/merge", {"into": work.pk}).status_code == 400
    response = web.post(f"/app/spaces/{work.pk}/merge", {"into": personal.pk})
    assert response.status_code == 302
    assert list(Space.objects.filter(user=alice).values_list("name", flat=True)) == ["Personal"]
    assert Memory.objects.filter(space=personal).count() == 2


# --- The memories page, one space at a time -----------------------------------------------------------------


def test_it_shows_one_space_at_a_time_with_the_default_first(web, personal, work, two_spaces):
    default = _text(web.get("/app/"))
    assert "golden retriever" in default and "Falcon" not in default
    assert web.get("/app/", {"space": work.pk})["Location"] == f"/app/memories/?space={work.pk}"
    response = web.get("/app/memories/", {"space": work.pk})
    shown = _text(response)
    assert response.status_code == 200 and "Falcon" in shown and "golden retriever" not in shown
    assert f'<option value="{work.pk}" selected>Work (1)' in shown
    assert f'name="ids" value="{two_spaces["work"].pk}" form="move-form"' in shown


@pytest.mark.parametrize("raw", ["nope", "-1", "12.5", "99999999999999999999"])
def test_it_answers_404_for_a_space_that_is_not_the_persons(web, work, bobs_space, raw):
    for value in (raw, str(bobs_space.pk)):
        response = web.get("/app/memories/", {"space": value})
        assert response.status_code == 404 and "no such space among yours" in _text(response)
    assert web.get("/app/export", {"space": bobs_space.pk}).status_code == 404


def test_it_previews_the_context_of_the_space_shown(web, personal, work, two_spaces):
    in_work = web.get("/app/memories/", {"space": work.pk, "prompt": "When is the Falcon launch review?"})
    assert "Falcon launch review" in " ".join(in_work.context["preview"].contexts)
    in_personal = web.get("/app/", {"prompt": "When is the Falcon launch review?"})
    assert not any("Falcon" in text for text in in_personal.context["preview"].contexts)


def test_it_exports_one_space_or_everything(web, personal, work, two_spaces):
    def document(**query):
        response = web.get("/app/export", query)
        assert response.status_code == 200
        return json.loads(b"".join(response.streaming_content))

    def exported(**query):
        return [m["text"] for m in document(**query)["memories"]]

    assert exported(space=work.pk) == [two_spaces["work"].text]
    assert exported() == [two_spaces["personal"].text]
    assert sorted(exported(space="all")) == sorted(m.text for m in two_spaces.values())
    everything = document(space="all")
    assert sorted(everything["spaces"]) == ["Personal", "Work"] and document(space=work.pk)["spaces"] == ["Work"]
    assert {m["text"]: m["space"] for m in everything["memories"]} == {
        two_spaces["work"].text: "Work",
        two_spaces["personal"].text: "Personal",
    }


def test_it_imports_into_the_space_shown(web, alice, personal, work):
    line = {"kind": "prompt", "provider": "grok", "text": "Quarterly numbers are due on the 5th."}
    upload = io.BytesIO(json.dumps(line).encode())
    upload.name = "memories.ndjson"
    response = web.post("/app/import", {"file": upload, "space": work.pk})
    assert response.status_code == 302 and response["Location"] == f"/app/memories/?space={work.pk}"
    assert Memory.objects.get(user=alice, provider="grok").space_id == work.pk
    assert "Imported 1 memories into “Work”" in _messages(web.get(response["Location"]))[0]


def test_it_imports_nothing_into_another_persons_space(web, alice, bobs_space):
    upload = io.BytesIO(json.dumps({"kind": "prompt", "provider": "grok", "text": "x y z"}).encode())
    upload.name = "memories.ndjson"
    assert web.post("/app/import", {"file": upload, "space": bobs_space.pk}).status_code == 404
    assert not Memory.objects.exists()


# --- Moving ticked memories -----------------------------------------------------------------------------------


def test_it_moves_the_ticked_memories_and_goes_back(web, personal, work, two_spaces):
    here = f"/app/memories/?space={personal.pk}"
    response = web.post("/app/memories/move", {"ids": [two_spaces["personal"].pk], "to": work.pk, "next": here})
    assert response.status_code == 302 and response["Location"] == here
    assert Memory.objects.get(pk=two_spaces["personal"].pk).space_id == work.pk
    assert "Moved 1 memory to “Work”." in _messages(web.get(here))


def test_it_moves_nothing_of_another_person_nor_into_their_space(web, alice, work, two_spaces, bobs_space):
    bobs = save(bobs_space.user, "Bob's secret garden", space=bobs_space)
    mine = two_spaces["personal"].pk
    assert web.post("/app/memories/move", {"ids": [mine, bobs.pk], "to": work.pk}).status_code == 404
    assert web.post("/app/memories/move", {"ids": [mine], "to": bobs_space.pk}).status_code == 404
    assert web.post("/app/memories/move", {"to": work.pk}).status_code == 400
    assert web.post("/app/memories/move", {"ids": ["x1"], "to": work.pk}).status_code == 400
    assert Memory.objects.get(pk=mine).space_id != work.pk and Memory.objects.get(pk=bobs.pk).space_id == bobs_space.pk


# --- A standing preference in every space -------------------------------------------------------------------


def test_it_shares_a_standing_preference_with_every_space_and_back(web, alice, personal, work, bob_memory):
    rule = save(alice, "I am vegetarian, so from now on only suggest meat-free recipes.", space=personal)
    plain = save(alice, "My dog Max is a golden retriever.", space=personal)
    assert "Use in every space" in _text(web.get("/app/"))
    response = web.post(f"/app/memories/{rule.pk}/all-spaces", {"all_spaces": "true", "next": "/app/"})
    assert response.status_code == 302 and Memory.objects.get(pk=rule.pk).all_spaces is True
    in_work = web.get("/app/memories/", {"space": work.pk, "prompt": "Suggest a recipe for dinner tonight"})
    assert any("vegetarian" in text for text in in_work.context["preview"].contexts)
    assert web.post(f"/app/memories/{rule.pk}/all-spaces", {"all_spaces": "false"}).status_code == 302
    assert Memory.objects.get(pk=rule.pk).all_spaces is False

    assert web.post(f"/app/memories/{plain.pk}/all-spaces", {"all_spaces": "true"}).status_code == 400
    assert web.post(f"/app/memories/{bob_memory.pk}/all-spaces", {"all_spaces": "true"}).status_code == 404
    assert web.post(f"/app/memories/{rule.pk}/all-spaces", {"all_spaces": "maybe"}).status_code == 400
    assert web.get(f"/app/memories/{rule.pk}/all-spaces").status_code == 405
    assert not Memory.objects.filter(all_spaces=True).exists()


def test_it_deletes_only_the_space_shown_when_asked(web, alice, personal, work, two_spaces):
    page = web.get("/app/memories/", {"space": work.pk}).content.decode()
    assert 'name="scope" value="space"' in page and "Only the memories of “Work”" in page

    response = web.post("/app/memories/delete-all", {"confirm": "DELETE", "scope": "space", "space": work.pk})

    assert response.status_code == 302 and response["Location"] == f"/app/memories/?space={work.pk}"
    assert list(Memory.objects.filter(user=alice).values_list("space_id", flat=True)) == [personal.pk]
    assert "Deleted 1 memory of “Work”; your other spaces are kept." in _messages(web.get(response["Location"]))


def test_it_deletes_nothing_in_another_persons_space(web, alice, two_spaces, bobs_space):
    response = web.post("/app/memories/delete-all", {"confirm": "DELETE", "scope": "space", "space": bobs_space.pk})
    assert response.status_code == 404 and Memory.objects.filter(user=alice).count() == 2
