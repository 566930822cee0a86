"""Django's PostgreSQL backend, pointed at the embedded server, which it starts when a connection is first needed.

Importing the settings therefore starts nothing (mypy, ``manage.py check``, ``collectstatic`` never start a
server); the processes that open a connection (``make run``'s gunicorn, the worker, tests, ``migrate``) start or
attach to it. The settings name the data directory in ``DATABASES["default"]["EMBEDDED"]``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from core.embedded_db import embedded_database_url
from core.postgres import base


def embedded_connection_params(settings_dict: dict[str, Any]) -> dict[str, Any]:
    """host, port and user of the embedded server named by ``settings_dict["EMBEDDED"]`` (started if needed)."""
    embedded = settings_dict["EMBEDDED"]
    url = urlsplit(embedded_database_url(embedded["pgdata"], cleanup=embedded.get("cleanup", "stop")))
    query = parse_qs(url.query)
    params: dict[str, Any] = {"user": url.username or "postgres"}
    host = query.get("host", [url.hostname or ""])[0]
    if host:
        params["host"] = host
    if url.port:
        params["port"] = url.port
    return params


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        params.update(embedded_connection_params(self.settings_dict))
        return params
