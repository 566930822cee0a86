"""core.db_routing without a replica configured (the test settings): everything stays on the primary.

The replica itself is exercised live, with a real standby, in config/tests/test_replica.py.
"""

from __future__ import annotations

import pytest
from django.db import DEFAULT_DB_ALIAS

from core import db_routing


def test_it_orders_wal_positions_numerically_not_as_text():
    assert db_routing._replayed("1/0", "0/FFFFFFFF")
    assert db_routing._replayed("0/1A0", "0/1A0")
    assert not db_routing._replayed("0/9F", "0/1A0")  # as text "0/9F" > "0/1A0"


def test_it_sends_every_write_to_the_primary_even_for_an_object_read_from_the_replica():
    router = db_routing.PrimaryReplicaRouter()
    assert router.db_for_write(object, instance=object()) == DEFAULT_DB_ALIAS
    assert router.allow_migrate(db_routing.REPLICA, "memories") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "memories") is True


def test_it_routes_orm_reads_only_inside_a_routed_read():
    router = db_routing.PrimaryReplicaRouter()
    assert router.db_for_read(object) is None
    assert db_routing._on(db_routing.REPLICA, lambda: router.db_for_read(object)) == db_routing.REPLICA
    assert db_routing._on(db_routing.REPLICA, db_routing.read_alias) == db_routing.REPLICA
    assert router.db_for_read(object) is None and db_routing.read_alias() == DEFAULT_DB_ALIAS


@pytest.mark.django_db
def test_it_reads_from_the_primary_when_no_replica_is_configured():
    assert not db_routing.replica_configured()
    assert db_routing.replica_read(1, db_routing.read_alias) == DEFAULT_DB_ALIAS
    assert list(db_routing.replica_stream(1, iter([1, 2]))) == [1, 2]
