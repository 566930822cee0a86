"""The per-request diet: the SQL statements each hot path makes, pinned with CaptureQueriesContext.

Counted as PostgreSQL sees them in production: inside the test's transaction a ``transaction.atomic`` block is a
SAVEPOINT/RELEASE pair where production sends BEGIN/COMMIT, so those count too. Request metrics are buffered per
process (dashboard.services.MetricsBuffer) and written every METRICS_FLUSH_SECONDS, not per request; their one
flush statement is pinned in dashboard/tests/test_metrics.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from memories.tests.factories import save
from testkit import client_for, make_user

pytestmark = pytest.mark.django_db

ANSWER = " ".join(f"Step {i}: water the tomatoes early and mulch the beds." for i in range(1, 40))


@pytest.fixture
def alice(settings):
    settings.METRICS_FLUSH_SECONDS = 3600
    user = make_user("alice")
    save(user, "I adopted a golden retriever named Max.")
    return user


def statements(call) -> tuple[Any, list[str]]:
    """The response and what each statement was, named by the table it touches."""
    with CaptureQueriesContext(connection) as captured:
        response = call()
    return response, [_name(q["sql"]) for q in captured.captured_queries]


def _name(sql: str) -> str:
    sql = " ".join(sql.split())
    if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):
        return "BEGIN" if sql.startswith("SAVEPOINT") else "COMMIT"
    for pattern, name in (
        (r'^SELECT "accounts_user"', "user"),
        (r'^INSERT INTO "accounts_dailyusage"', "quota"),
        (r"^WITH mine AS", "search"),
        (r"^SELECT \(SELECT id FROM memories_memory", "look"),
        (r"^WITH memory AS \( ?INSERT", "store"),
        (r"^INSERT INTO memories_idempotencykey", "claim"),
        (r"procrastinate_defer_jobs", "defer"),
        (r"^SELECT c\.id, c\.text, c\.search_text", "take pending"),
        (r"^UPDATE memories_chunk c SET embedding", "write vectors"),
        (r"^SELECT n\.id, n\.user_id, n\.text, o\.id, o\.text", "find restatements"),
        (r'^UPDATE "memories_idempotencykey"', "remember response"),
        (r'^SELECT .* FROM "memories_idempotencykey"', "replay"),
        (r'^SELECT .* FROM "memories_memory"', "existing memory"),
    ):
        if re.search(pattern, sql):
            return name
    return sql[:80]


def test_context_is_three_statements_user_quota_search(alice):
    response, sql = statements(lambda: client_for(alice).get(f"/context/{alice.pk}", {"query": "my dog's name?"}))
    assert response.status_code == 200 and response.json()["count"] == 1
    assert sql == ["user", "quota", "search"]


def test_context_with_filters_is_still_one_search(alice):
    response, sql = statements(
        lambda: client_for(alice).get(f"/context/{alice.pk}", {"query": "dog", "provider": "chatgpt", "top_k": "3"})
    )
    assert response.status_code == 200
    assert sql == ["user", "quota", "search"]


# What a save costs with the queue (production): the look, then the memory, its chunks and its embedding job in
# one transaction. The model does not run in the request.
QUEUED_SAVE = ["user", "quota", "look", "BEGIN", "store", "defer", "COMMIT"]


def test_a_new_prompt_is_the_look_and_one_transaction_storing_it_and_its_job(alice, settings):
    settings.MEMORY_EMBED_INLINE = False
    body = {"prompt": "My cat is called Miso."}
    response, sql = statements(lambda: client_for(alice).post("/save-prompt", body, format="json"))
    assert response.status_code == 201
    assert sql == QUEUED_SAVE


def test_a_long_answer_costs_the_same_statements_whatever_its_chunk_count(alice, settings):
    settings.MEMORY_EMBED_INLINE = False
    body = {"prompt": "How do I look after tomatoes?", "response": ANSWER * 4}
    response, sql = statements(lambda: client_for(alice).post("/save-response", body, format="json"))
    assert response.status_code == 201 and response.json()["chunks_stored"] > 1
    assert sql == QUEUED_SAVE


def test_embedding_inline_adds_one_batch_take_and_write_for_all_the_chunks(alice):
    body = {"prompt": "How do I look after tomatoes?", "response": ANSWER * 4}
    response, sql = statements(lambda: client_for(alice).post("/save-response", body, format="json"))
    assert response.status_code == 201 and response.json()["chunks_stored"] > 1
    # then, with the vectors written, one query for earlier memories this one restates (memories.supersession)
    assert sql == [*QUEUED_SAVE, "BEGIN", "take pending", "write vectors", "COMMIT", "find restatements"]


def test_a_duplicate_is_four_statements_and_never_embeds(alice, monkeypatch):
    from memories.embedding import embeddings

    monkeypatch.setattr(embeddings, "embed", lambda texts: pytest.fail("a duplicate must not be embedded"))
    body = {"prompt": "I adopted a golden retriever named Max."}
    response, sql = statements(lambda: client_for(alice).post("/save-prompt", body, format="json"))
    assert response.status_code == 200 and response.json()["duplicate"] is True
    assert sql == ["user", "quota", "look", "existing memory"]


def test_an_idempotent_save_adds_its_claim_and_its_recorded_answer(alice, settings):
    settings.MEMORY_EMBED_INLINE = False
    client = client_for(alice)
    post = lambda: client.post("/save-prompt", {"prompt": "Cat: Miso."}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")  # noqa: E731
    response, sql = statements(post)
    assert response.status_code == 201
    assert sql == [
        "user",
        "quota",
        "BEGIN",
        "claim",
        "look",
        "BEGIN",
        "store",
        "defer",
        "COMMIT",
        "remember response",
        "COMMIT",
    ]

    response, sql = statements(post)
    assert response.status_code == 201 and response["Idempotent-Replayed"] == "true"
    assert sql == ["user", "quota", "BEGIN", "claim", "replay", "COMMIT"]
