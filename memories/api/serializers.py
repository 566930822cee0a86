from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import ISO_8601, serializers

from accounts.api.serializers import SpaceRefField
from core.fields import StrictCharField, StrictIntegerField
from core.inputs import InputSerializer
from memories.fields import PriorityField, ProviderField
from memories.models import Kind, Memory, Priority

# A client's clock may run a little ahead of ours; a timestamp further ahead than this is refused.
CLOCK_SKEW = timedelta(seconds=60)


def _text_field(**kwargs: Any) -> StrictCharField:
    # DRF's CharField already refuses NUL bytes and lone surrogates (which PostgreSQL cannot store).
    return StrictCharField(
        max_length=settings.MEMORY_MAX_TEXT_CHARS, trim_whitespace=False, allow_blank=False, **kwargs
    )


class _SaveInput(InputSerializer):
    # The seed's endpoints, called by clients we do not ship: other keys are ignored (docs/api-policy.md).
    ignore_unknown_fields = True

    user_id = serializers.UUIDField(required=False)
    space = SpaceRefField()  # read by the resolver (accounts.spaces) before validation
    provider = ProviderField(required=False, default="chatgpt", max_length=32)
    priority = PriorityField(required=False, default=Priority.NORMAL)
    pinned = serializers.BooleanField(required=False, default=False)
    # The original time of the message (backfills, imports); stored as the memory's created_at.
    timestamp = serializers.DateTimeField(required=False, default=None)

    def validate_timestamp(self, value: Any) -> Any:
        if value is not None and value > timezone.now() + CLOCK_SKEW:
            raise serializers.ValidationError("must not be in the future")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for name in ("prompt", "response"):
            if name in attrs and not attrs[name].strip():
                raise serializers.ValidationError({name: "This field may not be blank."})
        return attrs


class SavePromptInput(_SaveInput):
    prompt = _text_field()


class SaveResponseInput(_SaveInput):
    prompt = _text_field()
    response = _text_field()


class SaveOutput(serializers.Serializer):
    success = serializers.BooleanField(default=True)
    chunks_stored = serializers.IntegerField()
    timestamp = serializers.DateTimeField()
    memory_id = serializers.IntegerField()
    duplicate = serializers.BooleanField()
    redacted = serializers.IntegerField(help_text="Secrets replaced by [REDACTED:<kind>] before storing.")


class SkippedOutput(serializers.Serializer):
    """A save the person's capture settings (GET /me/settings) turned away: 200, nothing stored."""

    success = serializers.BooleanField(default=True)
    chunks_stored = serializers.IntegerField()
    timestamp = serializers.DateTimeField()
    skipped = serializers.CharField(help_text="Why nothing was stored, e.g. 'capture is off for grok'.")


class ContextQueryInput(InputSerializer):
    ignore_unknown_fields = True  # a query string (the seed's /context): docs/api-policy.md

    space = SpaceRefField()  # read by the resolver (accounts.spaces) before validation

    query = serializers.CharField(max_length=settings.MEMORY_MAX_QUERY_CHARS)
    top_k = serializers.IntegerField(
        required=False, default=settings.CONTEXT_TOP_K_DEFAULT, min_value=1, max_value=settings.CONTEXT_TOP_K_MAX
    )
    provider = ProviderField(required=False, default=None, max_length=32)
    kind = serializers.ChoiceField(choices=Kind.values, required=False, default=None)
    since = serializers.DateTimeField(required=False, default=None)
    until = serializers.DateTimeField(required=False, default=None)
    min_score = serializers.FloatField(
        required=False,
        default=None,
        min_value=-1,
        max_value=1,
        help_text="Only memories at least this similar to the query (cosine, -1 to 1; the answer's `score`). "
        "Given, it replaces the default abstention floor; -1 returns the closest memories whatever they are.",
    )
    max_tokens = serializers.IntegerField(
        required=False,
        default=None,
        min_value=0,
        max_value=settings.CONTEXT_MAX_TOKENS_LIMIT,
        help_text=f"Token budget over all context strings (default {settings.CONTEXT_MAX_TOKENS}; 0: no budget). "
        "Results are packed best first; a long answer contributes its most relevant sentences.",
    )

    def validate_min_score(self, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise serializers.ValidationError("A valid number is required.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["since"] and attrs["until"] and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"since": "must not be after until"})
        return attrs


class ContextResultOutput(serializers.Serializer):
    memory_id = serializers.IntegerField()
    text = serializers.CharField()
    score = serializers.FloatField()
    rank = serializers.IntegerField()
    provider = serializers.CharField()
    kind = serializers.CharField()
    created_at = serializers.DateTimeField()
    priority = serializers.SerializerMethodField()

    def get_priority(self, obj: Any) -> str:
        return str(Priority(obj.priority).label)


class ContextOutput(serializers.Serializer):
    contexts = serializers.ListField(child=serializers.CharField())
    count = serializers.IntegerField()
    results = ContextResultOutput(many=True)


EDITABLE_FIELDS = ("priority", "pinned", "all_spaces")
_DATE_INPUT_FORMATS = [ISO_8601, "%Y-%m-%d"]


class MemoryOutput(serializers.ModelSerializer):
    priority = serializers.SerializerMethodField()

    class Meta:
        model = Memory
        fields = [
            "id",
            "space",
            "kind",
            "provider",
            "prompt",
            "text",
            "priority",
            "pinned",
            "all_spaces",
            "created_at",
            "superseded_by",
        ]
        read_only_fields = fields

    def get_priority(self, memory: Memory) -> str:
        return str(Priority(memory.priority).label)


class MemoryListQuery(InputSerializer):
    """Filters of ``GET /memories/``; give it a plain dict (a QueryDict would read a missing boolean as false)."""

    ignore_unknown_fields = True  # a query string, shared with pagination (page, page_size): docs/api-policy.md

    space = SpaceRefField(help_text="The space's id, or all (every space you may use); left out: the default.")
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


class MemoryUpdateInput(InputSerializer):
    """Only ``priority``, ``pinned`` and ``all_spaces`` can change; a memory's content is what was said and stays as
    it was (and its space changes by POST /memories/move)."""

    space = SpaceRefField(help_text="The space the memory is in (left out: the default space, or the header's).")
    priority = PriorityField(required=False, help_text="low, normal or high.")
    pinned = serializers.BooleanField(required=False)
    all_spaces = serializers.BooleanField(
        required=False, help_text="A standing preference only: true offers it in every space's context."
    )

    def unknown_fields_error(self, names: list[str]) -> Any:
        return (
            f"Cannot change {', '.join(names)}: only priority and pinned can be changed (and all_spaces, for a "
            "standing preference; a memory moves to another space by POST /memories/move)"
        )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.pop("space", None)
        if not attrs:
            raise serializers.ValidationError(f"Nothing to change: send {' and/or '.join(EDITABLE_FIELDS)}")
        return attrs


class DeleteAllInput(InputSerializer):
    confirm = serializers.BooleanField(help_text="Must be true: every memory of the space is deleted for good.")
    space = SpaceRefField(help_text="The space emptied, or all (every space you may use); left out: the default.")

    def validate_confirm(self, value: bool) -> bool:
        if value is not True:
            raise serializers.ValidationError("must be true to delete every memory.")
        return value


class DeletedOutput(serializers.Serializer):
    success = serializers.BooleanField(default=True)
    deleted = serializers.IntegerField(help_text="How many memories were deleted.")


class AccountDeleteInput(InputSerializer):
    confirm = serializers.BooleanField(help_text="Must be true: the account and everything in it are deleted for good.")
    password = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        trim_whitespace=False,
        max_length=4096,
        help_text="The account's password (not needed for an account without one, made from a Supabase token).",
    )
    code = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=64,
        help_text="With two-factor sign-in on: a current code from the authenticator app, or a recovery code.",
    )

    def validate_confirm(self, value: bool) -> bool:
        if value is not True:
            raise serializers.ValidationError("must be true to delete the account.")
        return value


class AccountDeletedOutput(serializers.Serializer):
    success = serializers.BooleanField(default=True)
    deleted_at = serializers.DateTimeField(help_text="When the account was deleted.")


class ImportUploadInput(InputSerializer):
    space = SpaceRefField(help_text="The space imported into (or ?space= / the header); left out: the default.")
    file = serializers.FileField(
        help_text="ChatGPT's conversations.json or export .zip, claude.ai's conversations.json, or a Memory Layer "
        "export (JSON or NDJSON)."
    )


class ImportProblemOutput(serializers.Serializer):
    item = serializers.CharField(help_text="Where the item is in the upload.")
    status = serializers.ChoiceField(choices=["skipped", "failed"])
    reason = serializers.CharField()


class ImportJobOutput(serializers.Serializer):
    job_id = serializers.UUIDField(source="pk")
    status = serializers.ChoiceField(choices=["queued", "running", "done", "failed"])
    format = serializers.CharField(help_text="chatgpt, claude or memorylayer.export.")
    filename = serializers.CharField()
    total = serializers.IntegerField(help_text="Messages in the file (0 until the worker has counted them).")
    done = serializers.IntegerField(help_text="Messages handled so far.")
    imported = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Already stored: nothing new written.")
    skipped = serializers.IntegerField(help_text="Left out by the person's excluded phrases.")
    failed = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        # "errors" is the contract's name, and also Serializer's own attribute: declared here instead.
        fields = super().get_fields()
        fields["errors"] = serializers.ListField(
            child=serializers.DictField(), help_text="Why messages failed, or the file did (the first 100)."
        )
        return fields


class ImportOutput(ImportJobOutput):
    """What POST /memories/import answers (200 done within the request, 202 queued) and GET status_url shows: one
    shape, whatever the size of the upload and the door it came in by."""

    success = serializers.BooleanField(default=True)
    status_url = serializers.SerializerMethodField(help_text="GET it for the import's progress.")

    def get_status_url(self, job: Any) -> str:
        return str(self.context["status_url"])


class MemoryMoveInput(InputSerializer):
    ids = serializers.ListField(
        child=StrictIntegerField(min_value=1), allow_empty=False, max_length=1000, help_text="The memories to move."
    )
    space = SpaceRefField(required=True, allow_null=False, help_text="The id of the space they move to.")


class MovedOutput(serializers.Serializer):
    success = serializers.BooleanField(default=True)
    moved = serializers.IntegerField(help_text="Memories now in the other space.")
    merged = serializers.IntegerField(help_text="Memories the other space held already: kept there once.")


class SpaceDeletedOutput(serializers.Serializer):
    success = serializers.BooleanField(default=True)
    deleted = serializers.IntegerField(help_text="Memories deleted with the space (memories=delete).")
    moved = serializers.IntegerField(help_text="Memories moved to the other space first (memories=move).")
    merged = serializers.IntegerField(help_text="Of those, the ones the other space held already (kept once).")
