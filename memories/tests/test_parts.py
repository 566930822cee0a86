"""memories.parts: a file in consecutive bytea rows, as the import uploads and the FAISS snapshots keep theirs."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.db import transaction

from accounts.services import space_default
from memories.models import ImportJob, ImportUploadPart
from memories.parts import BlobParts

pytestmark = pytest.mark.django_db

CONTENT = bytes(range(256)) * 41  # 10,496 bytes: two full parts of 4096 and a short one


@pytest.fixture
def parts():
    return BlobParts(ImportUploadPart, owner="job", part_bytes=4096, person="user")


@pytest.fixture
def job(alice):
    return ImportJob.objects.create(
        user=alice, space=space_default(user=alice), format="memory-layer", filename="x.json", size=len(CONTENT)
    )


def test_it_stores_a_file_in_parts_and_gives_it_back_byte_for_byte(parts, job):
    with transaction.atomic():
        stored = parts.store(job, io.BytesIO(CONTENT))
    out = io.BytesIO()
    copied = parts.copy_to(job.pk, out, person_id=job.user_id)

    assert stored.parts == 3 and ImportUploadPart.objects.filter(user=job.user, job=job).count() == 3
    assert out.getvalue() == CONTENT
    assert stored == copied and copied.sha256 == hashlib.sha256(CONTENT).hexdigest() and copied.size == len(CONTENT)


def test_it_reads_nothing_for_an_owner_without_parts_and_deletes_only_the_owners_parts(parts, job, alice):
    other = ImportJob.objects.create(
        user=alice, space=space_default(user=alice), format="memory-layer", filename="y.json", size=4
    )
    parts.store(job, io.BytesIO(CONTENT))
    parts.store(other, io.BytesIO(b"keep"))

    parts.delete([job.pk], person_id=alice.pk)

    assert list(parts.read(job.pk, person_id=alice.pk)) == []
    assert list(parts.read(other.pk, person_id=alice.pk)) == [b"keep"]


def test_it_reads_a_per_person_tables_parts_only_with_the_person_named(parts, job, alice, bob):
    parts.store(job, io.BytesIO(b"mine"))

    assert list(parts.read(job.pk, person_id=bob.pk)) == []  # another person's id finds nothing
    with pytest.raises(ValueError, match="per person"):
        list(parts.read(job.pk))
