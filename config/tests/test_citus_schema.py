"""The migrated database's own catalog (pg_constraint, pg_index) has the keys Citus needs to distribute by person.

Citus requires the distribution column in every primary key and unique constraint of a distributed table, and in
both sides of a foreign key between two of them; it cannot keep a foreign key between a distributed table and a
coordinator (local) table, nor one from a reference table to a distributed table. config/tenancy.py says which
table is which; these tests read what the migrations actually built (docs/scale.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from oauth2_provider.models import get_application_model

from accounts.models import Space
from config.tenancy import COORDINATOR_TABLES, FOREIGN_KEYS_DROPPED_ON_CITUS, PER_PERSON_TABLES, REFERENCE_TABLES

pytestmark = pytest.mark.django_db

TABLES_SQL = """
SELECT c.relname FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
"""
# Every unique index (primary keys, unique constraints, UniqueConstraint over expressions) with its key columns.
UNIQUE_SQL = """
SELECT t.relname, i.relname, i2.indisprimary,
       array(SELECT a.attname FROM unnest(i2.indkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.i)
FROM pg_index i2 JOIN pg_class i ON i.oid = i2.indexrelid JOIN pg_class t ON t.oid = i2.indrelid
WHERE i2.indisunique AND t.relnamespace = current_schema()::regnamespace
"""
FOREIGN_KEYS_SQL = """
SELECT c.conname, src.relname, dst.relname,
       array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i),
       array(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i)
FROM pg_constraint c JOIN pg_class src ON src.oid = c.conrelid JOIN pg_class dst ON dst.oid = c.confrelid
WHERE c.contype = 'f' AND src.relnamespace = current_schema()::regnamespace
"""


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table: str
    target: str
    columns: tuple[str, ...]
    target_columns: tuple[str, ...]


def rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def foreign_keys() -> list[ForeignKey]:
    return [
        ForeignKey(name, src, dst, tuple(cols), tuple(target))
        for name, src, dst, cols, target in rows(FOREIGN_KEYS_SQL)
    ]


def kind(table: str) -> str:
    if table in PER_PERSON_TABLES:
        return "person"
    return "reference" if table in REFERENCE_TABLES else "coordinator"


def test_it_lists_every_table_of_the_database_in_exactly_one_list():
    listed = [*PER_PERSON_TABLES, *REFERENCE_TABLES, *COORDINATOR_TABLES]
    in_database = {name for (name,) in rows(TABLES_SQL)}

    assert sorted(t for t in listed if listed.count(t) > 1) == []
    assert sorted(in_database - set(listed)) == [], "a new table: put it in one of config/tenancy.py's lists"
    assert sorted(set(listed) - in_database) == [], "config/tenancy.py lists a table the database does not have"


def test_every_unique_index_of_a_per_person_table_includes_the_person():
    unique = [(table, index, primary, columns) for table, index, primary, columns in rows(UNIQUE_SQL)]
    missing = [
        f"{table}.{index} ({', '.join(columns)})"
        for table, index, _, columns in unique
        if table in PER_PERSON_TABLES and PER_PERSON_TABLES[table] not in columns
    ]
    keyed = {table for table, _, primary, _ in unique if primary}

    assert missing == []
    assert sorted(set(PER_PERSON_TABLES) - keyed) == [], "a per-person table without a primary key"


def test_a_key_between_per_person_tables_names_the_person_on_both_sides():
    between = [k for k in foreign_keys() if kind(k.table) == kind(k.target) == "person"]
    pairs = {(k.table, k.columns[0]) for k in between}
    unnamed = [
        k.name
        for k in between
        if (PER_PERSON_TABLES[k.table], PER_PERSON_TABLES[k.target])
        not in zip(k.columns, k.target_columns, strict=True)
    ]

    assert unnamed == []
    assert ("memories_chunk", "user_id") in pairs and ("accounts_appconnection_spaces", "user_id") in pairs


def test_it_lists_every_foreign_key_citus_cannot_keep():
    # Citus keeps distributed -> distributed (co-located), distributed -> reference, local -> reference and
    # local -> local; the rest must go before distributing (docs/scale.md).
    kept = {("person", "person"), ("person", "reference"), ("coordinator", "reference"), ("reference", "reference")}
    kept |= {("coordinator", "coordinator")}
    crossing = {(k.table, k.columns[0]) for k in foreign_keys() if (kind(k.table), kind(k.target)) not in kept}

    assert crossing == set(FOREIGN_KEYS_DROPPED_ON_CITUS)


def test_it_aggregates_over_a_per_person_model(alice):
    """Django would GROUP BY accounts_space.id alone, which no longer determines the row (core.postgres)."""
    from django.db.models import Count

    from accounts.services import space_default
    from memories.tests.factories import save

    save(alice, "My cat is called Miso.")
    counted = Space.objects.filter(user=alice).annotate(memories_held=Count("memories"))

    assert [(s.pk, s.memories_held) for s in counted] == [(space_default(user=alice).pk, 1)]


# Before the keys changed (accounts 0008, memories 0016, dashboard 0003).
BEFORE = [
    ("accounts", "0007_appconnection"),
    ("memories", "0015_memory_superseded_by"),
    ("dashboard", "0002_useractivity_context_calls"),
]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_migrates_a_database_that_holds_rows():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(BEFORE)
        ids = _old_rows(MigrationExecutor(connection).loader.project_state(BEFORE).apps)
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
    finally:
        MigrationExecutor(connection).migrate(latest)  # whatever happened, the next tests get the whole schema

    from accounts.models import AccessTokenSpace, AppConnectionSpace
    from memories.models import Chunk, ImportUploadPart, Memory

    assert Memory.objects.get(pk=ids["memory"]).superseded_by_id == ids["older"]
    assert Memory.objects.get(pk=ids["rule"]).standing and not Memory.objects.get(pk=ids["older"]).standing
    assert Chunk.objects.filter(memory_id=ids["memory"], user_id=ids["user"]).count() == 1
    assert list(AccessTokenSpace.objects.values_list("user_id", flat=True)) == [ids["user"]]
    assert list(AppConnectionSpace.objects.values_list("user_id", flat=True)) == [ids["user"]]
    assert list(ImportUploadPart.objects.values_list("user_id", flat=True)) == [ids["user"]]
    primary = {t: cols for t, _, is_primary, cols in rows(UNIQUE_SQL) if is_primary}
    assert primary["memories_chunk"] == ["user_id", "id"] and primary["accounts_space"] == ["user_id", "id"]


def _old_rows(apps) -> dict:
    """One person with a bit of everything, written through the old schema's models."""
    user = apps.get_model("accounts", "User").objects.create(username="before-keys")
    space = apps.get_model("accounts", "Space").objects.create(user=user, name="Personal", is_default=True)
    token = apps.get_model("accounts", "PersonalAccessToken").objects.create(
        user=user, name="t", token_hash="0" * 64, prefix="mlk_0"
    )
    token.spaces.add(space)
    # The OAuth app through today's model: the old state holds oauth2_provider only as far as accounts needed it.
    app = get_application_model().objects.create(
        client_type="public", authorization_grant_type="authorization-code", name="app"
    )
    connection_ = apps.get_model("accounts", "AppConnection").objects.create(user=user, application_id=app.pk)
    connection_.spaces.add(space)
    Memory = apps.get_model("memories", "Memory")
    mine = {"user": user, "space": space, "kind": "prompt", "provider": "chatgpt"}
    older = Memory.objects.create(**mine, text="I live in Lyon.", content_hash="a" * 64)
    memory = Memory.objects.create(**mine, text="I moved to Paris.", content_hash="b" * 64)
    Memory.objects.filter(pk=older.pk).update(superseded_by=memory)
    Memory.objects.filter(pk=memory.pk).update(superseded_by=older)  # any memory of the same person
    # Saved before migration 0017 learnt this way of stating a standing preference.
    rule = Memory.objects.create(**mine, text="pls no tables in your answers", content_hash="c" * 64)
    apps.get_model("memories", "Chunk").objects.create(memory=memory, user=user, position=0, text="I moved to Paris.")
    job = apps.get_model("memories", "ImportJob").objects.create(user=user, space=space, format="chatgpt", size=4)
    apps.get_model("memories", "ImportUploadPart").objects.create(job=job, position=0, data=b"data")
    apps.get_model("dashboard", "UserActivity").objects.create(
        day="2026-12-06", user=user, last_seen="2026-12-06T00:00Z"
    )
    return {"user": user.pk, "memory": memory.pk, "older": older.pk, "rule": rule.pk}
