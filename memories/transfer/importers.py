"""Taking memories out and bringing them in: the export format, and the import of it and of ChatGPT's export.

Export format (``GET /memories/export``), version 1::

    {"format": "memorylayer.export", "version": 1, "exported_at": "...", "user_id": "...", "spaces": ["Personal"],
     "memories": [{"id": 1, "space": "Personal", "kind": "prompt", "provider": "chatgpt", "prompt": "",
                   "text": "...", "priority": "normal", "pinned": false, "created_at": "2025-11-20T11:00:00Z"}, ...],
     "count": 1}

or, with ``?format=ndjson``, one memory object per line. ``spaces`` names the spaces the export covers and each
memory names its own (an import stores everything into the one space it is given). Embeddings are never exported:
they are derived data, recomputed on import.

Import: the upload is recognised and read by the one reader (``memories.transfer.history``), whatever door it came
in by; ``import_candidates`` validates and stores what it yields, and ``memories.transfer.jobs`` decides whether it
runs within the request (a small upload) or in the queue's worker.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from accounts import services as account_services
from accounts.models import Preferences, Space, User, preferences_of
from core.errors import flatten_errors
from core.redaction import redact
from memories import selectors, services
from memories.embedding import pending
from memories.fields import PriorityField, ProviderField
from memories.models import Kind, Priority, SpaceScope, space_ids
from memories.transfer.history import EXPORT_FORMAT, Candidate

EXPORT_VERSION = 1
# Items validated, embedded (in one model call) and saved together during an import.
EMBED_BATCH_ITEMS = 64
# Failed items listed in an import report; the counts always cover every item.
MAX_REPORTED_PROBLEMS = 100

_datetime_field = serializers.DateTimeField()


# --- Export -----------------------------------------------------------------------------------------------


def export_item(row: dict[str, Any], space_names: dict[int, str]) -> dict[str, Any]:
    item = {key: value for key, value in row.items() if key != "space_id"}
    return {
        "id": item.pop("id"),
        "space": space_names.get(row["space_id"], ""),
        **item,
        "priority": str(Priority(row["priority"]).label),
        "created_at": _datetime_field.to_representation(row["created_at"]),
    }


def _space_names(*, user: User) -> dict[int, str]:
    return dict(Space.objects.filter(user=user).values_list("id", "name"))


def _covered(names: dict[int, str], space: SpaceScope | None) -> list[str]:
    return list(names.values()) if space is None else [names[pk] for pk in space_ids(space) if pk in names]


def export_json(*, user: User, space: SpaceScope | None) -> Iterator[str]:
    """The export document, piece by piece: memories are read from the database in batches, never all at once."""
    names = _space_names(user=user)
    header = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": _datetime_field.to_representation(timezone.now()),
        "user_id": str(user.pk),
        "spaces": _covered(names, space),
    }
    yield json.dumps(header, ensure_ascii=False)[:-1] + ', "memories": ['
    count = 0
    for row in selectors.memory_export_rows(user=user, space=space):
        yield ("\n" if count == 0 else ",\n") + json.dumps(export_item(row, names), ensure_ascii=False)
        count += 1
    yield f'\n], "count": {count}}}\n'


def export_ndjson(*, user: User, space: SpaceScope | None) -> Iterator[str]:
    names = _space_names(user=user)
    for row in selectors.memory_export_rows(user=user, space=space):
        yield json.dumps(export_item(row, names), ensure_ascii=False) + "\n"


# --- Validating and saving --------------------------------------------------------------------------------


class ImportItemInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Kind.values)
    provider = ProviderField(max_length=32)
    text = serializers.CharField(max_length=settings.MEMORY_MAX_TEXT_CHARS, trim_whitespace=False)
    prompt = serializers.CharField(
        max_length=settings.MEMORY_MAX_TEXT_CHARS, trim_whitespace=False, required=False, allow_blank=True, default=""
    )
    priority = PriorityField(required=False, default=Priority.NORMAL)
    pinned = serializers.BooleanField(required=False, default=False)
    created_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate_text(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def validate_created_at(self, value: datetime | None) -> datetime | None:
        if value is not None and value > timezone.now():
            raise serializers.ValidationError("is in the future.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["kind"] == Kind.PROMPT and attrs["prompt"]:
            raise serializers.ValidationError({"prompt": "only an answer (kind 'response') has a prompt."})
        return attrs


@dataclass
class ImportReport:
    format: str
    imported: int = 0
    skipped: int = 0  # duplicates included
    failed: int = 0
    duplicates: int = 0
    done: int = 0  # items handled
    problems: list[dict[str, str]] = field(default_factory=list)

    def note(self, outcome: str, ref: str, reason: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        # Only failures are listed: a re-import's thousands of duplicates must not crowd them out.
        if outcome == "failed" and len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append({"item": ref, "status": outcome, "reason": reason})


def _first_error(detail: Any) -> str:
    return "; ".join(flatten_errors(detail)) or "invalid item"


def import_candidates(
    *,
    user: User,
    found: Iterable[Candidate],
    space: Space | None = None,
    report: ImportReport,
    embed_now: bool,
    progress: Callable[[ImportReport], None] | None = None,
) -> None:
    """Validate and store ``found`` (read lazily, EMBED_BATCH_ITEMS at a time) into ``report``'s counts.

    Each batch is one transaction with one embedding job; ``embed_now`` embeds the batch's chunks right after
    it commits (the import's worker, so that "done" means searchable). ``progress`` is called after each batch.
    """
    prefs = preferences_of(user)
    space = space or account_services.space_default(user=user)
    items = iter(found)
    while batch := list(itertools.islice(items, EMBED_BATCH_ITEMS)):
        valid = [(candidate, _validated(candidate, report, pii=prefs.redact_pii)) for candidate in batch]
        to_save = [(candidate, v) for candidate, v in valid if v is not None]
        # One transaction per batch (each save a savepoint within it). With ``embed_now`` this process embeds the
        # batch's chunks right after (an import turn within its own transaction); else one live embedding job per
        # batch embeds them together. (Should this process die in between, the next embedding job of anyone's
        # save takes every chunk still waiting.)
        with transaction.atomic():
            stored = [_save(user, space, candidate, v, report, prefs) for candidate, v in to_save]
            new_ids = [memory_id for memory_id in stored if memory_id is not None]
            if new_ids and not embed_now:
                pending.embedding_deferred()
        if new_ids and embed_now:
            pending.chunks_embed_pending(memory_ids=new_ids, user_id=user.pk)
        report.done += len(batch)
        if progress is not None:
            progress(report)


def _validated(candidate: Candidate, report: ImportReport, *, pii: bool) -> dict[str, Any] | None:
    if not isinstance(candidate.data, dict):
        report.note("failed", candidate.ref, "not a JSON object")
        return None
    item = ImportItemInput(data=candidate.data)
    if not item.is_valid():
        report.note("failed", candidate.ref, _first_error(item.errors))
        return None
    v = dict(item.validated_data)
    if v["kind"] == Kind.PROMPT:
        v["prompt"] = ""
    # Redacted here already (memory_save would too) so that the batch embeds and dedups the stored text.
    v["text"], v["prompt"] = redact(v["text"], pii=pii).text, redact(v["prompt"], pii=pii).text
    return v


def _save(
    user: User, space: Space, candidate: Candidate, v: dict[str, Any], report: ImportReport, prefs: Preferences
) -> int | None:
    """Store one item without its vectors (the caller queues them); the new memory's id, if one was stored."""
    result = services.memory_save(
        user=user,
        space=space,
        kind=v["kind"],
        provider=v["provider"],
        text=v["text"],
        prompt=v["prompt"],
        priority=v["priority"],
        pinned=v["pinned"],
        created_at=v["created_at"],
        preferences=prefs,
        capture_rules=False,  # an import is the person's own explicit act: only excluded phrases apply
        embed_inline=False,
        defer_embedding=False,
    )
    if result.memory is None:
        report.note("skipped", candidate.ref, str(result.skipped))
    elif result.duplicate:
        report.duplicates += 1
        report.note("skipped", candidate.ref, f"already stored as memory {result.memory.pk}")
    else:
        report.imported += 1
        return int(result.memory.pk)
    return None
