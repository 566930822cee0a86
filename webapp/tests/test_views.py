"""The page through Django's test client: every view's answer, then what it shows, then the database."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import DailyUsage, Preferences, preferences_of
from accounts.services import space_default
from memories import supersession
from memories.models import Chunk, Memory, Priority
from memories.search import context
from memories.tests.factories import save

pytestmark = pytest.mark.django_db

POST_ONLY = [
    "/app/memories/{id}/pin",
    "/app/memories/{id}/priority",
    "/app/memories/{id}/delete",
    "/app/memories/{id}/unlink",
    "/app/memories/delete-all",
    "/app/import",
]
GET_ONLY = ["/app/", "/app/export"]


def _text(response) -> str:
    return response.content.decode()


def _scripts(web) -> list[str]:
    """Every script tag /app/ can show (with an import listed, the page's only script)."""
    return re.findall(r"<script[^>]*>.*?</script>", _text(web.get("/app/")), flags=re.S)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- Sign-in required, methods, headers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", p) for p in [*GET_ONLY, "/app/settings/"]] + [("post", p) for p in [*POST_ONLY, "/app/settings/"]],
)
def test_it_sends_anonymous_people_to_the_login_page(client, alice_memories, method, path):
    path = path.format(id=alice_memories[0].pk)
    response = getattr(client, method)(path)
    assert response.status_code == 302
    assert response["Location"] == f"/app/login/?next={path}"
    assert Memory.objects.filter(user=alice_memories[0].user).count() == 3


@pytest.mark.parametrize("path", POST_ONLY)
def test_it_refuses_get_on_every_change(web, alice_memories, path):
    response = web.get(path.format(id=alice_memories[0].pk))
    assert response.status_code == 405
    assert Memory.objects.count() == 3 and not Memory.objects.filter(pinned=True).exists()


@pytest.mark.parametrize(("method", "path"), [("post", "/app/"), ("post", "/app/export"), ("put", "/app/settings/")])
def test_it_refuses_other_methods(web, method, path):
    assert getattr(web, method)(path).status_code == 405


def test_it_answers_html_not_the_api_envelope_and_is_never_cached(web):
    response = web.get("/app/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    policy = response["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self';" in policy  # this site's files only, no inline
    assert "unsafe" not in policy and "style=" not in _text(response)
    assert all(re.match(r'<script src="/static/[^"]+" defer></script>', tag) for tag in _scripts(web))
    missing = web.post("/app/memories/999999999/delete")
    assert missing.status_code == 404 and missing["Content-Type"].startswith("text/html")
    assert "no such memory among yours" in _text(missing)


# --- Login and logout ---------------------------------------------------------------------------------------


def test_it_signs_in_with_username_and_password_and_out_again(client, alice):
    page = client.get("/app/login/")
    assert page.status_code == 200 and 'name="csrfmiddlewaretoken"' in _text(page)
    response = client.post("/app/login/", {"login": "alice", "password": "pw-alice"})
    assert response.status_code == 302 and response["Location"] == "/app/"
    assert client.get("/app/").context["user"] == alice
    out = client.post("/app/logout/")
    assert out.status_code == 302 and out["Location"] == "/app/login/"
    assert client.get("/app/").status_code == 302


def test_it_signs_in_with_the_email_address_too(client, alice):
    response = client.post("/app/login/", {"login": "alice@example.com", "password": "pw-alice"})
    assert response.status_code == 302 and client.get("/app/").context["user"] == alice


def test_it_refuses_a_wrong_password_with_a_form_error(client, alice):
    response = client.post("/app/login/", {"login": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "username and/or password you specified are not correct" in _text(response)
    assert client.get("/app/").status_code == 302


def test_it_follows_next_after_signing_in_but_never_off_the_site(client, alice):
    inside = client.post("/app/login/?next=/app/settings/", {"login": "alice", "password": "pw-alice"})
    assert inside["Location"] == "/app/settings/"
    client.post("/app/logout/")
    outside = client.post("/app/login/?next=https://evil.example/", {"login": "alice", "password": "pw-alice"})
    assert outside["Location"] == "/app/"


def test_it_limits_password_guesses_per_client_address(client, alice, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login_failed": "2/m/ip"}
    for _ in range(2):
        assert client.post("/app/login/", {"login": "alice", "password": "guess"}).status_code == 200
    limited = client.post("/app/login/", {"login": "alice", "password": "pw-alice"})
    assert "Too many failed login attempts" in _text(limited)
    assert client.get("/app/").status_code == 302


def test_it_enforces_csrf_on_the_login_form(alice):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/app/login/", {"login": "alice", "password": "pw-alice"}).status_code == 403
    assert strict.get("/app/").status_code == 302


# --- Home: usage, charts ------------------------------------------------------------------------------------


def test_it_shows_todays_usage_against_the_tier(web, alice, settings):
    settings.QUOTA_DAILY_LIMITS = {**settings.QUOTA_DAILY_LIMITS, "free": 40}
    DailyUsage.objects.create(user=alice, day=timezone.now().date(), count=7)
    DailyUsage.objects.create(user=alice, day=timezone.now().date() - timedelta(days=1), count=30)
    page = _text(web.get("/app/"))
    used = re.search(r'data-kpi="used-today">(.*?)</div>', page, re.S)
    left = re.search(r'data-kpi="remaining-today">(.*?)</div>', page, re.S)
    assert used and "7 <small>of 40</small>" in used.group(1) and 'value="7"' in used.group(1)
    assert "Free tier" in used.group(1)
    assert left and ">33<" in left.group(1)


def test_it_shows_unlimited_for_a_tier_without_a_limit(web, alice):
    alice.tier = "enterprise"
    alice.save(update_fields=["tier"])
    page = _text(web.get("/app/"))
    assert re.search(r'data-kpi="remaining-today">.*?unlimited', page, re.S)


def test_it_charts_the_persons_own_saves_and_context_calls_from_the_database(web, alice_memories, bob_memory):
    page = _text(web.get("/app/"))
    saves = re.search(r'<svg[^>]*data-chart="saves-per-day".*?</svg>', page, re.S)
    calls = re.search(r'<svg[^>]*data-chart="context-calls-per-day".*?</svg>', page, re.S)
    assert saves and calls
    bars = re.findall(r"<title>saved (\d{4}-\d\d-\d\d): (\d+)</title>", saves.group(0))
    expected = {f"{m.created_at:%Y-%m-%d}": 0 for m in alice_memories}
    for m in alice_memories:
        expected[f"{m.created_at:%Y-%m-%d}"] += 1
    assert {day: int(n) for day, n in bars} == expected  # bob's memory is not among them
    assert re.search(r'data-kpi="saves-period">.*?>3<', page, re.S)


# --- Home: the memory list ----------------------------------------------------------------------------------


def test_it_lists_only_the_persons_own_memories_newest_first(web, alice_memories, bob_memory):
    response = web.get("/app/")
    ids = [m.pk for m in response.context["page"]]
    assert ids == [m.pk for m in reversed(alice_memories)]
    assert "secret garden" not in _text(response)
    assert "In reply to: Best pizza dough?" in _text(response)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"provider": "claude"}, [0]),
        ({"kind": "response"}, [1]),
        ({"q": "sister"}, [2]),
        ({"date_to": "{day1}"}, [1, 0]),
        ({"date_from": "{day1}"}, [2, 1]),
        ({"date_from": "{day1}", "date_to": "{day1}"}, [1]),
    ],
)
def test_it_filters_the_list(web, alice_memories, query, expected):
    day1 = f"{alice_memories[1].created_at:%Y-%m-%d}"
    response = web.get("/app/", {k: v.format(day1=day1) for k, v in query.items()})
    assert response.status_code == 200
    assert [m.pk for m in response.context["page"]] == [alice_memories[i].pk for i in expected]


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ({"date_from": "2025-13-45"}, "Enter a valid date"),
        ({"provider": "myspace"}, "Select a valid choice"),
        ({"kind": "poem"}, "Select a valid choice"),
        ({"date_from": "2025-03-02", "date_to": "2025-03-01"}, "must not be before From"),
    ],
)
def test_it_answers_400_with_the_form_error_for_bad_filters(web, alice_memories, query, fragment):
    response = web.get("/app/", query)
    assert response.status_code == 400
    assert fragment in _text(response)
    assert len(response.context["page"]) == 3  # unfiltered, with the error above


def test_it_pages_the_list_twenty_at_a_time_keeping_the_filters(web, alice):
    space = space_default(user=alice)
    Memory.objects.bulk_create(
        Memory(
            user=alice,
            space=space,
            kind="prompt",
            provider="claude" if i % 2 else "grok",
            text=f"note {i}",
            content_hash=f"h{i}",
            created_at=timezone.now() - timedelta(minutes=i),
        )
        for i in range(45)
    )
    first = web.get("/app/")
    assert len(first.context["page"]) == 20 and first.context["page"].paginator.num_pages == 3
    assert 'href="/app/?page=2#memories"' in _text(first)
    third = web.get("/app/", {"page": "3"})
    assert [m.text for m in third.context["page"]] == [f"note {i}" for i in range(40, 45)]
    grok = web.get("/app/", {"provider": "grok", "page": "2"})
    assert [m.text for m in grok.context["page"]] == [f"note {i}" for i in range(40, 45, 2)]
    assert 'href="/app/?provider=grok&amp;page=1#memories"' in _text(grok)
    past_the_end = web.get("/app/", {"page": "99"})
    assert past_the_end.status_code == 200 and past_the_end.context["page"].number == 3


# --- Home: the /context preview -----------------------------------------------------------------------------


def test_it_previews_exactly_the_context_strings_context_would_answer(web, alice, alice_memories):
    prompt = "Which city do I live in and how do I get to work?"
    expected = [r.text for r in context.context_search(user=alice, query=prompt, top_k=5)]
    assert expected and any("Lyon" in text for text in expected)
    response = web.get("/app/", {"prompt": prompt})
    assert response.status_code == 200
    assert response.context["preview"].contexts == expected
    shown = re.findall(r"<li><pre>(.*?)</pre></li>", _text(response), re.S)
    assert len(shown) == len(expected) and "Lyon" in shown[0]


def test_it_says_when_nothing_would_be_added(web, alice_memories):
    response = web.get("/app/", {"prompt": "Explain the Krebs cycle in quantum field theory terms"})
    assert response.context["preview"].contexts == []
    assert "Nothing would be added" in _text(response)


def test_it_previews_nothing_when_context_is_off(web, alice, alice_memories):
    Preferences.objects.create(user=alice, context=False)
    response = web.get("/app/", {"prompt": "Which city do I live in?"})
    assert response.context["preview"].context_off is True
    assert "context is off" in _text(response)


@pytest.mark.parametrize("prompt", ["", "x" * 2001])
def test_it_refuses_an_empty_or_too_long_prompt(web, prompt):
    response = web.get("/app/", {"prompt": prompt})
    assert response.status_code == 400
    assert response.context["preview"] is None


def test_it_limits_previews_like_the_api(web, alice_memories, settings):
    settings.RATELIMIT_API_RATE = "1/m"
    assert web.get("/app/", {"prompt": "Where do I live?"}).status_code == 200
    limited = web.get("/app/", {"prompt": "Where do I live?"})
    assert limited.status_code == 429 and "Too many requests" in _text(limited)
    assert limited.context["preview"] is None
    assert web.get("/app/").status_code == 200  # the rest of the page is not limited


# --- One memory: pin, priority, delete ----------------------------------------------------------------------


def test_it_pins_and_unpins_the_persons_memory_and_goes_back_to_the_same_page(web, alice_memories):
    memory = alice_memories[0]
    back = "/app/?provider=claude&page=1"
    response = web.post(f"/app/memories/{memory.pk}/pin", {"pinned": "true", "next": back})
    assert response.status_code == 302 and response["Location"] == back
    memory.refresh_from_db()
    assert memory.pinned is True
    web.post(f"/app/memories/{memory.pk}/pin", {"pinned": "false"})
    memory.refresh_from_db()
    assert memory.pinned is False
    assert "Unpinned." in _messages(web.get("/app/"))


def test_it_never_redirects_off_the_page_after_a_change(web, alice_memories):
    for target in ("https://evil.example/app/", "//evil.example/app/", "/admin/", "javascript:alert(1)"):
        response = web.post(f"/app/memories/{alice_memories[0].pk}/pin", {"pinned": "true", "next": target})
        assert response["Location"] == "/app/", target


@pytest.mark.parametrize("value", ["", "yes", "1"])
def test_it_refuses_a_bad_pin_value(web, alice_memories, value):
    response = web.post(f"/app/memories/{alice_memories[0].pk}/pin", {"pinned": value})
    assert response.status_code == 400 and "pinned" in _text(response)
    alice_memories[0].refresh_from_db()
    assert alice_memories[0].pinned is False


def test_it_sets_the_priority(web, alice_memories):
    memory = alice_memories[0]
    for label, value in (("high", Priority.HIGH), ("low", Priority.LOW), ("normal", Priority.NORMAL)):
        assert web.post(f"/app/memories/{memory.pk}/priority", {"priority": label}).status_code == 302
        memory.refresh_from_db()
        assert memory.priority == value
    page = _text(web.get("/app/"))
    assert re.search(rf'data-memory="{memory.pk}".*?aria-pressed="true" class="on">normal<', page, re.S)


@pytest.mark.parametrize("value", ["", "urgent", "2", "HIGHEST"])
def test_it_refuses_a_bad_priority(web, alice_memories, value):
    response = web.post(f"/app/memories/{alice_memories[0].pk}/priority", {"priority": value})
    assert response.status_code == 400
    alice_memories[0].refresh_from_db()
    assert alice_memories[0].priority == Priority.NORMAL


def test_it_deletes_one_memory_with_its_chunks(web, alice_memories):
    memory = alice_memories[1]
    response = web.post(f"/app/memories/{memory.pk}/delete", {"next": "/app/"})
    assert response.status_code == 302
    assert not Memory.objects.filter(pk=memory.pk).exists()
    assert not Chunk.objects.filter(memory_id=memory.pk).exists()
    assert Memory.objects.filter(user=memory.user).count() == 2
    assert "Deleted one memory." in _messages(web.get("/app/"))


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/app/memories/{id}/pin", {"pinned": "true"}),
        ("/app/memories/{id}/priority", {"priority": "high"}),
        ("/app/memories/{id}/delete", {}),
        ("/app/memories/{id}/unlink", {}),
    ],
)
def test_it_answers_404_for_another_persons_memory_and_leaves_it_alone(web, bob_memory, path, data):
    response = web.post(path.format(id=bob_memory.pk), data)
    assert response.status_code == 404
    assert "no such memory among yours" in _text(response)
    bob_memory.refresh_from_db()
    assert (bob_memory.pinned, bob_memory.priority) == (False, Priority.NORMAL)
    assert Chunk.objects.filter(memory=bob_memory).exists()


@pytest.mark.parametrize("path", ["/app/memories/0/delete", "/app/memories/2147483647999/pin"])
def test_it_answers_404_for_an_id_that_does_not_exist(web, path):
    assert web.post(path, {"pinned": "true"}).status_code == 404


# --- Replaced memories (memories.supersession) ------------------------------------------------------------


def _replaced(user, recent) -> tuple[Memory, Memory]:
    old = save(user, "We rent a flat in Lyon Croix-Rousse for 900 euros a month.", when=recent - timedelta(days=90))
    new = save(user, "We moved: now a flat in Lyon Villeurbanne for 1,050 euros.", when=recent)
    supersession.memory_supersede_link(user_id=user.pk, old_id=old.pk, new_id=new.pk)
    return old, new


def test_it_shows_replaces_and_replaced_by_on_the_two_memories(web, alice, recent):
    old, new = _replaced(alice, recent)
    page = web.get("/app/").content.decode()
    new_item = page.split(f'data-memory="{new.pk}"')[1].split("</li>")[0]
    old_item = page.split(f'data-memory="{old.pk}"')[1].split("</li>")[0]
    assert "Replaces" in new_item and "Croix-Rousse" in new_item
    assert "Replaced by" in old_item and "Villeurbanne" in old_item
    assert f'action="/app/memories/{new.pk}/unlink"' in new_item


def test_it_unlinks_a_wrong_replacement_and_goes_back(web, alice, recent):
    old, new = _replaced(alice, recent)
    response = web.post(f"/app/memories/{new.pk}/unlink", {"next": "/app/?page=1"})
    assert response.status_code == 302 and response["Location"] == "/app/?page=1"
    old.refresh_from_db()
    assert old.superseded_by_id is None
    assert "Unlinked: both memories count as current." in _messages(web.get("/app/"))
    assert "Replaced by" not in web.get("/app/").content.decode()


def test_it_leaves_another_persons_link_alone(web, bob, recent):
    old, new = _replaced(bob, recent)
    assert web.post(f"/app/memories/{old.pk}/unlink").status_code == 404
    old.refresh_from_db()
    assert old.superseded_by_id == new.pk


def test_it_enforces_csrf_on_every_change(alice, alice_memories):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    memory = alice_memories[0]
    refused = strict.post(f"/app/memories/{memory.pk}/delete")
    assert refused.status_code == 403
    assert Memory.objects.filter(pk=memory.pk).exists()
    strict.get("/app/")  # the page sets the CSRF cookie its forms carry
    token = strict.cookies["csrftoken"].value
    accepted = strict.post(f"/app/memories/{memory.pk}/delete", {"csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
    assert not Memory.objects.filter(pk=memory.pk).exists()


# --- Everything: delete all, export, import -----------------------------------------------------------------


@pytest.mark.parametrize("typed", ["", "delete", "DELETE ALL", "yes"])
def test_it_deletes_nothing_without_the_typed_confirmation(web, alice_memories, typed):
    response = web.post("/app/memories/delete-all", {"confirm": typed})
    assert response.status_code == 400
    assert "Type DELETE" in _text(response)
    assert Memory.objects.filter(user=alice_memories[0].user).count() == 3


def test_it_answers_a_refused_form_with_a_page_whose_forms_come_back_home(web, alice_memories):
    page = _text(web.post("/app/memories/delete-all", {"confirm": "nope"}))
    nexts = set(re.findall(r'name="next" value="([^"]*)"', page))
    assert nexts == {"/app/"}  # not the POST-only URL the refused form was sent to


def test_it_deletes_everything_of_the_person_and_nothing_of_anyone_else(web, alice, alice_memories, bob_memory):
    response = web.post("/app/memories/delete-all", {"confirm": "DELETE"})
    assert response.status_code == 302 and response["Location"] == "/app/"
    assert not Memory.objects.filter(user=alice).exists() and not Chunk.objects.filter(user=alice).exists()
    assert Memory.objects.filter(pk=bob_memory.pk).exists()
    assert "Deleted all your memories (3)." in _messages(web.get("/app/"))


def test_it_exports_the_persons_memories_as_json(web, alice, alice_memories, bob_memory):
    response = web.get("/app/export")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    assert re.fullmatch(r'attachment; filename="memories-\d{8}\.json"', response["Content-Disposition"])
    document = json.loads(b"".join(response.streaming_content))
    assert document["format"] == "memorylayer.export" and document["user_id"] == str(alice.pk)
    assert [m["id"] for m in document["memories"]] == [m.pk for m in alice_memories]
    assert document["count"] == 3


def test_it_exports_ndjson_and_refuses_other_formats(web, alice_memories):
    response = web.get("/app/export", {"format": "ndjson"})
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert response["Content-Type"].startswith("application/x-ndjson")
    assert [json.loads(line)["text"] for line in lines] == [m.text for m in alice_memories]
    assert web.get("/app/export", {"format": "csv"}).status_code == 400


def test_it_imports_our_own_export_and_shows_the_counts(web, alice, alice_memories):
    exported = b"".join(web.get("/app/export").streaming_content)
    Memory.objects.filter(pk=alice_memories[0].pk).delete()
    upload = io.BytesIO(exported)
    upload.name = "memories.json"
    response = web.post("/app/import", {"file": upload})
    assert response.status_code == 302 and response["Location"] == "/app/"
    assert "Imported 1 memories (2 already stored, 0 not valid)." in _messages(web.get("/app/"))
    assert Memory.objects.filter(user=alice).count() == 3
    restored = Memory.objects.get(user=alice, provider="claude")
    assert restored.created_at == alice_memories[0].created_at and Chunk.objects.filter(memory=restored).exists()


def test_it_imports_ndjson_and_reports_invalid_lines(web, alice):
    lines = [
        {"kind": "prompt", "provider": "grok", "text": "I play the cello.", "created_at": "2025-06-01T08:00:00Z"},
        {"kind": "prompt", "provider": "myspace", "text": "Nope."},
    ]
    upload = io.BytesIO("\n".join(json.dumps(line) for line in lines).encode())
    upload.name = "memories.ndjson"
    web.post("/app/import", {"file": upload})
    shown = _messages(web.get("/app/"))
    assert shown[0] == "Imported 1 memories (0 already stored, 1 not valid)."
    assert "failed" in shown[1] and "myspace" in shown[1]
    assert list(Memory.objects.filter(user=alice).values_list("text", flat=True)) == ["I play the cello."]


@pytest.mark.parametrize(
    ("content", "status", "fragment"),
    [
        (b"hello, not json", 400, "The file is not JSON: it starts with"),
        (b"\xff\xfe\x00", 400, "not UTF-8"),
        (b"[]", 400, "Nothing to import"),
    ],
)
def test_it_refuses_a_file_that_is_not_an_export(web, alice, content, status, fragment):
    upload = io.BytesIO(content)
    upload.name = "x.json"
    response = web.post("/app/import", {"file": upload})
    assert response.status_code == status
    assert fragment in _text(response)
    assert not Memory.objects.filter(user=alice).exists()


def test_it_queues_an_import_past_the_request_limits_and_refuses_one_past_the_file_limit(web, alice, settings):
    settings.MEMORY_IMPORT_MAX_ITEMS = 1
    items = [{"kind": "prompt", "provider": "grok", "text": f"fact {i}"} for i in range(2)]
    upload = io.BytesIO(json.dumps(items).encode())
    upload.name = "x.json"
    many = web.post("/app/import", {"file": upload})
    assert many.status_code == 302 and "Import of x.json queued" in _messages(web.get("/app/"))[0]
    settings.MEMORY_IMPORT_MAX_FILE_BYTES = 10
    upload.seek(0)
    too_big = web.post("/app/import", {"file": upload})
    assert too_big.status_code == 413 and "File too large: the limit is 10 bytes" in _text(too_big)
    assert web.post("/app/import", {}).status_code == 400  # no file at all
    assert not Memory.objects.filter(user=alice).exists()


def test_it_queues_a_whole_history_and_lists_its_progress(web, alice, settings, tmp_path):
    from testkit import run_queued_jobs
    from testkit.chat_exports import write_chatgpt_export

    settings.MEMORY_IMPORT_MAX_BYTES = 1000  # past it, a file goes to the worker
    path = tmp_path / "conversations.json"
    write_chatgpt_export(path, 40)
    with path.open("rb") as upload:
        response = web.post("/app/import", {"file": upload})
    assert response.status_code == 302
    assert "Import of conversations.json queued" in _messages(web.get("/app/"))[0]
    assert "queued" in _text(web.get("/app/"))

    queued = _text(web.get("/app/"))
    (job_id,) = re.findall(r'data-import-status="/app/imports/([0-9a-f-]+)"', queued)  # the script follows it
    assert '<progress max="1" value="0"></progress>' in queued and ">next<" in queued
    assert _scripts(web) == ['<script src="/static/webapp/imports.js" defer></script>']
    status = web.get(f"/app/imports/{job_id}").json()
    assert (status["status"], status["done"], status["place_in_line"]) == ("queued", 0, 0)

    run_queued_jobs()

    page = _text(web.get("/app/"))
    assert "done" in page and "40 of 40" in page and '<progress max="40" value="40">' in page
    assert "data-import-status" not in page  # nothing left to follow
    assert Memory.objects.filter(user=alice).count() == 40
    done = web.get(f"/app/imports/{job_id}").json()
    assert (done["status"], done["done"], done["total"], done["imported"], done["place_in_line"]) == (
        "done",
        40,
        40,
        40,
        None,
    )


def test_it_shows_an_imports_status_to_its_owner_only_and_on_get_only(web, alice, bob, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from memories.transfer import jobs
    from testkit.chat_exports import write_chatgpt_export

    path = tmp_path / "conversations.json"
    write_chatgpt_export(path, 5)
    bobs = jobs.import_job_create(user=bob, upload=SimpleUploadedFile(path.name, path.read_bytes()))
    mine = jobs.import_job_create(user=alice, upload=SimpleUploadedFile(path.name, path.read_bytes()))

    other = web.get(f"/app/imports/{bobs.pk}")
    assert other.status_code == 404 and other.json() == {"success": False, "error": "No such import"}
    assert web.get("/app/imports/00000000-0000-0000-0000-000000000000").status_code == 404
    assert web.get("/app/imports/not-a-uuid").status_code == 404
    assert web.post(f"/app/imports/{mine.pk}").status_code == 405
    assert web.get(f"/app/imports/{mine.pk}").json()["place_in_line"] == 1  # bob's first turn is ahead
    anonymous = Client().get(f"/app/imports/{mine.pk}")
    assert anonymous.status_code == 302 and "/app/login/" in anonymous["Location"]


def test_it_refuses_a_bad_history_at_once(web, alice, settings):
    settings.MEMORY_IMPORT_MAX_BYTES = 5
    upload = io.BytesIO(b"PK\x03\x04 not really a zip at all")
    upload.name = "export.zip"
    response = web.post("/app/import", {"file": upload})
    assert response.status_code == 400
    assert not Memory.objects.filter(user=alice).exists()


# --- Settings -----------------------------------------------------------------------------------------------


def _settings_form(**changes):
    form = {
        "capture": "on",
        "context": "on",
        "provider_chatgpt": "on",
        "provider_claude": "on",
        "provider_gemini": "on",
        "provider_grok": "on",
        "excluded_phrases": "",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def test_it_shows_the_defaults_when_nothing_was_saved(web):
    page = _text(web.get("/app/settings/"))
    for name in ("capture", "context", "provider_chatgpt", "provider_claude", "provider_gemini", "provider_grok"):
        assert re.search(rf'<input type="checkbox" name="{name}"[^>]*checked', page), name
    assert not re.search(r'name="redact_pii"[^>]*checked', page)


def test_it_saves_the_settings_through_the_service_and_shows_them_again(web, alice):
    form = _settings_form(provider_grok=None, redact_pii="on", excluded_phrases="  Project X \n\nproject x\nsalary\n")
    response = web.post("/app/settings/", form)
    assert response.status_code == 302 and response["Location"] == "/app/settings/"
    prefs = Preferences.objects.get(user=alice)
    assert prefs.providers == {"chatgpt": True, "claude": True, "gemini": True, "grok": False}
    assert (prefs.capture, prefs.context, prefs.redact_pii) == (True, True, True)
    assert prefs.excluded_phrases == ["Project X", "salary"]
    page = web.get("/app/settings/")
    assert "Settings saved." in _messages(page)
    assert not re.search(r'name="provider_grok"[^>]*checked', _text(page))
    assert "Project X\nsalary</textarea>" in _text(page)


def test_it_turns_capture_and_context_off(web, alice):
    web.post("/app/settings/", _settings_form(capture=None, context=None))
    prefs = preferences_of(alice)
    prefs.refresh_from_db()
    assert (prefs.capture, prefs.context) == (False, False)


@pytest.mark.parametrize(
    ("phrases", "fragment"),
    [("\n".join(f"p{i}" for i in range(101)), "At most 100 phrases"), ("x" * 201, "at most 200 characters")],
)
def test_it_refuses_bad_settings_and_saves_nothing(web, alice, phrases, fragment):
    response = web.post("/app/settings/", _settings_form(provider_grok=None, excluded_phrases=phrases))
    assert response.status_code == 400
    assert fragment in _text(response) and "Nothing was saved" in _text(response)
    assert not Preferences.objects.filter(user=alice).exists()


def test_it_keeps_each_persons_settings_apart(web, alice, bob):
    web.post("/app/settings/", _settings_form(provider_grok=None))
    assert preferences_of(bob).providers["grok"] is True
    assert not Preferences.objects.filter(user=bob).exists()


def test_it_shows_a_memory_saved_after_the_page_was_opened(web, alice):
    assert "No memories yet" in _text(web.get("/app/"))
    save(alice, "I started learning Portuguese.", provider="grok", when=timezone.now())
    assert "I started learning Portuguese." in _text(web.get("/app/"))
