"""Every documented cap, at the cap and one past it, with the values the settings really hold.

docs/reliability.md ("Limits") lists these; the text-length cap (50,000 characters at cap and cap + 1) is tested in
memories/tests/api/test_api_save.py, and top_k's bounds in memories/tests/api/test_api_context.py as well.
"""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from accounts.services import space_default
from memories.api.idempotency import MAX_KEY_LENGTH
from memories.models import Memory
from memories.transfer.importers import MAX_REPORTED_PROBLEMS
from testkit import assert_error, run_queued_jobs

pytestmark = pytest.mark.django_db


def padded(document: object, size: int) -> str:
    """``document`` as JSON, padded with trailing whitespace (valid JSON) to exactly ``size`` bytes."""
    text = json.dumps(document)
    assert len(text.encode()) <= size
    return text + " " * (size - len(text.encode()))


def test_the_body_size_cap(alice_client):
    cap = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    at_cap = padded({"prompt": "The body is exactly at the cap."}, cap)
    assert alice_client.generic("POST", "/save-prompt", at_cap, content_type="application/json").status_code == 201

    over = padded({"prompt": "One byte more."}, cap + 1)
    response = alice_client.generic("POST", "/save-prompt", over, content_type="application/json")
    assert_error(response, 413, f"the limit is {cap} bytes")
    assert Memory.objects.count() == 1


def test_the_text_cap_refuses_either_field_of_an_answer_past_it(alice_client):
    cap = settings.MEMORY_MAX_TEXT_CHARS
    too_long = "a" * (cap + 1)
    assert_error(
        alice_client.post("/save-response", {"prompt": too_long, "response": "ok"}, format="json"), 400, str(cap)
    )
    assert_error(
        alice_client.post("/save-response", {"prompt": "ok", "response": too_long}, format="json"), 400, str(cap)
    )
    assert not Memory.objects.exists()


def test_the_query_cap_on_context_and_on_the_memory_search(alice, alice_client):
    cap = settings.MEMORY_MAX_QUERY_CHARS
    at_cap, over = "q" * cap, "q" * (cap + 1)
    assert alice_client.get(f"/context/{alice.pk}", {"query": at_cap}).status_code == 200
    assert_error(alice_client.get(f"/context/{alice.pk}", {"query": over}), 400, f"no more than {cap}")
    assert alice_client.get("/memories/", {"q": at_cap}).status_code == 200
    assert_error(alice_client.get("/memories/", {"q": over}), 400, f"no more than {cap}")


def test_the_top_k_bounds(alice, alice_client):
    cap = settings.CONTEXT_TOP_K_MAX
    for ok in (1, cap):
        assert alice_client.get(f"/context/{alice.pk}", {"query": "x", "top_k": ok}).status_code == 200
    for bad in (0, cap + 1):
        assert_error(alice_client.get(f"/context/{alice.pk}", {"query": "x", "top_k": bad}), 400, "top_k")


def test_the_page_size_cap_clamps_and_a_bad_page_size_is_refused(alice, alice_client):
    cap = settings.MEMORY_LIST_MAX_PAGE_SIZE
    space = space_default(user=alice)
    Memory.objects.bulk_create(
        Memory(user=alice, space=space, kind="prompt", provider="chatgpt", text=f"memory {i}", content_hash=f"{i:064x}")
        for i in range(cap + 1)
    )
    at_cap = alice_client.get("/memories/", {"page_size": cap}).json()
    assert len(at_cap["results"]) == cap and at_cap["count"] == cap + 1 and at_cap["next"]
    over = alice_client.get("/memories/", {"page_size": cap + 1}).json()
    assert len(over["results"]) == cap  # documented: above the maximum, the maximum applies
    assert len(alice_client.get("/memories/", {"page": 2, "page_size": cap}).json()["results"]) == 1
    for bad in ("0", "-1", "abc", "1.5", "null"):
        assert_error(alice_client.get("/memories/", {"page_size": bad}), 400, "page_size: must be a positive integer")
    for bad_page in ("3", "0", "abc", ""):  # "" (schemathesis): once read as page 1
        assert_error(alice_client.get("/memories/", {"page": bad_page, "page_size": cap}), 404, "invalid page")


def test_the_import_request_caps_decide_between_finishing_now_and_queuing(alice_client):
    """Up to MEMORY_IMPORT_MAX_BYTES an import finishes in the request (200); one byte more is kept and imported
    by the worker (202, the same answer's shape, docs/imports.md); nothing is stored before the worker runs."""
    cap = settings.MEMORY_IMPORT_MAX_BYTES
    document = {"memories": [{"kind": "prompt", "provider": "claude", "text": "An import exactly at the cap."}]}
    at_cap = alice_client.generic("POST", "/memories/import", padded(document, cap), content_type="application/json")
    assert at_cap.status_code == 200 and at_cap.json()["imported"] == 1

    other = {"memories": [{"kind": "prompt", "provider": "claude", "text": "An import one byte past the cap."}]}
    over = alice_client.generic("POST", "/memories/import", padded(other, cap + 1), content_type="application/json")
    assert over.status_code == 202 and over.json()["status"] == "queued"
    assert Memory.objects.count() == 1
    run_queued_jobs()
    assert alice_client.get(over.json()["status_url"]).json()["imported"] == 1
    assert Memory.objects.count() == 2


def test_the_import_file_cap(alice_client, settings):
    settings.MEMORY_IMPORT_MAX_FILE_BYTES = 4096
    document = {"memories": [{"kind": "prompt", "provider": "claude", "text": "An import past the file cap."}]}
    over = alice_client.generic("POST", "/memories/import", padded(document, 4097), content_type="application/json")
    assert_error(over, 413, "the limit is 4096 bytes")
    assert not Memory.objects.exists()


@pytest.mark.slow
def test_the_import_item_cap(alice_client):
    cap = settings.MEMORY_IMPORT_MAX_ITEMS
    items = [{"kind": "prompt", "provider": "claude", "text": f"Imported fact number {i}."} for i in range(cap + 1)]

    at_cap = alice_client.post("/memories/import", items[:cap], format="json")
    assert at_cap.status_code == 200 and at_cap.json()["imported"] == cap
    over = alice_client.post("/memories/import", items, format="json")
    assert over.status_code == 202 and Memory.objects.count() == cap  # past the cap: the worker's turns
    run_queued_jobs()
    status = alice_client.get(over.json()["status_url"]).json()
    assert status["imported"] == 1 and status["duplicates"] == cap
    assert Memory.objects.count() == cap + 1


def test_the_import_report_lists_at_most_the_cap_of_errors(alice_client):
    bad = {"kind": "prompt", "provider": "not-a-provider", "text": "x"}
    at_cap = alice_client.post("/memories/import", [bad] * MAX_REPORTED_PROBLEMS, format="json").json()
    assert at_cap["failed"] == MAX_REPORTED_PROBLEMS and len(at_cap["errors"]) == MAX_REPORTED_PROBLEMS
    over = alice_client.post("/memories/import", [bad] * (MAX_REPORTED_PROBLEMS + 1), format="json").json()
    assert over["failed"] == MAX_REPORTED_PROBLEMS + 1 and len(over["errors"]) == MAX_REPORTED_PROBLEMS


def test_the_idempotency_key_length_cap(alice_client):
    at_cap = alice_client.post(
        "/save-prompt", {"prompt": "keyed"}, format="json", HTTP_IDEMPOTENCY_KEY="k" * MAX_KEY_LENGTH
    )
    assert at_cap.status_code == 201
    over = alice_client.post(
        "/save-prompt", {"prompt": "keyed too"}, format="json", HTTP_IDEMPOTENCY_KEY="k" * (MAX_KEY_LENGTH + 1)
    )
    assert_error(over, 400, f"1 to {MAX_KEY_LENGTH} printable ASCII")


@pytest.mark.parametrize(("field", "cap"), [("username", 150), ("password", 128), ("email", 254)])
def test_the_registration_field_caps(client, field, cap):
    def body(length: int) -> dict[str, str]:
        good = {"username": "capped", "email": "capped@example.com", "password": "a-long-enough-pass-1"}
        if field == "email":  # a 64-character local part and 61-character labels: valid, and exactly ``length``
            domain = ".".join(["d" * 61] * 3) + ".com"
            good["email"] = "e" * (length - len(domain) - 1) + "@" + domain
        elif field == "password":
            good["password"] = ("Pw-9-" * 40)[:length]
        else:
            good["username"] = "u" * length
        return good

    assert_error(client.post("/auth/register", body(cap + 1), content_type="application/json"), 400, field)
    response = client.post("/auth/register", body(cap), content_type="application/json")
    assert response.status_code == 201, response.content


def test_the_request_id_cap(client):
    assert client.get("/health", HTTP_X_REQUEST_ID="r" * 64).headers["X-Request-ID"] == "r" * 64
    assert client.get("/health", HTTP_X_REQUEST_ID="r" * 65).headers["X-Request-ID"] != "r" * 65
