"""The connection pool under real gunicorn: a pool that is truly exhausted answers 503 with Retry-After in the
envelope (never a 500, never a hang), and a worker never holds more connections than its pool's max."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from reliability.tests.live import Gunicorn, call, client_backends, register, sql
from reliability.tests.test_make_run import ANSWER
from testkit.processes import ThrowawayPostgres

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def starved():
    """2 workers x 4 threads sharing a pool of ONE connection each, with a 50 ms wait for it."""
    db = ThrowawayPostgres()
    server = Gunicorn(db.django_url, db.tmp, env_overrides={"DB_POOL_MAX_SIZE": "1", "DB_POOL_TIMEOUT": "0.05"})
    try:
        server.migrate()
        server.start()
        yield db, server
    finally:
        server.stop()
        db.cleanup()


def test_an_exhausted_pool_answers_503_with_retry_after_and_never_exceeds_its_max(starved):
    db, server = starved
    user = register(server.base_url, "pool")
    sql(db, "UPDATE accounts_user SET tier = 'enterprise' WHERE id = %s", user.user_id)
    peak = 0

    def save(i: int):
        return call(
            server.base_url, "POST", "/save-prompt", token=user.token, body={"prompt": f"{i}: {ANSWER}"}, timeout=60
        )

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(save, i) for i in range(48)]
        while not all(f.done() for f in futures):
            peak = max(peak, client_backends(db))
        answers = [f.result() for f in futures]

    statuses = {a.status for a in answers}
    assert statuses <= {201, 503}, statuses
    refused = [a for a in answers if a.status == 503]
    assert refused, "eight concurrent saves over two one-connection pools never had to wait"
    assert all(
        a.body == {"success": False, "error": "The database is temporarily unavailable; please retry shortly."}
        for a in refused
    )
    assert all(a.headers["Retry-After"] == "5" for a in refused)
    assert any(a.status == 201 for a in answers)
    assert peak <= 2 * 1, peak
    # Once the burst is over the same pools serve normally.
    assert save(999).status == 201
