"""SQL for the keys a table distributed by person needs on Citus (docs/scale.md, config/tenancy.py).

Citus requires the distribution column in every primary key and unique constraint, and a foreign key between two
distributed tables must include it on both sides. Django 5.2's ORM cannot point a ForeignKey at a model with a
CompositePrimaryKey, so the models keep ``id`` as their ORM key (the identity sequence keeps it unique in
practice) while the database's primary key is ``(user_id, id)`` and keys between per-person tables are
``(user_id, x_id) -> (user_id, id)``. Migrations use these pairs of (forward, reverse) SQL in ``RunSQL``.
"""

from __future__ import annotations

PERSON = "user_id"


def person_primary_key(table: str, *, id_index: bool = True) -> tuple[list[str], list[str]]:
    """``table``'s primary key becomes (user_id, id). With ``id_index``, ``id`` alone keeps a plain index: the
    statements that find a row by id without its person (the admin, the queue's sweeps, Django's deletion walk)
    stay index lookups; on Citus they fan out, which config/tests/test_tenancy.py keeps off the hot paths."""
    forward = [
        f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, ADD CONSTRAINT {table}_pkey PRIMARY KEY ({PERSON}, id)"
    ]
    reverse = [f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, ADD CONSTRAINT {table}_pkey PRIMARY KEY (id)"]
    if id_index:
        forward.append(f"CREATE INDEX {table}_id_idx ON {table} (id)")
        reverse.insert(0, f"DROP INDEX {table}_id_idx")
    return forward, reverse


def person_foreign_key(table: str, column: str, target: str) -> tuple[list[str], list[str]]:
    """``table (user_id, column) -> target (user_id, id)``, deferred to commit like Django's own keys."""
    name = f"{table}_{column}_person_fk"
    forward = (
        f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({PERSON}, {column}) "
        f"REFERENCES {target} ({PERSON}, id) DEFERRABLE INITIALLY DEFERRED"
    )
    return [forward], [f"ALTER TABLE {table} DROP CONSTRAINT {name}"]


def person_keys(
    primary: list[str], foreign: list[tuple[str, str, str]], *, without_id_index: frozenset[str] = frozenset()
) -> tuple[list[str], list[str]]:
    """Every primary key of ``primary`` swapped, then every key of ``foreign`` (table, column, target) added; the
    reverse undoes them in the opposite order."""
    forward: list[str] = []
    reverse: list[str] = []
    steps = [person_primary_key(t, id_index=t not in without_id_index) for t in primary]
    steps += [person_foreign_key(*key) for key in foreign]
    for fwd, rev in steps:
        forward += fwd
        reverse = rev + reverse
    return forward, reverse
