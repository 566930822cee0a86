"""Every server the tests start takes a port the OS picks, and starts again on another when it loses the race.

``testkit.processes.free_port`` asks the OS for a free port (bind to 0); something else may take it before our
process binds it. Here a socket holds the first port handed out, as another suite on the machine would, and each
kind of server must come up on the next one.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator

import pytest

from testkit import processes
from testkit.processes import PgBouncer, Served, StreamingReplica, ThrowawayPostgres, free_port, http_status


@pytest.fixture
def first_port_taken(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The first ``free_port()`` answer is a port another process listens on; later answers are really free."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    answers = iter([taken])
    monkeypatch.setattr(processes, "free_port", lambda: next(answers, None) or free_port())
    yield taken
    holder.close()


@pytest.fixture(scope="module")
def primary() -> Iterator[ThrowawayPostgres]:
    db = ThrowawayPostgres()
    yield db
    db.cleanup()


def test_it_hands_out_a_port_nothing_listens_on():
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # would raise if something held it


def test_it_starts_a_server_again_on_another_port_when_its_port_was_taken(first_port_taken, tmp_path):
    def on_port(port: int) -> tuple[list[str], dict[str, str]]:
        return [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], dict(os.environ)

    argv, env = on_port(processes.free_port())
    server = Served(argv, env=env, log_path=tmp_path / "http.log", port=first_port_taken, on_port=on_port)
    try:
        server.wait_answering(timeout=60)
        assert server.port != first_port_taken and server.relaunches == 1
        assert http_status(server.base_url + "/") == 200
    finally:
        server.stop()


def test_it_fails_with_the_log_when_a_server_exits_for_another_reason(tmp_path):
    def on_port(port: int) -> tuple[list[str], dict[str, str]]:
        return [sys.executable, "-c", "raise SystemExit('broken settings')"], dict(os.environ)

    argv, env = on_port(free_port())
    server = Served(argv, env=env, log_path=tmp_path / "broken.log", port=free_port(), on_port=on_port)
    with pytest.raises(AssertionError, match="broken settings"):
        server.wait_answering(timeout=60)
    assert server.relaunches == 0


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(PgBouncer.EXECUTABLE), reason="`make pgbouncer` installs it")
def test_it_starts_pgbouncer_on_another_port_when_its_port_was_taken(first_port_taken, primary):
    bouncer = PgBouncer(primary.uri, user=primary.server.system_user)
    try:
        assert bouncer.port != first_port_taken
        assert bouncer.show("POOLS") is not None  # its own admin console answers on the port it reports
    finally:
        bouncer.cleanup()


@pytest.mark.slow
def test_it_starts_the_standby_on_another_port_when_its_port_was_taken(first_port_taken, primary):
    replica = StreamingReplica(primary)
    try:
        assert replica.port != first_port_taken
        assert replica.sql("SELECT pg_is_in_recovery()") == [(True,)]
    finally:
        replica.cleanup()
