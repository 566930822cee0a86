"""Where a FAISS build goes between the process that builds it and the processes that serve it: one interface, the
implementation chosen by FAISS_INDEX_STORE. Nothing else reads that setting.

- ``file``: the build is the file at FAISS_INDEX_PATH, on a disk the builder and the servers share; every
  server notices a new build through the file's stat (memories.search.search_index). Nothing more to do.
- ``database``: the builder also stores the build in PostgreSQL (SearchIndexSnapshot, in parts), and each
  serving process fetches a newer snapshot into its own FAISS_INDEX_PATH (Render: the cron job and the web
  instances share no disk). Implemented beside the code that writes and fetches snapshots,
  :class:`memories.search.indexing.DatabaseStore`.

The store object is made on first use from the setting (as sentry's lazy services are), and named by a dotted
path so this module imports neither implementation's dependencies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

STORES = {
    "file": "memories.search.index_store.FileStore",
    "database": "memories.search.indexing.DatabaseStore",
}


class IndexStore(Protocol):
    name: str

    def publish(self, *, path: Path, meta: dict[str, Any]) -> int | None:
        """After a build at ``path`` (sidecar ``meta``): make it reach every serving process; the stored
        snapshot's id, if the store keeps one."""

    def refresh_if_due(self) -> None:
        """Before a search: start getting a newer build if one may exist. Never blocks the request."""

    def sync(self) -> str:
        """Get a newer build now, in this thread (commands, tests): fetched, current, busy, refused or none."""

    def describe(self, meta: dict[str, Any] | None) -> dict[str, Any]:
        """Fields this store adds to ``index_status`` (``meta``: the local sidecar, if readable)."""


class FileStore:
    """FAISS_INDEX_STORE=file: the file is the build; servers read it from the shared disk."""

    name = "file"

    def publish(self, *, path: Path, meta: dict[str, Any]) -> int | None:
        return None

    def refresh_if_due(self) -> None:
        return None

    def sync(self) -> str:
        return "none"

    def describe(self, meta: dict[str, Any] | None) -> dict[str, Any]:
        return {}


_stores: dict[str, IndexStore] = {}


def index_store() -> IndexStore:
    """The store FAISS_INDEX_STORE names, made once per process (and per value: tests switch the setting)."""
    name = settings.FAISS_INDEX_STORE
    store = _stores.get(name)
    if store is None:
        store = _stores.setdefault(name, import_string(STORES[name])())
    return store
