"""Reads to a streaming replica, everything else to the primary, and read-your-writes per person (docs/scale.md).

Only the reads a view hands over with ``replica_read`` (``/context``, memory listings, exports, the MCP tools that
read, the person's page's list, preview and chart, the staff dashboard's figures) may go to the replica (the
``replica`` alias, present when DATABASE_REPLICA_URL is set); writes, the queue, authentication and every other
read stay on the primary (``default``). A routed read goes to the primary instead when:

- the person wrote recently and the replica has not replayed their last write yet (their primary WAL position,
  ``pg_current_wal_lsn()`` after the write, kept in the cache for REPLICA_READ_YOUR_WRITES_SECONDS);
- the replica lags by more than REPLICA_MAX_LAG_SECONDS, or is not streaming, or does not answer (then it is
  skipped for REPLICA_RETRY_SECONDS);
- the read fails on the replica (killed mid-request): it runs again on the primary, so no request is lost.

Where the write position lives: Django's cache. A multi-process deployment already needs a shared one (REDIS_URL,
for the rate limiter; accounts.E001), writes to it cost no primary round trip, and entries expire by themselves.
A table would add a primary write per save and a primary read per routed read (what the replica is there to
spare); a session does not exist for token clients (the extension, MCP). With the per-process local-memory cache
(one process), positions are exact for that process only: a second process may route a fresh write's reader to
the replica, where it waits at most the replica's lag.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

REPLICA = "replica"
T = TypeVar("T")

_read_alias: ContextVar[str | None] = ContextVar("read_alias", default=None)


class PrimaryReplicaRouter:
    """ORM reads follow the alias ``replica_read`` chose (the primary outside it); writes always the primary."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return _read_alias.get()

    def db_for_write(self, model: Any, **hints: Any) -> str:
        # Explicit: without it Django writes an instance back where it was read from (the replica).
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # one database, two copies

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS


def read_alias() -> str:
    """The alias the current read goes to (raw SQL in selectors asks this instead of using ``connection``)."""
    return _read_alias.get() or DEFAULT_DB_ALIAS


def read_connection() -> BaseDatabaseWrapper:
    return connections[read_alias()]


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def replica_read(user_id: Any, read: Callable[[], T]) -> T:
    """``read()`` on the replica when it may serve this person now, else (or if it fails there) on the primary.

    ``read`` must only read and must evaluate its querysets inside (a lazy queryset returned would run later,
    on the primary): it may run twice.
    """
    alias = _alias_for(user_id)
    if alias == DEFAULT_DB_ALIAS:
        return read()
    try:
        return _on(alias, read)
    except DatabaseError as error:
        _mark_down(f"read failed: {error.__class__.__name__}")
        connections[alias].close()
        return read()


def replica_stream(user_id: Any, rows: Iterator[T]) -> Iterator[T]:
    """A streamed read (an export) on the alias chosen when it starts; each step runs with that alias set.

    A replica failing mid-stream cannot be replayed on the primary (the client has the first part): it fails.
    """
    alias = _alias_for(user_id)
    while True:
        try:
            item = _on(alias, lambda: next(rows))
        except StopIteration:
            return
        yield item


def _on(alias: str, read: Callable[[], T]) -> T:
    token = _read_alias.set(alias)
    try:
        return read()
    finally:
        _read_alias.reset(token)


# --- Read-your-writes -------------------------------------------------------------------------------------------


def _written_key(user_id: Any) -> str:
    return f"db-routing:written:{user_id}"


def write_recorded(user_id: Any) -> None:
    """Remember the primary's WAL position now (after ``user_id``'s write committed) for their next reads."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        lsn = cursor.fetchone()[0]
    cache.set(_written_key(user_id), lsn, timeout=settings.REPLICA_READ_YOUR_WRITES_SECONDS)


_WROTE = "_db_routing_wrote"


def request_writes(request: Any, wrote: bool) -> None:
    """Tell the middleware whether this request may have changed the person's data, where its method does not say:
    an MCP message is always a POST, and a search (``wrote=False``) must not send the next reads to the primary."""
    setattr(getattr(request, "_request", request), _WROTE, wrote)  # DRF's Request wraps Django's HttpRequest


class ReadYourWritesMiddleware:
    """After a successful write request by a signed-in person, record their write position (see module doc)."""

    UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)  # DRF sets it on the HttpRequest too once it authenticated
        wrote = getattr(request, _WROTE, request.method in self.UNSAFE)
        if wrote and response.status_code < 400 and user and user.is_authenticated:
            try:
                write_recorded(user.pk)
            except DatabaseError:  # the write itself is done; the next reads go to the replica, at worst lagging
                logger.warning("read-your-writes position not recorded", exc_info=True)
        return response


# --- The replica's health, probed at most once per REPLICA_STATUS_SECONDS per process -----------------------------


@dataclass(frozen=True)
class ReplicaStatus:
    replay_lsn: str
    lag_seconds: float
    streaming: bool
    at: float


_status_lock = threading.Lock()
_status: ReplicaStatus | None = None
_down_until = 0.0

# Lag in seconds is 0 when everything received is replayed (an idle primary sends nothing: the time since the last
# replayed transaction would grow without any lag); the receiver row says whether it still streams.
_STATUS_SQL = """
SELECT pg_last_wal_replay_lsn()::text,
       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8,
       coalesce((SELECT status = 'streaming' FROM pg_stat_wal_receiver), false)
"""


def _alias_for(user_id: Any) -> str:
    if not replica_configured():
        return DEFAULT_DB_ALIAS
    status = _replica_status()
    if status is None or not status.streaming or status.lag_seconds > settings.REPLICA_MAX_LAG_SECONDS:
        return DEFAULT_DB_ALIAS
    written = cache.get(_written_key(user_id))
    if written and not _replayed(status.replay_lsn, written):
        return DEFAULT_DB_ALIAS
    return REPLICA


def _replayed(replay_lsn: str, written_lsn: str) -> bool:
    return _lsn(replay_lsn) >= _lsn(written_lsn)


def _lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def _replica_status() -> ReplicaStatus | None:
    """The cached status, refreshed when older than REPLICA_STATUS_SECONDS; None while the replica is down.

    A cached replay position only ever lags the real one, so a stale status errs towards the primary.
    """
    global _status
    now = time.monotonic()
    if now < _down_until:
        return None
    current = _status
    if current is not None and now - current.at < settings.REPLICA_STATUS_SECONDS:
        return current
    with _status_lock:
        if _status is not None and time.monotonic() - _status.at < settings.REPLICA_STATUS_SECONDS:
            return _status
        try:
            with connections[REPLICA].cursor() as cursor:
                cursor.execute(_STATUS_SQL)
                replay, lag, streaming = cursor.fetchone()
        except DatabaseError as error:
            connections[REPLICA].close()
            _mark_down(f"status probe failed: {error.__class__.__name__}")
            return None
        if replay is None:  # not a standby (or not replaying yet): never route reads there
            _mark_down("not in recovery")
            return None
        _status = ReplicaStatus(replay, float(lag), bool(streaming), time.monotonic())
        return _status


def _mark_down(why: str) -> None:
    global _down_until, _status
    _down_until = time.monotonic() + settings.REPLICA_RETRY_SECONDS
    _status = None
    logger.warning("replica skipped for %s s: %s", settings.REPLICA_RETRY_SECONDS, why)


def replica_state_reset() -> None:
    """Forget the probed status and any down mark (tests; a process that knows the replica is back)."""
    global _down_until, _status
    _down_until, _status = 0.0, None
