"""The queue's worker on a direct PostgreSQL connection while the app goes through PgBouncer (docs/scale.md).

PgBouncer in transaction pooling hands each transaction any server connection, so a LISTEN would be lost with
the connection it ran on: procrastinate's worker would never hear a NOTIFY and fall back to polling. Deferring a
job stays on Django's connection (through PgBouncer), inside the saving transaction (its NOTIFY is sent at
commit, which transaction pooling keeps); only the worker's own connector goes to the server directly, to the
database Django uses (``test_…`` in tests), at DATABASE_DIRECT's host, port and credentials.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from procrastinate import App, psycopg_connector
from procrastinate.contrib.django import django_connector, utils


def direct_params() -> dict[str, Any]:
    """host, port, user and password of the server itself (started or attached to, when embedded)."""
    direct = settings.DATABASE_DIRECT
    if "EMBEDDED" in direct:
        from core.embedded_postgres.base import embedded_connection_params

        return embedded_connection_params(direct)
    # A socket directory comes as OPTIONS["host"] (postgres://user@/db?host=/path, as django-environ parses it).
    options = direct.get("OPTIONS", {})
    params = {key: options[key] for key in ("host", "port") if options.get(key)}
    keys = {"HOST": "host", "PORT": "port", "USER": "user", "PASSWORD": "password"}
    return {**params, **{param: direct[key] for key, param in keys.items() if direct.get(key)}}


class DirectWorkerConnector(django_connector.DjangoConnector):
    def get_worker_connector(self) -> psycopg_connector.PsycopgConnector:
        params = utils.connector_params(self.alias)
        for pooler_only in ("prepare_threshold", "password", "host", "port"):
            params.pop(pooler_only, None)
        return psycopg_connector.PsycopgConnector(kwargs={**params, **direct_params()})


def direct_worker(app: App) -> None:
    """PROCRASTINATE_ON_APP_READY when DATABASE_POOLER_URL is set."""
    app.connector = DirectWorkerConnector(alias=app.connector.alias)  # type: ignore[attr-defined]
