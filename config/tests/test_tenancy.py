"""Every statement of the hot paths names the person on each per-person table it touches (config/tenancy.py).

On Citus each such statement is then routed to the one shard holding the person; a statement without it would
fan out to every shard. Statements are captured with CaptureQueriesContext (the test's connection) while the
real API, authenticated with a personal access token (the extension's and MCP's way), saves, searches, lists,
deletes, imports and runs each MCP tool; each is parsed with sqlglot (PostgreSQL dialect).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlglot
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from sqlglot import exp

from accounts.models import TokenScope
from accounts.services import access_token_create
from config.tenancy import PER_PERSON_TABLES

pytestmark = pytest.mark.django_db

MCP_HEADERS: dict[str, Any] = {
    "HTTP_ACCEPT": "application/json, text/event-stream",
    "HTTP_MCP_PROTOCOL_VERSION": "2025-11-25",
}
# Statements that name no table of anyone's (transaction control, GUCs set for one transaction).
# (FETCH and CLOSE of a server-side cursor whose DECLARE was checked.)
CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK", "BEGIN", "COMMIT", "SELECT SET_CONFIG(", "FETCH ", "CLOSE ")
# A server-side cursor's query (QuerySet.iterator() without PgBouncer) is checked as the query it declares.
DECLARE = re.compile(r"^\s*DECLARE\s+\S+\s+.*?CURSOR\s+(?:WITH(?:OUT)?\s+HOLD\s+)?FOR\s+", re.IGNORECASE | re.DOTALL)


def parsed(sql: str) -> exp.Expression:
    tree = sqlglot.parse_one(DECLARE.sub("", sql), read="postgres")
    assert not isinstance(tree, exp.Command), f"sqlglot did not parse (so nothing was checked): {sql[:200]}"
    assert isinstance(tree, exp.Expression)
    return tree


def unscoped(sql: str) -> list[str]:
    """The per-person tables ``sql`` touches without comparing their person column with a value."""
    tree = parsed(sql)
    return [
        table.name
        for table in tree.find_all(exp.Table)
        if table.name in PER_PERSON_TABLES and not _names_person(tree, table, PER_PERSON_TABLES[table.name])
    ]


def _names_person(tree: exp.Expression, table: exp.Table, column: str) -> bool:
    if isinstance(table.parent, exp.Schema):  # INSERT INTO t (columns...): the row carries the person
        return column in {c.name for c in table.parent.expressions}
    if isinstance(table.parent, exp.Insert):  # INSERT INTO t without a column list: nothing says whose
        return False
    qualifiers = {table.alias_or_name, table.name, ""}
    return any(
        found.name == column and found.table in qualifiers and _compared(found) for found in tree.find_all(exp.Column)
    )


def _compared(column: exp.Column) -> bool:
    return isinstance(column.parent, (exp.EQ, exp.In)) or column.find_ancestor(exp.Any) is not None


def test_the_checker_tells_scoped_from_unscoped():
    assert unscoped('SELECT * FROM "memories_memory" WHERE "memories_memory"."user_id" = 3') == []
    assert unscoped("SELECT * FROM memories_chunk c WHERE c.user_id IN (3) AND c.id = 9") == []
    assert unscoped("SELECT * FROM memories_chunk c WHERE c.memory_id = 9") == ["memories_chunk"]
    assert unscoped("INSERT INTO memories_chunk (memory_id, user_id) VALUES (1, 2)") == []
    assert unscoped("DELETE FROM memories_chunk WHERE memory_id IN (1, 2)") == ["memories_chunk"]
    declared = 'DECLARE "_django_curs_1" NO SCROLL CURSOR WITH HOLD FOR SELECT * FROM "memories_memory" WHERE id = 1'
    assert unscoped(declared) == ["memories_memory"]
    joined = "SELECT * FROM memories_chunk c JOIN memories_memory m ON m.id = c.memory_id WHERE c.user_id = 1"
    assert unscoped(joined) == ["memories_memory"]


def captured(call: Callable[[], Any]) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = call()
    assert response.status_code < 400, getattr(response, "content", b"")[:300]
    return [q["sql"] for q in queries.captured_queries if not q["sql"].lstrip().upper().startswith(CONTROL)]


def client(user: Any) -> APIClient:
    secret = access_token_create(user=user, name="tenancy", scope=TokenScope.WRITE).secret
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api


def mcp(api: APIClient, tool: str, arguments: dict[str, Any]) -> Any:
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    return api.post("/mcp", json.dumps(message), content_type="application/json", **MCP_HEADERS)


def hot_paths(api: APIClient, user: Any) -> dict[str, Callable[[], Any]]:
    doc = {"memories": [{"kind": "prompt", "provider": "chatgpt", "text": "My bike is a blue Brompton."}]}
    return {
        "save-prompt": lambda: api.post("/save-prompt", {"prompt": "My cat is called Miso."}, format="json"),
        "save-response": lambda: api.post(
            "/save-response", {"prompt": "Tomatoes?", "response": "Water them early, mulch the beds."}, format="json"
        ),
        "context": lambda: api.get(f"/context/{user.pk}", {"query": "what is my cat called?"}),
        "list": lambda: api.get("/memories", {"q": "cat"}),
        "import": lambda: api.post("/memories/import", doc, format="json"),
        "export": lambda: _streamed(api.get("/memories/export")),
        "mcp search_memories": lambda: mcp(api, "search_memories", {"query": "cat"}),
        "mcp save_memory": lambda: mcp(api, "save_memory", {"text": "I run on Sundays."}),
        "mcp recent_memories": lambda: mcp(api, "recent_memories", {}),
    }


def touched(statements: list[str]) -> set[str]:
    return {t.name for sql in statements for t in parsed(sql).find_all(exp.Table)}


def test_it_names_the_person_in_every_hot_path_statement(alice, bob):
    from memories.models import Memory

    api = client(alice)
    client(bob).post("/save-prompt", {"prompt": "Bob's own memory."}, format="json")
    paths = hot_paths(api, alice)
    paths["mcp forget_memory"] = lambda: mcp(api, "forget_memory", {"memory_id": _oldest(alice)})
    paths["delete one"] = lambda: api.delete(f"/memories/{_oldest(alice)}")
    paths["delete all"] = lambda: api.delete("/memories", {"confirm": True}, format="json")
    failures: list[str] = []
    for name, call in paths.items():
        statements = captured(call)
        assert touched(statements) & {"memories_memory", "memories_chunk"}, f"{name} read no memory: not captured?"
        failures += [f"{name}: {tables} in {sql[:300]}" for sql in statements if (tables := unscoped(sql))]
    assert failures == [], "\n".join(failures)
    assert Memory.objects.filter(user=alice).count() == 0
    assert Memory.objects.filter(user=bob).count() == 1


def _streamed(response: Any) -> Any:
    response.content_read = b"".join(response.streaming_content)  # the rows are read as the body streams
    return response


def _oldest(user: Any) -> int:
    from memories.models import Memory

    return Memory.objects.filter(user=user).order_by("id").values_list("id", flat=True)[0]


def test_it_names_the_person_in_an_uploaded_imports_statements(alice, tmp_path, settings):
    """A whole chat history (multipart): the upload request (job and its parts), then the queue's turns for it."""
    settings.MEMORY_IMPORT_MAX_ITEMS = 5  # queued, not imported within the request
    from django.core.files.uploadedfile import SimpleUploadedFile

    from memories.transfer import jobs
    from testkit import run_queued_jobs
    from testkit.chat_exports import write_chatgpt_export

    path = tmp_path / "conversations.json"
    write_chatgpt_export(path, 30)
    api = client(alice)
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    statements = captured(lambda: api.post("/memories/import", {"file": upload}, format="multipart"))
    with CaptureQueriesContext(connection) as queries:
        assert run_queued_jobs(jobs.IMPORT_TASK) >= 2
    statements += [q["sql"] for q in queries.captured_queries if not q["sql"].lstrip().upper().startswith(CONTROL)]

    assert {"memories_importuploadpart", "memories_importjob", "memories_memory"} <= touched(statements)
    failures = [f"{tables} in {sql[:300]}" for sql in statements if (tables := unscoped(sql))]
    assert failures == [], "\n".join(failures)
