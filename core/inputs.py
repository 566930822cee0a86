"""The API's input policy, declared once: a body is a JSON object, and a key no field declares is refused.

Every input serializer derives from :class:`InputSerializer`. A key it does not declare is a 400 naming the key
(``scopes: unknown field; expected name, scope, expires_at``) rather than silently ignored: a client that
misspells ``scope`` must not get a read-only token and a 201. The few endpoints that stay lenient (the seed's save
endpoints, sign-up and the token endpoints, query strings, the import's third-party formats) say
``ignore_unknown_fields = True``; docs/api-policy.md lists them and why.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework import serializers

from core.exceptions import InvalidInput

NOT_AN_OBJECT = "Request body must be a JSON object"


def json_object(data: Any) -> dict[str, Any]:
    """``data`` (a parsed request body) if it is a JSON object; otherwise a 400."""
    if not isinstance(data, dict):  # a QueryDict (a form, a query string) is a dict too
        raise InvalidInput(NOT_AN_OBJECT)
    return data


class InputSerializer(serializers.Serializer):
    """The base of every input serializer (see the module docstring)."""

    ignore_unknown_fields: ClassVar[bool] = False

    def unknown_fields_error(self, names: list[str]) -> Any:
        """The ValidationError detail for keys that are not fields; a subclass may word it for its endpoint."""
        expected = ", ".join(self.fields) or "no fields"
        return {name: f"unknown field; expected {expected}" for name in names}

    def to_internal_value(self, data: Any) -> Any:
        if self.parent is None:  # the request body itself; a nested serializer reports through its parent
            data = json_object(data)
        if isinstance(data, dict) and not self.ignore_unknown_fields:
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                error = serializers.ValidationError(self.unknown_fields_error(unknown))
                raise serializers.ValidationError(serializers.as_serializer_error(error))  # a message -> a dict
        return super().to_internal_value(data)
