"""Taking memories out and bringing them in: the export format, and the import of it and of ChatGPT's export.

Export format (``GET /memories/export``), version 1::

    {"format": "memorylayer.export", "version": 1, "exported_at": "...", "user_id": "...",
     "memories": [{"id": 1, "kind": "prompt", "provider": "chatgpt", "prompt": "", "text": "...",
                   "priority": "normal", "pinned": false, "created_at": "2025-11-20T11:00:00Z"}, ...],
     "count": 1}

or, with ``?format=ndjson``, one memory object per line. Embeddings are never exported: they are derived
data, recomputed on import.

Import (``POST /memories/import``) accepts that document, a list of memory objects (as JSON or NDJSON), or
ChatGPT's ``conversations.json`` (Settings → Data controls → Export), in which every user message becomes a
prompt memory and every assistant answer a response memory paired with the user message it follows.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from accounts.models import Preferences, User, preferences_of
from core.errors import flatten_errors
from core.exceptions import InvalidInput, TooLarge
from core.redaction import redact
from memories import selectors, services
from memories.embedding import pending
from memories.fields import PriorityField, ProviderField
from memories.models import Kind, Priority

EXPORT_FORMAT = "memorylayer.export"
EXPORT_VERSION = 1
CHATGPT = "chatgpt"
# Items validated, embedded (in one model call) and saved together during an import.
EMBED_BATCH_ITEMS = 64
# Per-item problems listed in an import report; the counts always cover every item.
MAX_REPORTED_PROBLEMS = 100

_datetime_field = serializers.DateTimeField()


# --- Export -----------------------------------------------------------------------------------------------


def export_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "priority": str(Priority(row["priority"]).label),
        "created_at": _datetime_field.to_representation(row["created_at"]),
    }


def export_json(*, user: User) -> Iterator[str]:
    """The export document, piece by piece: memories are read from the database in batches, never all at once."""
    header = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": _datetime_field.to_representation(timezone.now()),
        "user_id": str(user.pk),
    }
    yield json.dumps(header, ensure_ascii=False)[:-1] + ', "memories": ['
    count = 0
    for row in selectors.memory_export_rows(user=user):
        yield ("\n" if count == 0 else ",\n") + json.dumps(export_item(row), ensure_ascii=False)
        count += 1
    yield f'\n], "count": {count}}}\n'


def export_ndjson(*, user: User) -> Iterator[str]:
    for row in selectors.memory_export_rows(user=user):
        yield json.dumps(export_item(row), ensure_ascii=False) + "\n"


# --- Reading an upload ------------------------------------------------------------------------------------


def too_big_message() -> str:
    return (
        f"Import too large: the limit is {settings.MEMORY_IMPORT_MAX_BYTES} bytes (MEMORY_IMPORT_MAX_BYTES). "
        "Split the file and import the parts one after another."
    )


@dataclass(frozen=True)
class Candidate:
    """One memory to import, before validation; ``ref`` says where it came from in the upload."""

    ref: str
    data: Any  # a dict, unless the upload put something else in the list


def parse_ndjson(text: str) -> list[Any]:
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"Line {number} is not valid JSON: {exc.msg}") from exc
    return items


def parse_file(raw: bytes) -> Any:
    """An uploaded file's content: one JSON document, or NDJSON (one JSON value per line)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("The uploaded file is not UTF-8 text") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return parse_ndjson(text)


def candidates(payload: Any) -> tuple[str, list[Candidate]]:
    """Recognise the upload's format and list the memories in it."""
    fmt, found = _recognise(payload)
    if not found:
        raise InvalidInput("Nothing to import: the upload holds no memories")
    return fmt, found


def _recognise(payload: Any) -> tuple[str, list[Candidate]]:
    if isinstance(payload, dict) and isinstance(payload.get("memories"), list):
        return EXPORT_FORMAT, _export_candidates(payload["memories"])
    if isinstance(payload, dict) and (isinstance(payload.get("mapping"), dict) or "text" in payload):
        payload = [payload]  # one conversation, or one memory (a one-line NDJSON file)
    if isinstance(payload, list) and payload and all(isinstance(c, dict) and "mapping" in c for c in payload):
        return CHATGPT, chatgpt_candidates(payload)
    if isinstance(payload, list) and (not payload or any(isinstance(item, dict) for item in payload)):
        return EXPORT_FORMAT, _export_candidates(payload)
    if payload == {}:
        return EXPORT_FORMAT, []
    raise InvalidInput(
        "Unrecognised import format: send a Memory Layer export (a document with a 'memories' list, or memory "
        "objects as a JSON list or NDJSON) or ChatGPT's conversations.json"
    )


def _export_candidates(items: list[Any]) -> list[Candidate]:
    return [Candidate(ref=f"memories[{i}]", data=item) for i, item in enumerate(items)]


# --- ChatGPT's conversations.json -------------------------------------------------------------------------


def _thread(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    """The conversation's nodes in reading order: the branch that ends at ``current_node`` (what the person
    last saw, leaving out abandoned edits and regenerations), or every node by time if that is missing."""
    mapping: dict[str, Any] = conversation.get("mapping") or {}
    node_id = conversation.get("current_node")
    if node_id in mapping:
        chain: list[dict[str, Any]] = []
        seen: set[str] = set()
        while node_id in mapping and node_id not in seen:
            seen.add(node_id)
            node = mapping[node_id] if isinstance(mapping[node_id], dict) else {}
            chain.append({"id": node_id, **node})
            node_id = node.get("parent")
        return chain[::-1]
    nodes = [{"id": key, **node} for key, node in mapping.items() if isinstance(node, dict)]
    return sorted(nodes, key=lambda node: _number((node.get("message") or {}).get("create_time")) or 0.0)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content") or {}
    if content.get("content_type", "text") not in ("text", "multimodal_text"):
        return ""  # code sent to tools, tool output, hidden reasoning
    parts = content.get("parts") or []
    return "\n".join(part for part in parts if isinstance(part, str)).strip()


def _message_role(message: dict[str, Any]) -> str:
    if message.get("recipient", "all") != "all":
        return ""  # a call to a tool, not an answer to the person
    if (message.get("metadata") or {}).get("is_visually_hidden_from_conversation"):
        return ""
    return str((message.get("author") or {}).get("role") or "")


def _timestamp(message: dict[str, Any], conversation: dict[str, Any]) -> datetime | str | None:
    seconds = _number(message.get("create_time"))
    if seconds is None:
        seconds = _number(conversation.get("create_time"))
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return "invalid"  # reported as a failed item by validation


def chatgpt_candidates(conversations: Iterable[dict[str, Any]]) -> list[Candidate]:
    found: list[Candidate] = []
    for number, conversation in enumerate(conversations):
        found.extend(chatgpt_conversation_candidates(number, conversation))
    return found


def chatgpt_conversation_candidates(number: int, conversation: dict[str, Any]) -> list[Candidate]:
    """The memories in one conversation, the ``number``-th (from 0) of its file."""
    found: list[Candidate] = []
    title = str(conversation.get("title") or "untitled")[:60]
    last_prompt = ""
    for node in _thread(conversation):
        message = node.get("message") if isinstance(node.get("message"), dict) else None
        if message is None:
            continue
        role, text = _message_role(message), _message_text(message)
        if role not in ("user", "assistant") or not text:
            continue
        data = {"provider": CHATGPT, "text": text, "created_at": _timestamp(message, conversation)}
        if role == "user":
            last_prompt = text
            data["kind"] = Kind.PROMPT
        else:
            data.update(kind=Kind.RESPONSE, prompt=last_prompt)
        found.append(Candidate(ref=f"conversation {number} ({title!r}) message {node['id']}", data=data))
    return found


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
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append({"item": ref, "status": outcome, "reason": reason})


def _first_error(detail: Any) -> str:
    return "; ".join(flatten_errors(detail)) or "invalid item"


def memories_import(
    *,
    user: User,
    payload: Any,
    max_items: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import every memory in ``payload``: each is validated and saved on its own, so one bad item fails alone;
    memories already stored (same kind, prompt and text) are skipped; original timestamps are kept.

    ``max_items`` caps an import made within a request (the API passes MEMORY_IMPORT_MAX_ITEMS); the
    ``import_memories`` command passes none. ``progress(done, total)`` is called after each batch.

    Items are taken ``EMBED_BATCH_ITEMS`` at a time, and the new ones of a batch are embedded in one model call.
    """
    fmt, found = candidates(payload)
    found_order = {candidate.ref: position for position, candidate in enumerate(found)}
    if max_items is not None and len(found) > max_items:
        raise TooLarge(
            f"Too many memories in one import: {len(found)}; the limit is {max_items} (MEMORY_IMPORT_MAX_ITEMS). "
            "Split the file and import the parts one after another."
        )
    report = ImportReport(format=fmt)
    import_candidates(
        user=user,
        found=found,
        report=report,
        embed_now=settings.MEMORY_EMBED_INLINE,
        progress=None if progress is None else lambda r: progress(r.done, len(found)),
    )
    report.problems.sort(key=lambda problem: found_order[problem["item"]])
    return report


def import_candidates(
    *,
    user: User,
    found: Iterable[Candidate],
    report: ImportReport,
    embed_now: bool,
    progress: Callable[[ImportReport], None] | None = None,
) -> None:
    """Validate and store ``found`` (read lazily, EMBED_BATCH_ITEMS at a time) into ``report``'s counts.

    Each batch is one transaction with one embedding job; ``embed_now`` embeds the batch's chunks right after
    it commits (the import's worker, so that "done" means searchable). ``progress`` is called after each batch.
    """
    prefs = preferences_of(user)
    items = iter(found)
    while batch := list(itertools.islice(items, EMBED_BATCH_ITEMS)):
        valid = [(candidate, _validated(candidate, report, pii=prefs.redact_pii)) for candidate in batch]
        to_save = [(candidate, v) for candidate, v in valid if v is not None]
        # One transaction and one embedding job per batch (each save a savepoint within it); the worker embeds
        # the batch's chunks together, or this process does right after.
        with transaction.atomic():
            stored = [_save(user, candidate, v, report, prefs) for candidate, v in to_save]
            new_ids = [memory_id for memory_id in stored if memory_id is not None]
            if new_ids:
                pending.embedding_deferred()
        if new_ids and embed_now:
            pending.chunks_embed_pending(memory_ids=new_ids)
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


def _save(user: User, candidate: Candidate, v: dict[str, Any], report: ImportReport, prefs: Preferences) -> int | None:
    """Store one item without its vectors (the caller queues them); the new memory's id, if one was stored."""
    result = services.memory_save(
        user=user,
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
