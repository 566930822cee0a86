from __future__ import annotations

import pytest
from rest_framework import serializers

from core.exceptions import InvalidInput
from core.inputs import InputSerializer, json_object


class Point(InputSerializer):
    x = serializers.IntegerField()


class Shape(InputSerializer):
    name = serializers.CharField()
    at = Point()


class LenientShape(Shape):
    ignore_unknown_fields = True


def errors_of(serializer_class, data):
    serializer = serializer_class(data=data)
    assert not serializer.is_valid()
    return serializer.errors


def test_it_refuses_each_unknown_key_by_name_and_says_what_is_expected():
    errors = errors_of(Shape, {"name": "a", "at": {"x": 1}, "colour": "red", "size": 2})
    assert set(errors) == {"colour", "size"}
    assert errors["colour"] == ["unknown field; expected name, at"]


def test_a_nested_object_is_strict_too():
    assert errors_of(Shape, {"name": "a", "at": {"x": 1, "y": 2}}) == {"at": {"y": ["unknown field; expected x"]}}


def test_a_lenient_serializer_ignores_unknown_keys():
    serializer = LenientShape(data={"name": "a", "at": {"x": 1}, "colour": "red"})
    assert serializer.is_valid() and serializer.validated_data == {"name": "a", "at": {"x": 1}}


@pytest.mark.parametrize("body", [["name"], "name", 3])
def test_a_body_that_is_not_an_object_is_refused(body):
    with pytest.raises(InvalidInput, match="JSON object"):
        json_object(body)
    with pytest.raises(InvalidInput, match="JSON object"):
        Shape(data=body).is_valid()
