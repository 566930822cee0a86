"""Concurrent requests against 2 gunicorn workers over real HTTP: nothing lost, nothing doubled, quota exact."""

from __future__ import annotations

import uuid

import pytest

from reliability.tests.live import call, register, sql
from testkit import concurrently

pytestmark = pytest.mark.slow


def memories_of(live, user_id: str) -> list[tuple]:
    return sql(
        live.db,
        "SELECT m.id, m.text, count(c.id) FROM memories_memory m LEFT JOIN memories_chunk c ON c.memory_id = m.id "
        "WHERE m.user_id = %s GROUP BY m.id, m.text ORDER BY m.id",
        user_id,
    )


def used_today(live, user_id: str) -> int:
    rows = sql(
        live.db,
        "SELECT count FROM accounts_dailyusage WHERE user_id = %s AND day = (now() AT TIME ZONE 'UTC')::date",
        user_id,
    )
    return rows[0][0] if rows else 0


def test_fifty_concurrent_saves_by_one_user_are_all_stored_once(live):
    user = register(live.server.base_url)
    texts = [f"Concurrent note {i}: my {i}th favourite city is number {i * 7}." for i in range(50)]

    answers = concurrently(
        50, lambda i: call(live.server.base_url, "POST", "/save-prompt", token=user.token, body={"prompt": texts[i]})
    )

    assert [a.status for a in answers] == [201] * 50, [(a.status, a.body) for a in answers if a.status != 201]
    ids = {a.body["memory_id"] for a in answers}
    assert len(ids) == 50
    stored = memories_of(live, user.user_id)
    assert sorted(text for _, text, _ in stored) == sorted(texts)  # none lost, none doubled
    assert {memory_id for memory_id, _, _ in stored} == ids
    assert all(chunks == 1 for _, _, chunks in stored)
    assert used_today(live, user.user_id) == 50


def test_concurrent_saves_with_one_idempotency_key_store_one_memory(live):
    user = register(live.server.base_url)
    key = str(uuid.uuid4())
    body = {"prompt": "Retried by a flaky network: my passport expires in May."}

    answers = concurrently(
        20,
        lambda i: call(
            live.server.base_url, "POST", "/save-prompt", token=user.token, body=body, headers={"Idempotency-Key": key}
        ),
    )

    assert {a.status for a in answers} == {201}, [(a.status, a.body) for a in answers]
    assert len({a.body["memory_id"] for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 19
    assert len(memories_of(live, user.user_id)) == 1


def test_concurrent_identical_saves_without_a_key_store_one_memory(live):
    user = register(live.server.base_url)
    body = {"prompt": "Double-clicked: my dentist is Dr. Okafor."}

    answers = concurrently(
        20, lambda i: call(live.server.base_url, "POST", "/save-prompt", token=user.token, body=body)
    )

    assert sorted(a.status for a in answers) == [200] * 19 + [201], [(a.status, a.body) for a in answers]
    assert len({a.body["memory_id"] for a in answers}) == 1
    assert len(memories_of(live, user.user_id)) == 1


def test_the_daily_quota_stays_exact_across_both_workers(live):
    user = register(live.server.base_url)  # free tier: 100 a day
    sql(
        live.db,
        "INSERT INTO accounts_dailyusage (user_id, day, count) VALUES (%s, (now() AT TIME ZONE 'UTC')::date, 80)",
        user.user_id,
    )

    answers = concurrently(
        30,
        lambda i: call(
            live.server.base_url, "POST", "/save-prompt", token=user.token, body={"prompt": f"Quota probe {i}."}
        ),
    )

    statuses = sorted(a.status for a in answers)
    assert statuses == [201] * 20 + [429] * 10, statuses
    refused = [a for a in answers if a.status == 429]
    assert all(a.body["success"] is False and a.body["limit"] == 100 for a in refused)
    assert used_today(live, user.user_id) == 100
    assert len(memories_of(live, user.user_id)) == 20
