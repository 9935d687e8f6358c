"""Input fields that name other objects, looked up within what the caller may see.

An object outside the caller's scope reads as "does not exist": a field error, never a leak.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers


class ScopedSlugRelatedField(serializers.SlugRelatedField):
    """``SlugRelatedField`` whose choices are ``scoped(request)`` (a queryset of the base model)."""

    def __init__(self, *, scoped: Callable[[Any], QuerySet], **kwargs: Any) -> None:
        self.scoped = scoped
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        request = self.context.get("request")
        if request is None:
            return self.queryset.none()
        return self.scoped(request)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str | int) or isinstance(data, bool) or len(str(data)) > 255:
            self.fail("invalid")
        return super().to_internal_value(str(data))


class ScopedUUIDRelatedField(ScopedSlugRelatedField):
    """An object named by its public ``uuid`` among those the caller may see."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("slug_field", "uuid")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        try:
            value = uuid.UUID(str(data))
        except (TypeError, ValueError, AttributeError):
            self.fail("invalid")
        return super().to_internal_value(str(value))


class TermDateTimeField(serializers.DateTimeField):
    """A date a term or program starts or ends: this century or the next, so term arithmetic never
    runs off the calendar (year 9999 plus twelve months is no date)."""

    EARLIEST = 2000
    LATEST = 2199

    def to_internal_value(self, value: Any) -> Any:
        parsed = super().to_internal_value(value)
        if not self.EARLIEST <= parsed.year <= self.LATEST:
            raise serializers.ValidationError(f"Give a date between {self.EARLIEST} and {self.LATEST}.")
        return parsed
