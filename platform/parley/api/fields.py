"""Serializer fields every API surface shares (the routing and archive APIs, …)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


def named_choice(values: list[str], name: str) -> type[serializers.ChoiceField]:
    """A choice field documented as its own named component (not an enum named after the
    field, which would collide with other endpoints' `status` or `state`)."""

    @extend_schema_field({"type": "string", "enum": values}, component_name=name)
    class Inline(serializers.ChoiceField):
        pass

    return Inline


class StrictString(serializers.CharField):
    """A string: a number or a boolean is refused, not turned into text."""

    default_error_messages = {"not_a_string": "must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return str(super().to_internal_value(data))
