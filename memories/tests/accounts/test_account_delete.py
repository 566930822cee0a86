"""memories.services.account_delete: a person's account goes, with every row and file that holds them.

The proof is not a list of tables: after the deletion every text, JSON, UUID, array, tsvector and bytea column of
every table in the database is searched (information_schema) for the person's id and for a marker string that was
in everything they stored; sessions are decoded. Bob's rows are counted the same way before and after.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, models
from django.test import Client
from django.test.utils import isolate_apps
from procrastinate.contrib.django import app as queue
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts import services as account_services
from accounts.models import AccountDeletion, User
from memories import services
from memories.models import Chunk, ImportJob, ReembedRun, SearchIndexSnapshot
from memories.search import indexing, search_index
from memories.tests.factories import save
from memories.transfer import jobs
from testkit import client_for, make_user
from testkit import oauth as oauth_dance

pytestmark = pytest.mark.django_db


def chatgpt_history(marker: str) -> bytes:
    def node(node_id: str, parent: str | None, role: str | None, text: str) -> dict:
        message = {"id": node_id, "author": {"role": role}, "content": {"content_type": "text", "parts": [text]}}
        return {"id": node_id, "message": message if role else None, "parent": parent, "children": []}

    mapping = {
        "root": node("root", None, None, ""),
        "u1": node("u1", "root", "user", f"My {marker} bicycle is blue."),
        "a1": node("a1", "u1", "assistant", f"Noted: your {marker} bicycle is blue."),
    }
    return json.dumps(
        [{"title": marker, "create_time": 1717000000.0, "current_node": "a1", "mapping": mapping}]
    ).encode()


def person_everywhere(name: str, marker: str) -> tuple[User, list[str]]:
    """A person with a row in every table a person can reach: memories, chunks (vectors, keyword index), an
    idempotency key, an import with its upload and queue job, a queued re-embed, settings, a personal access
    token, the extension's refresh tokens (one signed out), usage and activity, a web session, an admin log line,
    an app connected through OAuth.
    Returns the user and the strings that must not survive them (id, marker, token ids)."""
    user = make_user(f"{name}-{marker}")  # the marker is in the user name and the e-mail address
    save(user, f"I keep my {marker} bees on the roof.", provider="claude")
    api = client_for(user)
    assert (
        api.post(
            "/save-prompt",
            {"prompt": f"The {marker} hive swarmed.", "provider": "claude"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"key-{marker}",
        ).status_code
        == 201
    )
    assert api.get(f"/context/{user.pk}", {"query": "bees"}).status_code == 200  # usage and activity rows
    jobs.import_job_create(
        user=user, upload=SimpleUploadedFile("conversations.json", chatgpt_history(marker), "application/json")
    )
    queue.configure_task("memories.reembed").defer(batch_size=10, user_id=str(user.pk), restart=False)
    account_services.preferences_update(user=user, changes={"excluded_phrases": [f"{marker} secret"]})
    account_services.access_token_create(user=user, name=f"script {marker}", scope="write")
    tokens = [
        Client()
        .post(
            "/auth/token/",
            {"username": user.username, "password": f"pw-{user.username}"},
            content_type="application/json",
        )
        .json()
        for _ in range(2)
    ]
    assert (
        Client()
        .post("/auth/token/blacklist/", {"refresh": tokens[1]["refresh"]}, content_type="application/json")
        .status_code
        == 200
    )
    browser = Client(HTTP_USER_AGENT=f"Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0 {marker}")
    assert browser.post("/app/login/", {"login": user.username, "password": f"pw-{user.username}"}).status_code == 302
    assert browser.get("/app/").status_code == 200
    oauth_dance.connect(Client(), browser, name="Claude")  # a connected app: consent, access and refresh tokens
    LogEntry.objects.create(
        user=make_user(f"staff-of-{name}", is_staff=True),
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(user.pk),
        object_repr=user.username,
        action_flag=CHANGE,
        change_message="[]",
    )
    jtis = list(OutstandingToken.objects.filter(user=user).values_list("jti", flat=True))
    return user, [str(user.pk), user.pk.hex, marker, *jtis, *(t["refresh"] for t in tokens)]


def _searchable_columns() -> list[tuple[str, str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns c"
            " JOIN information_schema.tables t USING (table_schema, table_name)"
            " WHERE t.table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')"
            " AND (c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'uuid', 'tsvector',"
            "      'bytea', 'ARRAY'))"
        )
        return cursor.fetchall()


def rows_holding(needles: list[str]) -> dict[str, int]:
    """'table.column' -> rows whose value, as text, contains one of ``needles`` (or their UTF-8 bytes, for bytea)."""
    patterns = [f"%{n}%" for n in needles] + [f"%{n.encode().hex()}%" for n in needles]
    found = {}
    with connection.cursor() as cursor:
        for schema, table, column in _searchable_columns():
            cursor.execute(
                f'SELECT count(*) FROM "{schema}"."{table}" WHERE "{column}"::text ILIKE ANY(%s)',
                [patterns],
            )
            count = cursor.fetchone()[0]
            if count:
                found[f"{table}.{column}"] = count
    return found


def sessions_of(user_id: str) -> int:
    return sum(1 for s in Session.objects.all() if str(s.get_decoded().get("_auth_user_id")) == user_id)


@pytest.fixture
def two_people(db):
    alice, alice_needles = person_everywhere("alice", "zqxalicemarker")
    bob, bob_needles = person_everywhere("bob", "zqxbobmarker")
    return alice, alice_needles, bob, bob_needles


def test_it_leaves_no_row_holding_the_person_and_every_row_of_bob(
    two_people, settings, faiss_backend, tmp_path, django_capture_on_commit_callbacks
):
    alice, needles, bob, bob_needles = two_people
    settings.FAISS_INDEX_STORE = "database"
    indexing.chunks_reembed(user_id=alice.pk, batch_size=64)  # leaves a progress row naming alice
    indexing.index_rebuild(path=tmp_path / "cron" / "chunks.index")
    assert indexing.index_fetch().outcome == "fetched"
    before = rows_holding(needles)
    bobs_before = rows_holding(bob_needles)
    # every kind of row the person was given is really there, so the search below can see them go
    for table in (
        "memories_memory",
        "memories_chunk",
        "memories_idempotencykey",
        "memories_importuploadpart",
        "procrastinate_jobs",
        "accounts_preferences",
        "accounts_personalaccesstoken",
        "token_blacklist_outstandingtoken",
        "accounts_websession",
        "django_admin_log",
        "memories_searchindexsnapshot",
        "accounts_dailyusage",
        "dashboard_useractivity",
        "accounts_appconnection",
        "oauth2_provider_accesstoken",
        "oauth2_provider_refreshtoken",
    ):
        assert any(key.startswith(f"{table}.") for key in before), table
    assert sessions_of(str(alice.pk)) == 1

    with django_capture_on_commit_callbacks(execute=True):
        deletion = services.account_delete(user=alice, via="web")

    assert rows_holding(needles) == {}
    assert sessions_of(str(alice.pk)) == 0
    assert rows_holding(bob_needles) == bobs_before
    assert sessions_of(str(bob.pk)) == 1 and User.objects.filter(pk=bob.pk).exists()
    # the audit row: when, and a reference nobody can turn back into the person
    assert AccountDeletion.objects.get() == deletion
    assert (deletion.via, deletion.user_ref) == ("web", services.account_user_ref(alice.pk))
    assert str(alice.pk) not in json.dumps([deletion.user_ref, deletion.via])
    # this instance's index file and the re-embed progress no longer name her; bob is still found by FAISS
    meta = search_index.read_sidecar()
    assert str(alice.pk) not in meta["users"] and str(bob.pk) in meta["users"]
    assert not ReembedRun.objects.filter(scope=str(alice.pk)).exists()
    index = search_index.load()
    start, end = index.ranges[str(bob.pk)]
    assert index.flat.ntotal == meta["rows"] and end - start == index.user_rows(bob.pk) > 0
    bob_chunk_ids = set(index.chunk_ids[start:end].tolist())
    assert bob_chunk_ids == set(Chunk.objects.filter(user=bob).values_list("pk", flat=True))
    snapshot = SearchIndexSnapshot.objects.order_by("-id").first()
    assert snapshot is not None and str(alice.pk) not in snapshot.sidecar["users"]
    assert str(bob.pk) in snapshot.sidecar["users"]


def test_faiss_still_finds_bobs_chunks_after_alice_is_gone(
    two_people, faiss_backend, django_capture_on_commit_callbacks
):
    alice, _, bob, _ = two_people
    indexing.index_rebuild()
    with django_capture_on_commit_callbacks(execute=True):
        services.account_delete(user=alice, via="api")

    index = search_index.load()
    for chunk in Chunk.objects.filter(user=bob):
        assert index.search(bob.pk, np.asarray(chunk.embedding), 1)[0][0] == chunk.pk
    assert index.search(alice.pk, np.asarray(chunk.embedding), 5) == []
    assert client_for(bob).get(f"/context/{bob.pk}", {"query": "bees on the roof"}).status_code == 200


def test_a_failure_midway_deletes_nothing(two_people, monkeypatch):
    alice, needles, _, _ = two_people
    before = rows_holding(needles)

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(indexing, "index_snapshots_forget_user", broken)
    with pytest.raises(RuntimeError):
        services.account_delete(user=alice, via="web")

    assert rows_holding(needles) == before and not AccountDeletion.objects.exists()


def test_a_running_job_is_asked_to_abort_rather_than_deleted_under_its_worker(alice):
    jobs.import_job_create(
        user=alice, upload=SimpleUploadedFile("c.json", chatgpt_history("zqxrunning"), "application/json")
    )
    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_jobs SET status = 'doing' WHERE task_name = %s", [jobs.IMPORT_TASK])

    services.account_delete(user=alice, via="web")

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status, abort_requested FROM procrastinate_jobs WHERE task_name = %s", [jobs.IMPORT_TASK]
        )
        assert cursor.fetchall() == [("doing", True)]
    assert not ImportJob.objects.exists()


# --- The model walk: a new model that holds a person must be covered ---------------------------------------


def test_every_installed_model_that_holds_a_person_is_covered_by_the_deletion():
    """Every model of every installed app (procrastinate, sessions, simplejwt's blacklist, allauth's e-mail
    addresses and authenticators once installed...): a foreign key to the user is deleted whatever its on_delete,
    a key further down the chain must CASCADE, a person-id column without a key must be handled explicitly."""
    assert services.user_data_uncovered() == []
    holding = {f.model._meta.label for f in services.user_foreign_keys()}
    assert {"memories.Memory", "token_blacklist.OutstandingToken", "accounts.WebSession"} <= holding


@isolate_apps("memories")
def test_the_walk_fails_for_a_model_it_would_miss():
    class Notebook(models.Model):  # noqa: DJ008
        user = models.ForeignKey(User, on_delete=models.SET_NULL, null=True)

    class Page(models.Model):  # noqa: DJ008
        notebook = models.ForeignKey(Notebook, on_delete=models.SET_NULL, null=True)

    class Audit(models.Model):  # noqa: DJ008
        owner_id = models.UUIDField()

    class Harmless(models.Model):  # noqa: DJ008
        notebook = models.ForeignKey(Notebook, on_delete=models.CASCADE)

    problems = services.user_data_uncovered([User, Notebook, Page, Audit, Harmless])

    assert len(problems) == 2, problems
    assert "memories.Page.notebook" in problems[0] and "memories.Audit.owner_id" in problems[1]
