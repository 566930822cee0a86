"""A streaming read replica in the loop (`make run` with DATABASE_REPLICA_URL), over real HTTP.

A throwaway primary and a hot standby made from it with the embedded server's own pg_basebackup -R. /context,
listings and exports read from the standby (core.db_routing) unless the person's last write is not replayed
there yet; a standby that dies is skipped and the read runs on the primary. One gunicorn worker: the write
positions live in Django's cache, per process without REDIS_URL (docs/scale.md).
"""

from __future__ import annotations

import itertools
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from config.tests.deploy_env import clean_env
from reliability.tests.live import Answer, LiveUser, call, register
from testkit.processes import StreamingReplica, ThrowawayPostgres, make_run, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def replicated():
    db = ThrowawayPostgres()
    replica = StreamingReplica(db)
    env = clean_env(
        DATABASE_URL=db.django_url,
        DATABASE_REPLICA_URL=replica.django_url,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        RATELIMIT_API_RATE="100000/m",
        RATELIMIT_AUTH_RATE="1000/m",
        EMBEDDING_TORCH_THREADS="1",
        WEB_CONCURRENCY="1",
        MEMORY_EMBED_INLINE="1",  # a saved memory is searchable by meaning when its save answers
    )
    server = make_run(env=env, log_path=db.tmp / "make-run-replica.log")
    try:
        server.wait_ready()
        try:
            users = [register(server.base_url, f"replica{i}") for i in range(4)]
        except AssertionError as error:
            raise AssertionError(f"{error}; {server.log_tail()}") from error
        db.sql("UPDATE accounts_user SET tier = 'enterprise'")
        yield db, replica, server, users
    finally:
        server.stop()
        replica.cleanup()
        db.cleanup()


def replica_transactions(replica: StreamingReplica) -> int:
    return int(replica.sql("SELECT sum(xact_commit) FROM pg_stat_database")[0][0])


def context(base_url: str, user: LiveUser, query: str) -> Answer:
    return call(base_url, "GET", f"/context/{user.user_id}?query={query.replace(' ', '+')}", token=user.token)


def test_it_finds_a_memory_in_context_right_after_saving_it(replicated):
    _, _, server, users = replicated
    alice = users[0]
    for n in range(10):
        fact = f"My locker number at the pool is {7100 + n}."
        saved = call(server.base_url, "POST", "/save-prompt", token=alice.token, body={"prompt": fact})
        assert saved.status == 201, saved.body
        found = context(server.base_url, alice, f"what is my locker number {7100 + n}")
        assert found.status == 200 and any(fact in text for text in found.body["contexts"]), (n, found.body)


def test_it_serves_reads_of_people_who_did_not_just_write_from_the_replica(replicated):
    _, replica, server, users = replicated
    reader = users[1]
    wait_for(replica.in_recovery, timeout=30, what="the standby")
    before = replica_transactions(replica)

    def read_twenty_times() -> bool:
        for _ in range(10):
            assert context(server.base_url, reader, "anything about the pool").status == 200
            assert call(server.base_url, "GET", "/memories?page_size=5", token=reader.token).status == 200
        return replica_transactions(replica) - before >= 40  # the monitor's own reads add only a few

    # The reader's own sign-up was a write: until the router's cached replica status (REPLICA_STATUS_SECONDS) shows
    # it replayed, their reads rightly go to the primary. Then they go to the replica.
    wait_for(read_twenty_times, timeout=30, what="the reader's reads served by the replica")


def test_it_loses_no_request_when_the_replica_is_killed_mid_load(replicated):
    _, replica, server, users = replicated
    call(server.base_url, "POST", "/save-prompt", token=users[2].token, body={"prompt": "I keep bees on the roof."})
    counter, killed = itertools.count(), threading.Event()

    def read(i: int) -> Answer:
        n = next(counter)
        if n == 30:
            replica.kill()
            killed.set()
        user = users[2 + i % 2]
        if n % 2:
            return call(server.base_url, "GET", "/memories?page_size=5", token=user.token)
        return context(server.base_url, user, "what do I keep on the roof")

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(read, range(120)))
    assert killed.is_set() and not replica.running()
    failed = [(a.status, str(a.body)[:200]) for a in answers if a.status != 200]
    assert failed == [], (failed[:5], server.log_tail())
    assert "replica skipped" in server.log()
