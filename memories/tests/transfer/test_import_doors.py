"""One import reader for every door: the API's body, the API's multipart file, /app/'s form and
``manage.py import_memories`` store the same memories and report the same result for every format, whether the
upload is small (imported within the request) or large (kept and imported by the queue's job), and refuse a bad
file with the same message."""

from __future__ import annotations

import html
import io
import json
import zipfile
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from core.exceptions import InvalidInput
from memories.models import Chunk, ImportJob, ImportUploadPart, Memory
from memories.transfer import history, jobs
from memories.transfer.importers import ImportReport, import_candidates
from testkit import run_queued_jobs
from testkit.chat_exports import write_chatgpt_export, write_claude_export

pytestmark = pytest.mark.django_db

DOORS = ["api body", "api file", "app form", "command"]
MEMORY_FIELDS = ("kind", "provider", "prompt", "text", "priority", "pinned", "created_at")
RESULT_FIELDS = ("format", "status", "total", "done", "imported", "duplicates", "skipped", "failed", "errors")
API_FIELDS = {"success", "job_id", "status_url", "filename", "created_at", "started_at", "finished_at", *RESULT_FIELDS}
OURS = [
    {
        "kind": "prompt",
        "provider": "claude",
        "text": "I keep bees on my roof in Utrecht.",
        "created_at": "2025-03-01T08:00:00Z",
    },
    {
        "kind": "response",
        "provider": "gemini",
        "prompt": "Bees in winter?",
        "text": "Leave them their honey.",
        "priority": "high",
        "created_at": "2025-03-01T08:01:00Z",
    },
    {"kind": "prompt", "provider": "myspace", "text": "Not a provider we know."},
    {
        "kind": "prompt",
        "provider": "chatgpt",
        "text": "My cello teacher lives in Ghent.",
        "pinned": True,
        "created_at": "2025-04-02T18:30:00Z",
    },
]


def write_ours_json(path: Path) -> None:
    path.write_text(json.dumps({"format": "memorylayer.export", "version": 1, "memories": OURS}), encoding="utf-8")


def write_ours_ndjson(path: Path) -> None:
    path.write_text("".join(json.dumps(item) + "\n" for item in OURS), encoding="utf-8")


# name: (file name, writer, format reported, memories in the file, of which invalid)
FORMATS = {
    "chatgpt json": ("conversations.json", lambda p: write_chatgpt_export(p, 40, seed=5), "chatgpt", 40, 0),
    "chatgpt zip": ("export.zip", lambda p: write_chatgpt_export(p, 40, seed=5, zipped=True), "chatgpt", 40, 0),
    "claude": ("conversations.json", lambda p: write_claude_export(p, 40, seed=5), "claude", 40, 0),
    "ours json": ("memories.json", write_ours_json, "memorylayer.export", 4, 1),
    "ours ndjson": ("memories.ndjson", write_ours_ndjson, "memorylayer.export", 4, 1),
}
CONTENT_TYPES = {".json": "application/json", ".ndjson": "application/x-ndjson", ".zip": "application/zip"}


def stored(user) -> list[tuple]:
    return sorted(Memory.objects.filter(user=user).values_list(*MEMORY_FIELDS))


def result_of(job: ImportJob) -> dict:
    job.refresh_from_db()
    return {name: getattr(job, name) for name in RESULT_FIELDS}


def reader_reference(user, path: Path) -> None:
    """What the one reader and the importer store, called directly, without any door."""
    found = history.open_history(path)
    import_candidates(
        user=user, found=history.iter_candidates(found), report=ImportReport(format=found.format), embed_now=False
    )


def through(door: str, path: Path, alice, alice_client) -> ImportJob:
    """Import ``path`` for alice through ``door`` and run what it queued; the ImportJob that records it."""
    if door == "command":
        call_command("import_memories", "alice", str(path), stdout=StringIO())
        return ImportJob.objects.get(user=alice)
    if door == "app form":
        web = Client()
        web.force_login(alice)
        with path.open("rb") as upload:
            response = web.post("/app/import", {"file": upload})
        assert response.status_code == 302, response.content
    else:
        if door == "api body":
            response = alice_client.post("/memories/import", path.read_bytes(), content_type=CONTENT_TYPES[path.suffix])
        else:
            multipart = SimpleUploadedFile(path.name, path.read_bytes())
            response = alice_client.post("/memories/import", {"file": multipart}, format="multipart")
        assert response.status_code in (200, 202), response.content
        body = response.json()
        assert set(body) == API_FIELDS and body["success"] is True
        if response.status_code == 200:
            assert body["status"] == "done" and body == alice_client.get(body["status_url"]).json() | {"success": True}
    job = ImportJob.objects.get(user=alice)
    queued = job.status == "queued"
    assert (run_queued_jobs(jobs.IMPORT_TASK) > 0) == queued  # the job's turns, or nothing
    if door.startswith("api"):
        after = alice_client.get(f"/memories/import/{job.pk}").json()
        assert set(after) == API_FIELDS and {k: after[k] for k in RESULT_FIELDS} == result_of(job)
    return job


@pytest.mark.parametrize("size", ["small", "large"])
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("door", DOORS)
def test_it_stores_the_same_memories_and_reports_the_same_result_at_every_door(
    door, fmt, size, alice, alice_client, bob, tmp_path, settings
):
    name, write, format_name, total, invalid = FORMATS[fmt]
    path = tmp_path / name
    write(path)
    reader_reference(bob, path)
    if size == "large":
        settings.MEMORY_IMPORT_MAX_BYTES = 100  # past it, every door but the command hands the file to the worker

    job = through(door, path, alice, alice_client)

    result = result_of(job)
    errors = result.pop("errors")
    assert result == {
        "format": format_name,
        "status": "done",
        "total": total,
        "done": total,
        "imported": total - invalid,
        "duplicates": 0,
        "skipped": 0,
        "failed": invalid,
    }
    assert len(errors) == invalid and all("myspace" in error["reason"] for error in errors)
    assert stored(alice) == stored(bob) and len(stored(alice)) == total - invalid
    assert not Chunk.objects.filter(user=alice, embedding__isnull=True).exists()  # searchable by meaning
    assert not ImportUploadPart.objects.exists()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return buffer.getvalue()


BAD = {
    "not json": b"Dear diary, today I",
    "empty": b"",
    "empty list": b"[]",
    "unknown object": b'{"hello": "world"}',
    "list of numbers": b"[1, 2, 3]",
    "not utf-8": '["é"]'.encode("latin-1"),
    "zip without conversations": _zip({"chat.html": b"<html></html>"}),
    "broken claude": json.dumps([{"name": "ok", "chat_messages": []}, {"name": "no messages"}]).encode(),
}


def refused_through(door: str, path: Path, alice_client, web: Client) -> tuple[int, str]:
    """The status and message a door answers a bad file with (the command's status is its error alone)."""
    if door == "command":
        with pytest.raises(CommandError) as caught:
            call_command("import_memories", "alice", str(path), stdout=StringIO())
        return 400, str(caught.value)
    if door == "app form":
        with path.open("rb") as upload:
            response = web.post("/app/import", {"file": upload})
        return response.status_code, response.content.decode()
    if door == "api body":
        response = alice_client.post("/memories/import", path.read_bytes(), content_type="application/json")
    else:
        multipart = SimpleUploadedFile(path.name, path.read_bytes())
        response = alice_client.post("/memories/import", {"file": multipart}, format="multipart")
    assert response.json()["success"] is False
    return response.status_code, response.json()["error"]


@pytest.mark.parametrize("bad", list(BAD))
@pytest.mark.parametrize("door", DOORS)
def test_it_refuses_a_bad_file_with_the_same_message_at_every_door_and_keeps_nothing(
    door, bad, alice, alice_client, tmp_path
):
    path = tmp_path / "upload.json"
    path.write_bytes(BAD[bad])
    with pytest.raises(InvalidInput) as reader:
        history.count_candidates(history.open_history(path))
    web = Client()
    web.force_login(alice)

    code, message = refused_through(door, path, alice_client, web)

    assert code == 400
    expected = reader.value.message
    assert (html.escape(expected) in message) if door == "app form" else (message == expected), (expected, message)
    assert not Memory.objects.exists() and not ImportJob.objects.exists() and not ImportUploadPart.objects.exists()


@pytest.mark.parametrize("door", ["api body", "api file", "app form"])
def test_it_refuses_a_file_over_the_size_limit_alike_at_every_request_door(
    door, alice, alice_client, tmp_path, settings
):
    settings.MEMORY_IMPORT_MAX_FILE_BYTES = 50
    path = tmp_path / "memories.ndjson"
    write_ours_ndjson(path)

    web = Client()
    web.force_login(alice)

    code, message = refused_through(door, path, alice_client, web)

    assert code == 413
    assert (
        html.escape(jobs.file_too_big_message()) in message
        if door == "app form"
        else message == jobs.file_too_big_message()
    )
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("door", ["api body", "api file", "app form"])
def test_it_fails_the_job_of_a_large_broken_file_with_the_message_a_small_one_is_refused_with(
    door, alice, alice_client, tmp_path, settings
):
    path = tmp_path / "conversations.json"
    write_chatgpt_export(path, 60, seed=2)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidInput) as reader:
        history.count_candidates(history.open_history(path))
    settings.MEMORY_IMPORT_MAX_BYTES = 100
    web = Client()
    web.force_login(alice)

    if door == "app form":
        with path.open("rb") as upload:
            assert web.post("/app/import", {"file": upload}).status_code == 302
    elif door == "api body":
        assert (
            alice_client.post("/memories/import", path.read_bytes(), content_type="application/json").status_code == 202
        )
    else:
        upload = SimpleUploadedFile(path.name, path.read_bytes())
        assert alice_client.post("/memories/import", {"file": upload}, format="multipart").status_code == 202
    run_queued_jobs(jobs.IMPORT_TASK)

    job = ImportJob.objects.get(user=alice)
    assert job.status == "failed" and job.errors == [
        {"item": "file", "status": "failed", "reason": reader.value.message}
    ]
    assert not Memory.objects.exists() and not ImportUploadPart.objects.exists()
