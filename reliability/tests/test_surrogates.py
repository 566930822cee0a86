"""Lone surrogates and NUL bytes through JSON escapes and URL encodings, on every operation that reads text.

Schemathesis generates NUL bytes (allow_x00) but cannot put a lone surrogate on the wire as UTF-8; a JSON
``"\\ud800"`` escape is how one really arrives, and PostgreSQL can store neither.
"""

from __future__ import annotations

import pytest

from accounts.models import User
from accounts.services import space_default
from memories.models import Chunk, Memory

pytestmark = pytest.mark.django_db

BAD_STRINGS = ["\\ud800", "\\udfff", "a\\udc00\\ud800b", "\\u0000", "x\\u0000y"]


def _bodies(uid: str) -> dict[str, list[str]]:
    def body(template: str) -> list[str]:
        return [template.replace("BAD", bad).replace("UID", uid) for bad in BAD_STRINGS]

    return {
        "/save-prompt": body('{"user_id": "UID", "prompt": "BAD"}')
        + body('{"prompt": "ok", "provider": "BAD"}')
        + body('{"prompt": "ok", "priority": "BAD"}'),
        "/save-response": body('{"prompt": "BAD", "response": "fine"}') + body('{"prompt": "fine", "response": "BAD"}'),
        "/memories/import": body('{"memories": [{"kind": "prompt", "provider": "chatgpt", "text": "BAD"}]}'),
        "/auth/register": body('{"username": "BAD", "email": "a@example.com", "password": "long-enough-pw-1"}')
        + body('{"username": "neo", "email": "a@example.com", "password": "BAD"}'),
        "/auth/token/": body('{"username": "BAD", "password": "x"}'),
        "/auth/token/refresh/": body('{"refresh": "BAD"}'),
    }


def _assert_refused(response, allowed=(400,)):
    assert response.status_code in allowed, (response.status_code, response.content)
    body = response.json()
    assert body["success"] is False and isinstance(body["error"], str)


def _assert_import_keeps_no_bad_text(response, raw: str) -> None:
    """The one import reader (ijson's C backend) reads a lone high surrogate escape as "?", like a decoder with
    errors="replace"; a lone low one is invalid text and refuses the file (400, nothing kept); a NUL fails its item
    (the import answers 200 and stores nothing of it). Never a 500, never a surrogate or a NUL in the database."""
    if "\\u0000" in raw:
        assert response.status_code == 200, response.content
        assert response.json()["imported"] == 0 and response.json()["failed"] == 1
    elif response.status_code == 400:
        assert "not valid Unicode" in response.json()["error"]
    else:
        assert response.status_code == 200, response.content
        assert response.json()["failed"] == 0


@pytest.mark.parametrize("prefix", ["", "/api/v1"])
def test_it_refuses_lone_surrogates_and_nul_in_every_json_body(alice, alice_client, prefix):
    for path, bodies in _bodies(str(alice.pk)).items():
        for raw in bodies:
            response = alice_client.generic("POST", prefix + path, raw, content_type="application/json")
            if path == "/memories/import":
                _assert_import_keeps_no_bad_text(response, raw)
            else:
                _assert_refused(response, allowed=(400, 401) if path.startswith("/auth/token") else (400,))
    assert not Memory.objects.exclude(text="?").exists() and not Chunk.objects.exclude(text__contains="?").exists()
    assert User.objects.count() == 1


def test_it_refuses_them_in_a_memory_update(alice, alice_client):
    memory = Memory.objects.create(
        user=alice, space=space_default(user=alice), kind="prompt", provider="chatgpt", text="t", content_hash="h"
    )
    for bad in BAD_STRINGS:
        raw = '{"priority": "BAD"}'.replace("BAD", bad)
        _assert_refused(alice_client.generic("PATCH", f"/memories/{memory.pk}", raw, content_type="application/json"))
    memory.refresh_from_db()
    assert memory.priority == 1


@pytest.mark.parametrize("bad", ["%00", "a%00b"])
def test_it_refuses_nul_in_query_strings_and_paths(alice, alice_client, bad):
    uid = str(alice.pk)
    _assert_refused(alice_client.get(f"/context/{uid}?query={bad}"))
    _assert_refused(alice_client.get(f"/context/{uid}?query=ok&top_k={bad}"))
    _assert_refused(alice_client.get(f"/memories/?q={bad}"))
    _assert_refused(alice_client.get(f"/memories/?provider={bad}"))
    _assert_refused(alice_client.get(f"/context/{bad}?query=x"), allowed=(403, 404))
    _assert_refused(alice_client.get(f"/memories/{bad}"), allowed=(404,))


@pytest.mark.parametrize("bad", ["%ED%A0%80", "%FF", "%C0%80"])
def test_it_reads_invalid_utf8_in_urls_as_replacement_characters(alice, alice_client, bad):
    # Django decodes query strings with errors="replace": a surrogate's UTF-8 form is just U+FFFD text here.
    uid = str(alice.pk)
    assert alice_client.get(f"/context/{uid}?query={bad}").json()["count"] == 0
    _assert_refused(alice_client.get(f"/context/{uid}?query=ok&top_k={bad}"))
    _assert_refused(alice_client.get(f"/memories/?provider={bad}"))
    _assert_refused(alice_client.get(f"/context/{bad}?query=x"), allowed=(403,))
    _assert_refused(alice_client.get(f"/memories/{bad}"), allowed=(404,))


def test_an_error_message_quoting_a_lone_surrogate_is_still_the_envelope(alice_client):
    # Regression: "'\ud800' is not a valid choice" could not be encoded as UTF-8 and became a 500.
    raw = '{"prompt": "ok", "priority": "\\ud800"}'
    response = alice_client.generic("POST", "/save-prompt", raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"success": False, "error": 'priority: "\ufffd" is not a valid choice.'}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/save-prompt", {"prompt": 123}, "prompt"),
        ("/save-prompt", {"prompt": "ok", "provider": 1.5}, "provider"),
        ("/save-response", {"prompt": "ok", "response": 0.0}, "response"),
        ("/auth/register", {"username": 0.0, "email": "n@example.com", "password": "long-enough-pw-1"}, "username"),
        ("/auth/register", {"username": "numbers", "email": "n@example.com", "password": 12345678901}, "password"),
    ],
)
def test_it_refuses_numbers_where_the_schema_says_string(alice_client, path, body, field):
    # Regression (schemathesis, negative_data_rejection): DRF's CharField turned 0.0 into the username "0.0".
    response = alice_client.post(path, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"] == f"{field}: Not a valid string."
    assert not Memory.objects.exists() and User.objects.count() == 1
