"""The MCP tools' input schemas, generated from the serializers that validate the arguments (one definition:
the fields, their caps and their descriptions live in mcp_server.serializers only).

Only the field kinds the tools use are mapped; another kind is a programming error, raised at import time of
the tool list (and by the tests), not a schema that silently says less than the serializer checks.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.drainage import get_override
from rest_framework import serializers

from memories.fields import ProviderField


def input_schema(serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
    """The JSON schema of a tool's arguments: each field's type and bounds, required ones, nothing else."""
    fields = serializer_class().fields
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {name: field_schema(field) for name, field in fields.items()},
    }
    required = [name for name, field in fields.items() if field.required]
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False  # the serializers refuse unknown arguments
    return schema


def field_schema(field: serializers.Field) -> dict[str, Any]:
    schema = _typed(field)
    if field.help_text:
        schema["description"] = str(field.help_text)
    return schema


def _typed(field: serializers.Field) -> dict[str, Any]:
    annotated = get_override(field, "field")  # a field typed for OpenAPI (@extend_schema_field) says it once
    if isinstance(annotated, dict):
        return {key: value for key, value in annotated.items() if key != "nullable"}  # OpenAPI-only keyword
    if isinstance(field, ProviderField):  # before CharField: a provider is one of the configured names
        return {"type": "string", "enum": list(settings.MEMORY_PROVIDERS)}
    if isinstance(field, serializers.DateTimeField):
        return {"type": "string", "format": "date-time"}
    if isinstance(field, serializers.CharField):
        return _bounded({"type": "string"}, minLength=None if field.allow_blank else 1, maxLength=field.max_length)
    if isinstance(field, serializers.IntegerField):
        return _bounded({"type": "integer"}, minimum=field.min_value, maximum=field.max_value)
    raise TypeError(f"No JSON schema mapping for {type(field).__name__}")


def _bounded(schema: dict[str, Any], **bounds: Any) -> dict[str, Any]:
    return {**schema, **{key: value for key, value in bounds.items() if value is not None}}
