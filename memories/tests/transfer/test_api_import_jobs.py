"""POST /memories/import with a whole chat history (multipart file): 202, the job run, its status for its owner."""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from accounts.models import DailyUsage
from memories.models import Chunk, ImportJob, ImportUploadPart, Memory
from memories.transfer import jobs
from testkit import assert_error, client_for, run_queued_jobs
from testkit.chat_exports import write_chatgpt_export, write_claude_export

pytestmark = pytest.mark.django_db


def upload(path: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes())


def queued_jobs() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s", [jobs.IMPORT_TASK])
        return int(cursor.fetchone()[0])


def requests_today(user) -> int:
    return sum(DailyUsage.objects.filter(user=user).values_list("count", flat=True))


def test_it_queues_a_chatgpt_export_zip_then_imports_it_searchable_with_its_times(alice, alice_client, tmp_path):
    path = tmp_path / "chatgpt.zip"
    size = write_chatgpt_export(path, 600, zipped=True)
    assert size > 100_000, size
    before = requests_today(alice)

    response = alice_client.post("/memories/import", {"file": upload(path)}, format="multipart")

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["status_url"] == f"/memories/import/{body['job_id']}"
    assert requests_today(alice) == before + 1  # one request, whatever the file holds
    assert alice_client.get(body["status_url"]).json()["status"] == "queued"
    assert requests_today(alice) == before + 1  # following the job costs nothing

    assert run_queued_jobs(jobs.IMPORT_TASK) == 1 + math.ceil(600 / settings.MEMORY_IMPORT_SLICE_ITEMS)  # count, slices

    status = alice_client.get(body["status_url"]).json()
    assert (status["status"], status["format"], status["total"], status["done"]) == ("done", "chatgpt", 600, 600)
    assert (status["imported"], status["duplicates"], status["failed"], status["errors"]) == (600, 0, 0, [])
    assert Memory.objects.filter(user=alice).count() == 600
    assert not Chunk.objects.filter(user=alice, embedding__isnull=True).exists()  # done means searchable
    assert not ImportUploadPart.objects.exists()  # the file is not kept
    answer = Memory.objects.filter(user=alice, kind="response").earliest("created_at")
    assert answer.provider == "chatgpt" and answer.prompt and answer.created_at.year >= 2023
    probe = Memory.objects.filter(user=alice, kind="prompt").order_by("created_at")[100]
    contexts = alice_client.get(f"/context/{alice.pk}", {"query": probe.text}).json()["contexts"]
    assert any(probe.text in c for c in contexts), (probe.text, contexts)


@pytest.mark.slow
def test_it_imports_a_multi_megabyte_chatgpt_export_whole(alice, alice_client, tmp_path):
    path = tmp_path / "conversations.json"
    assert write_chatgpt_export(path, 3000) > 2_500_000

    status_url = alice_client.post("/memories/import", {"file": upload(path)}, format="multipart").json()["status_url"]
    run_queued_jobs(jobs.IMPORT_TASK)

    body = alice_client.get(status_url).json()
    assert (body["status"], body["total"], body["done"], body["imported"]) == ("done", 3000, 3000, 3000)
    assert not Chunk.objects.filter(user=alice, embedding__isnull=True).exists()


def test_it_stores_nothing_new_when_the_same_file_is_imported_again(alice, alice_client, tmp_path):
    path = tmp_path / "conversations.json"
    write_chatgpt_export(path, 120)
    for _ in range(2):
        alice_client.post("/memories/import", {"file": upload(path)}, format="multipart")
    run_queued_jobs(jobs.IMPORT_TASK)

    first, again = ImportJob.objects.order_by("created_at")
    assert (first.imported, again.imported, again.duplicates) == (120, 0, 120)
    assert Memory.objects.filter(user=alice).count() == 120


def test_it_keeps_a_claude_exports_provider_pairs_and_reports_progress(alice, alice_client, tmp_path, monkeypatch):
    path = tmp_path / "conversations.json"
    write_claude_export(path, 150)
    seen: list[tuple[str, int, int]] = []
    record = jobs._record

    def recording(job, report):
        record(job, report)
        job.refresh_from_db()
        seen.append((job.status, job.done, job.total))

    monkeypatch.setattr(jobs, "_record", recording)
    status_url = alice_client.post("/memories/import", {"file": upload(path)}, format="multipart").json()["status_url"]
    run_queued_jobs(jobs.IMPORT_TASK)

    assert [done for _, done, _ in seen] == [64, 128, 150]  # after every batch
    assert all(status == "running" and total == 150 for status, _, total in seen)
    body = alice_client.get(status_url).json()
    assert (body["status"], body["format"], body["imported"]) == ("done", "claude", 150)
    answers = Memory.objects.filter(user=alice, kind="response")
    assert answers.exists() and all(m.provider == "claude" and m.prompt for m in answers)


def test_it_answers_404_for_another_persons_job_like_one_that_never_existed(alice_client, bob, tmp_path):
    path = tmp_path / "conversations.json"
    write_chatgpt_export(path, 10)
    status_url = alice_client.post("/memories/import", {"file": upload(path)}, format="multipart").json()["status_url"]

    bob_client = client_for(bob)
    assert_error(bob_client.get(status_url), 404, "no such import")
    assert_error(bob_client.get("/memories/import/00000000-0000-0000-0000-000000000000"), 404, "no such import")
    assert_error(bob_client.get("/memories/import/not-a-uuid"), 404, "no such import")
    assert alice_client.get(status_url).status_code == 200


def test_it_needs_a_token_for_the_status_and_takes_only_get(anon_client, alice_client, tmp_path):
    path = tmp_path / "conversations.json"
    write_chatgpt_export(path, 10)
    status_url = alice_client.post("/memories/import", {"file": upload(path)}, format="multipart").json()["status_url"]

    assert anon_client.get(status_url).status_code == 401
    assert_error(alice_client.delete(status_url), 405, "not allowed")
    assert anon_client.post("/memories/import", {"file": upload(path)}, format="multipart").status_code == 401


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "code", "fragment"),
    [
        ("notes.txt", b"Dear diary, today I", 400, "not json"),
        ("data.json", b"42", 400, ""),
        ("data.json", json.dumps([1, 2, 3]).encode(), 400, ""),
        ("export.zip", _zip({"chat.html": b"<html></html>"}), 400, "no conversations.json"),
        ("empty.json", b"", 400, ""),
    ],
)
def test_it_refuses_a_bad_file_at_once_and_keeps_nothing(alice, alice_client, name, content, code, fragment):
    response = alice_client.post("/memories/import", {"file": SimpleUploadedFile(name, content)}, format="multipart")

    assert_error(response, code, fragment)
    assert not ImportJob.objects.exists() and not ImportUploadPart.objects.exists()
    assert not Memory.objects.exists() and queued_jobs() == 0


@override_settings(MEMORY_IMPORT_MAX_UNCOMPRESSED_BYTES=10 * 1024 * 1024)
def test_it_refuses_a_zip_bomb_with_413(alice_client):
    bomb = _zip({"conversations.json": b"[" + b" " * (40 * 1024 * 1024) + b"]"})
    assert len(bomb) < 100_000

    response = alice_client.post(
        "/memories/import", {"file": SimpleUploadedFile("export.zip", bomb)}, format="multipart"
    )

    assert_error(response, 413, "")
    assert not ImportJob.objects.exists() and queued_jobs() == 0


def test_it_fails_the_job_of_a_file_broken_half_way_before_storing_anything(alice, alice_client, tmp_path, settings):
    settings.MEMORY_IMPORT_MAX_BYTES = 1000  # a larger file goes to the worker, which reads it whole first
    path = tmp_path / "conversations.json"
    write_chatgpt_export(path, 200)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # cut mid-conversation: the start still looks right

    status_url = alice_client.post("/memories/import", {"file": upload(path)}, format="multipart").json()["status_url"]
    run_queued_jobs(jobs.IMPORT_TASK)

    body = alice_client.get(status_url).json()
    assert body["status"] == "failed" and body["errors"][0]["item"] == "file"
    assert not Memory.objects.exists() and not ImportUploadPart.objects.exists()


def test_it_refuses_an_import_with_a_read_only_token(alice, tmp_path):
    from accounts.services import access_token_create

    token = access_token_create(user=alice, name="reader", scope="read").secret
    path = tmp_path / "conversations.json"
    write_chatgpt_export(path, 5)
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = client.post("/memories/import", {"file": upload(path)}, format="multipart")

    assert response.status_code == 403
    assert not ImportJob.objects.exists()
