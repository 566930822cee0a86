"""The tools' input schemas come from their argument serializers: one definition, so they cannot disagree."""

from __future__ import annotations

import pytest
from django.conf import settings
from rest_framework import serializers

from mcp_server.schemas import input_schema
from mcp_server.serializers import ForgetArguments, RecentArguments, SaveArguments, SearchArguments
from mcp_server.server import tool_definitions

ARGUMENTS = {
    "search_memories": SearchArguments,
    "save_memory": SaveArguments,
    "recent_memories": RecentArguments,
    "forget_memory": ForgetArguments,
}


def test_it_lists_every_tool_with_the_schema_of_its_serializer():
    listed = {tool.name: tool.input_schema for tool in tool_definitions()}
    assert listed == {name: input_schema(arguments) for name, arguments in ARGUMENTS.items()}


def test_it_takes_the_fields_bounds_and_descriptions_from_the_serializer():
    search = input_schema(SearchArguments)
    assert search["required"] == ["query"] and search["additionalProperties"] is False
    assert search["properties"]["query"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": settings.MEMORY_MAX_QUERY_CHARS,
        "description": "What to look for, in the person's words, e.g. 'where do I live'.",
    }
    assert search["properties"]["max_tokens"]["minimum"] == 0
    assert search["properties"]["max_tokens"]["maximum"] == settings.CONTEXT_MAX_TOKENS_LIMIT
    assert search["properties"]["provider"]["enum"] == list(settings.MEMORY_PROVIDERS)
    assert search["properties"]["since"]["format"] == "date-time"
    recent = input_schema(RecentArguments)
    assert "required" not in recent and recent["properties"]["limit"]["maximum"] == 50


@pytest.mark.parametrize("arguments", list(ARGUMENTS.values()))
def test_it_describes_every_argument_the_serializer_takes(arguments):
    schema = input_schema(arguments)
    assert set(schema["properties"]) == set(arguments().fields)
    assert all(prop.get("description") for prop in schema["properties"].values())


def test_it_refuses_a_field_it_cannot_describe():
    class Odd(serializers.Serializer):
        flag = serializers.BooleanField()

    with pytest.raises(TypeError, match="BooleanField"):
        input_schema(Odd)
