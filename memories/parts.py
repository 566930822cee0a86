"""A file kept in PostgreSQL as consecutive bytea rows ("parts"), for the FAISS snapshots (SearchIndexSnapshotPart)
and the import uploads (ImportUploadPart).

Why parts: bytea caps a value at 1 GB, and a process should hold one slice, not the file, in memory. A part
table has a foreign key to its owner row, a ``position`` (0, 1, 2, ...; unique per owner) and ``data``. Writes
happen inside the caller's transaction, so readers see every part of a file or none; reads take one part per
query. The size and SHA-256 come back from both sides, for the caller to check against what it recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.db import models


@dataclass(frozen=True)
class Blob:
    size: int
    sha256: str
    parts: int


class BlobParts:
    """The parts of one table: ``BlobParts(ImportUploadPart, owner="job", part_bytes=8 * 1024 * 1024)``.

    ``person`` names the parts' field holding the person when the table is per person (config/tenancy.py): it is
    copied from the owner row on store, and every read and delete names it (one shard on Citus, docs/scale.md).
    """

    def __init__(self, model: type[models.Model], *, owner: str, part_bytes: int, person: str | None = None) -> None:
        self.model = model
        self.owner = owner
        self.part_bytes = part_bytes
        self.person = person

    def store(self, owner: models.Model, file: IO[bytes]) -> Blob:
        """Write ``file`` (from where it stands) as parts of ``owner``; call inside a transaction."""
        digest, size, position = hashlib.sha256(), 0, 0
        mine = {self.owner: owner} | ({f"{self.person}_id": getattr(owner, f"{self.person}_id")} if self.person else {})
        while data := file.read(self.part_bytes):
            self.model._default_manager.create(**mine, position=position, data=data)
            digest.update(data)
            size += len(data)
            position += 1
        return Blob(size=size, sha256=digest.hexdigest(), parts=position)

    def read(self, owner_id: Any, *, person_id: Any = None) -> Iterator[bytes]:
        """The parts of ``owner_id`` (of ``person_id``, for a per-person table) in order, one query each."""
        rows = self._parts(person_id).filter(**{f"{self.owner}_id": owner_id})
        position = 0
        while (data := rows.filter(position=position).values_list("data", flat=True).first()) is not None:
            yield bytes(data)
            position += 1

    def copy_to(self, owner_id: Any, out: IO[bytes], *, person_id: Any = None) -> Blob:
        """Write the file back into ``out``; returns what was written, for the caller to check."""
        digest, size, parts = hashlib.sha256(), 0, 0
        for data in self.read(owner_id, person_id=person_id):
            out.write(data)
            digest.update(data)
            size += len(data)
            parts += 1
        return Blob(size=size, sha256=digest.hexdigest(), parts=parts)

    def delete(self, owner_ids: Iterable[Any], *, person_id: Any = None) -> None:
        self._parts(person_id).filter(**{f"{self.owner}_id__in": list(owner_ids)}).delete()

    def _parts(self, person_id: Any = None) -> models.QuerySet[Any]:
        rows = self.model._default_manager.all()
        if self.person is None:
            return rows
        if person_id is None:
            raise ValueError(f"{self.model.__name__} is per person: name the person ({self.person}_id)")
        return rows.filter(**{f"{self.person}_id": person_id})
