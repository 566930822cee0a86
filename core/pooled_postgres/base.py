"""Django's PostgreSQL backend for connections through PgBouncer (DATABASE_POOLER_URL, docs/scale.md).

One difference: a test database is dropped WITH (FORCE). PgBouncer keeps idle server connections to it in its pool
after the test run closes its own, and a plain DROP DATABASE refuses a database others are connected to.
"""

from __future__ import annotations

from django.db.backends.postgresql import creation

from core.postgres import base


class DatabaseCreation(creation.DatabaseCreation):
    def _destroy_test_db(self, test_database_name: str, verbosity: int) -> None:
        with self._nodb_cursor() as cursor:  # type: ignore[attr-defined]  # on the PostgreSQL creation class
            cursor.execute(f"DROP DATABASE {self.connection.ops.quote_name(test_database_name)} WITH (FORCE)")


class DatabaseWrapper(base.DatabaseWrapper):
    creation_class = DatabaseCreation
