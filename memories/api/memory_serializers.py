"""Input and output of the /memories/ endpoints (listing, changing, deleting, exporting, importing)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import ISO_8601, serializers

from memories.api.serializers import PriorityField, ProviderField
from memories.models import Kind, Memory, Priority

EDITABLE_FIELDS = ("priority", "pinned")
_DATE_INPUT_FORMATS = [ISO_8601, "%Y-%m-%d"]


class MemoryOutput(serializers.ModelSerializer):
    priority = serializers.SerializerMethodField()

    class Meta:
        model = Memory
        fields = ["id", "kind", "provider", "prompt", "text", "priority", "pinned", "created_at"]
        read_only_fields = fields

    def get_priority(self, memory: Memory) -> str:
        return str(Priority(memory.priority).label)


class MemoryListQuery(serializers.Serializer):
    """Filters of ``GET /memories/``; give it a plain dict (a QueryDict would read a missing boolean as false)."""

    provider = ProviderField(required=False, max_length=32)
    kind = serializers.ChoiceField(choices=Kind.values, required=False)
    priority = PriorityField(required=False)
    pinned = serializers.BooleanField(required=False, allow_null=True, default=None)
    since = serializers.DateTimeField(
        required=False, input_formats=_DATE_INPUT_FORMATS, help_text="Saved at or after this time (ISO 8601)."
    )
    until = serializers.DateTimeField(
        required=False, input_formats=_DATE_INPUT_FORMATS, help_text="Saved before this time (ISO 8601)."
    )
    q = serializers.CharField(
        required=False,
        max_length=settings.MEMORY_MAX_QUERY_CHARS,
        help_text="Case-insensitive text search in the prompt and the text.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": "must be later than since."})
        return attrs


class MemoryUpdateInput(serializers.Serializer):
    """Only ``priority`` and ``pinned`` can change; a memory's content is what was said and stays as it was."""

    priority = PriorityField(required=False, help_text="low, normal or high.")
    pinned = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        others = sorted(set(self.initial_data) - set(EDITABLE_FIELDS))
        if others:
            raise serializers.ValidationError(
                f"Cannot change {', '.join(others)}: only {' and '.join(EDITABLE_FIELDS)} can be changed"
            )
        if not attrs:
            raise serializers.ValidationError(f"Nothing to change: send {' and/or '.join(EDITABLE_FIELDS)}")
        return attrs


class DeleteAllInput(serializers.Serializer):
    confirm = serializers.BooleanField(help_text="Must be true: every memory of yours is deleted for good.")

    def validate_confirm(self, value: bool) -> bool:
        if value is not True:
            raise serializers.ValidationError("must be true to delete every memory.")
        return value


class DeletedOutput(serializers.Serializer):
    success = serializers.BooleanField(default=True)
    deleted = serializers.IntegerField(help_text="How many memories were deleted.")


class ImportUploadInput(serializers.Serializer):
    file = serializers.FileField(help_text="A Memory Layer export (JSON or NDJSON) or ChatGPT's conversations.json.")


class ImportProblemOutput(serializers.Serializer):
    item = serializers.CharField(help_text="Where the item is in the upload.")
    status = serializers.ChoiceField(choices=["skipped", "failed"])
    reason = serializers.CharField()


class ImportOutput(serializers.Serializer):
    success = serializers.BooleanField(default=True)
    format = serializers.CharField(help_text="memorylayer.export or chatgpt.")
    imported = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="Already stored (same kind, prompt and text).")
    failed = serializers.IntegerField(help_text="Invalid items; nothing of them was stored.")
    problems = ImportProblemOutput(many=True, help_text="Why items were skipped or failed (the first 100).")
