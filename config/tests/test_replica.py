"""A streaming read replica in the loop (`make run` with DATABASE_REPLICA_URL), over real HTTP.

A throwaway primary and a hot standby made from it with the embedded server's own pg_basebackup -R. /context,
listings, exports, the MCP tools that read, the person's page (/app/: list, preview, chart) and the staff
dashboard read from the standby (core.db_routing) unless the person's last write is not replayed there yet; a
standby that dies is skipped and the read runs on the primary. One gunicorn worker: the write positions live in
Django's cache, per process without REDIS_URL (docs/scale.md).

Which copy answered is proved by making the two differ: with the standby's replay paused
(``pg_wal_replay_pause()``), a memory saved through the app exists only on the primary, and one deleted behind the
app's back (SQL on the primary, so no write position is recorded) only on the standby.
"""

from __future__ import annotations

import http.cookiejar
import itertools
import re
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

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
        REPLICA_MAX_LAG_SECONDS="3600",  # a paused standby (below) stays in use: only the person's writes decide
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


MCP_HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}


def mcp(base_url: str, user: LiveUser, tool: str, **arguments: object) -> str:
    """One MCP tool call (POST /mcp); the tool's text answer."""
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    answer = call(base_url, "POST", "/mcp", token=user.token, body=message, headers=MCP_HEADERS)
    assert answer.status == 200 and answer.body["result"]["isError"] is False, (answer.status, answer.body)
    return str(answer.body["result"]["content"][0]["text"])


class SignedIn:
    """A browser's session over HTTP (cookies kept): signed in through /app/login/ as a person does."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.get("/app/login/")
        csrf = next(cookie.value for cookie in self.jar if cookie.name == "csrftoken")
        form = {"login": username, "password": password, "csrfmiddlewaretoken": csrf}
        status, page = self.request("/app/login/", urllib.parse.urlencode(form).encode())
        assert status == 200 and "Sign out" in page, (status, page[:300])  # followed the redirect to /app/

    def request(self, path: str, data: bytes | None = None) -> tuple[int, str]:
        try:
            with self.opener.open(self.base_url + path, data=data, timeout=120) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as error:
            return int(error.code), error.read().decode(errors="replace")
        except (urllib.error.URLError, OSError):
            return 0, ""

    def get(self, path: str) -> tuple[int, str]:
        return self.request(path)


@dataclass
class Person:
    api: LiveUser
    browser: SignedIn


def person(base_url: str, prefix: str) -> Person:
    """A new person with a bearer token (API, MCP) and a signed-in browser session (/app/, /dashboard/)."""
    username, password = f"{prefix}-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(16)
    body = {"username": username, "email": f"{username}@example.com", "password": password}
    created = call(base_url, "POST", "/auth/register", body=body)
    assert created.status == 201, created.body
    token = call(base_url, "POST", "/auth/token/", body={"username": username, "password": password})
    assert token.status == 200, token.body
    return Person(LiveUser(created.body["user_id"], token.body["access"]), SignedIn(base_url, username, password))


@pytest.fixture(scope="module")
def people(replicated):
    """A writer, a reader and a staff member, made and signed in before any test pauses the standby."""
    db, _, server, _ = replicated
    made = {name: person(server.base_url, name) for name in ("writer", "reader", "staff")}
    db.sql("UPDATE accounts_user SET tier = 'enterprise'")
    db.sql("UPDATE accounts_user SET is_staff = true WHERE id = %s", made["staff"].api.user_id)
    return made


def caught_up(db: ThrowawayPostgres, replica: StreamingReplica) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    lsn = db.sql("SELECT pg_current_wal_lsn()::text")[0][0]
    wait_for(lambda: replica.replayed_past(lsn), timeout=60, what=f"the standby to replay past {lsn}")


@contextmanager
def replay_paused(replica: StreamingReplica) -> Iterator[None]:
    replica.sql("SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        replica.sql("SELECT pg_wal_replay_resume()")


def memories_on(server: ThrowawayPostgres | StreamingReplica, text: str) -> int:
    return int(server.sql("SELECT count(*) FROM memories_memory WHERE text = %s", text)[0][0])


def total_memories(server: ThrowawayPostgres | StreamingReplica) -> int:
    return int(server.sql("SELECT count(*) FROM memories_memory")[0][0])


def preview_of(page: str) -> str:
    """The preview panel of /app/ (what /context would send), without the list below it."""
    found = re.search(r'id="preview".*?</section>', page, re.S)
    return found.group(0) if found else ""


def dashboard_total(page: str) -> int:
    found = re.search(r'data-kpi="total_memories">.*?<span class="v">(\d+)</span>', page, re.S)
    assert found, page[:300]
    return int(found.group(1))


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


def test_it_reads_a_persons_own_write_from_the_primary_on_every_path_until_the_replica_replays_it(replicated, people):
    db, replica, server, _ = replicated
    base, writer, staff = server.base_url, people["writer"], people["staff"]
    caught_up(db, replica)
    fact = f"My kayak is called Fjord {uuid.uuid4().hex[:6]}."
    with replay_paused(replica):
        assert mcp(base, writer.api, "save_memory", text=fact).startswith("Saved as memory")
        saved = call(
            base, "POST", "/save-prompt", token=staff.api.token, body={"prompt": "Staff note: check the pool."}
        )
        assert saved.status == 201, saved.body
        assert memories_on(db, fact) == 1 and memories_on(replica, fact) == 0  # only the primary has it

        assert fact in mcp(base, writer.api, "search_memories", query="what is my kayak called")
        assert fact in mcp(base, writer.api, "recent_memories")
        status, page = writer.browser.get("/app/")
        assert status == 200 and fact in page
        status, page = writer.browser.get("/app/?prompt=what+is+my+kayak+called")
        assert status == 200 and fact in preview_of(page)
        status, page = staff.browser.get("/dashboard/")
        assert status == 200 and dashboard_total(page) == total_memories(db) != total_memories(replica)
        stats = call(base, "GET", "/admin/dashboard", token=staff.api.token)
        assert stats.status == 200 and stats.body["system"]["total_memories"] == total_memories(db)


def test_it_serves_the_mcp_tools_the_persons_page_and_the_dashboard_from_the_replica_once_it_caught_up(
    replicated, people
):
    db, replica, server, _ = replicated
    base, reader, staff = server.base_url, people["reader"], people["staff"]
    fact = f"My allotment is plot {uuid.uuid4().hex[:6]} by the river."
    assert mcp(base, reader.api, "save_memory", text=fact).startswith("Saved as memory")
    caught_up(db, replica)  # the reader's save (and every sign-in) is on the standby now
    with replay_paused(replica):
        # Deleted on the primary behind the app's back: no write position, and the standby still has it.
        memory_id = db.sql("SELECT id FROM memories_memory WHERE text = %s", fact)[0][0]
        db.sql("DELETE FROM memories_chunk WHERE user_id = %s AND memory_id = %s", reader.api.user_id, memory_id)
        db.sql("DELETE FROM memories_memory WHERE user_id = %s AND id = %s", reader.api.user_id, memory_id)
        assert memories_on(db, fact) == 0 and memories_on(replica, fact) == 1

        # Each read shows the memory only if the standby answered it. The first may still go to the primary while
        # the router's probed status (REPLICA_STATUS_SECONDS) is older than the reader's replayed save.
        def read(path: str, answer: Callable[[], str]) -> None:
            wait_for(lambda: fact in answer(), timeout=30, what=f"{path} served by the standby")

        read("MCP search_memories", lambda: mcp(base, reader.api, "search_memories", query="where is my allotment"))
        read("MCP recent_memories", lambda: mcp(base, reader.api, "recent_memories"))
        read("/app/", lambda: reader.browser.get("/app/")[1])
        read("/app/ preview", lambda: preview_of(reader.browser.get("/app/?prompt=where+is+my+allotment")[1]))
        standby_total = total_memories(replica)
        assert standby_total == total_memories(db) + 1
        wait_for(lambda: dashboard_total(staff.browser.get("/dashboard/")[1]) == standby_total, timeout=30,
                 what="/dashboard/ served by the standby")  # fmt: skip
        wait_for(
            lambda: (
                call(base, "GET", "/admin/dashboard", token=staff.api.token).body["system"]["total_memories"]
                == standby_total
            ),
            timeout=30,
            what="/admin/dashboard served by the standby",
        )


def test_it_loses_no_request_when_the_replica_is_killed_mid_load(replicated, people):
    _, replica, server, users = replicated
    call(server.base_url, "POST", "/save-prompt", token=users[2].token, body={"prompt": "I keep bees on the roof."})
    counter, killed = itertools.count(), threading.Event()

    def read(i: int) -> Answer:
        n = next(counter)
        if n == 30:
            replica.kill()
            killed.set()
        user = users[2 + i % 2]
        kind = n % 6
        if kind == 0:
            return call(server.base_url, "GET", "/memories?page_size=5", token=user.token)
        if kind == 1:
            return mcp_answer(user, "search_memories", query="what do I keep on the roof")
        if kind == 2:
            return mcp_answer(user, "recent_memories")
        if kind == 3:
            status, page = people["reader"].browser.get("/app/?prompt=what+do+I+keep")
            return Answer(status, page, {})
        if kind == 4:
            return Answer(people["staff"].browser.get("/dashboard/")[0], None, {})
        return context(server.base_url, user, "what do I keep on the roof")

    def mcp_answer(user: LiveUser, tool: str, **arguments: object) -> Answer:
        message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
        answer = call(server.base_url, "POST", "/mcp", token=user.token, body=message, headers=MCP_HEADERS)
        ok = answer.status == 200 and answer.body["result"]["isError"] is False
        return answer if ok else Answer(500, answer.body, answer.headers)

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(read, range(180)))
    assert killed.is_set() and not replica.running()
    failed = [(a.status, str(a.body)[:200]) for a in answers if a.status != 200]
    assert failed == [], (failed[:5], server.log_tail())
    assert "replica skipped" in server.log()
