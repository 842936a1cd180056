"""Query-string filters of the list endpoints, validated: a bad value or an unknown parameter is a 400
with a message naming it, never an ignored typo or an empty page.

Each list endpoint declares its filters as ``{parameter: Filter}``; ``apply_filters`` checks the query
string against them and narrows the queryset. Dates are ISO 8601 (``2026-05-01`` or
``2026-05-01T12:00:00Z``); a date or time without a zone is UTC. ``*_after`` keeps rows at or after the
moment, ``*_before`` rows strictly before it.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from feedback.models import AnnotationCampaign
from games.models import Round, System

# Parameters that are not filters: pagination and DRF's format override.
RESERVED = ("page", "page_size", "format")


class Filter:
    kind = OpenApiTypes.STR

    def __init__(self, field: str, description: str):
        self.field = field
        self.description = description

    def parse(self, name: str, raw: str):
        return raw

    def apply(self, queryset, name: str, raw: str):
        return queryset.filter(**{self.field: self.parse(name, raw)})


class Text(Filter):
    """An exact text match (a decoder name, a prompt version)."""

    def parse(self, name, raw):
        if not raw or len(raw) > 100:
            raise ValidationError({name: "must be 1 to 100 characters"})
        return raw


class Choice(Filter):
    def __init__(self, field: str, description: str, choices):
        super().__init__(field, description)
        self.choices = tuple(choices)

    def parse(self, name, raw):
        if raw not in self.choices:
            raise ValidationError({name: f"{raw!r} is not one of: {', '.join(self.choices)}"})
        return raw


def _positive_int(name: str, raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1 or len(raw) > 12:
        raise ValidationError({name: f"must be a positive whole number, not {raw!r}"})
    return int(raw)


class RoundNumber(Filter):
    kind = OpenApiTypes.INT

    def parse(self, name, raw):
        number = _positive_int(name, raw)
        if not Round.objects.filter(number=number).exists():
            raise ValidationError({name: f"there is no round {number}"})
        return number


class SystemName(Filter):
    def parse(self, name, raw):
        if not System.objects.filter(name=raw).exists():
            raise ValidationError({name: f"there is no system named {raw!r}"})
        return raw


class CampaignId(Filter):
    kind = OpenApiTypes.INT

    def parse(self, name, raw):
        campaign_id = _positive_int(name, raw)
        if not AnnotationCampaign.objects.filter(pk=campaign_id).exists():
            raise ValidationError({name: f"there is no campaign {campaign_id}"})
        return campaign_id


class UserRef(Filter):
    """A user by id or username."""

    def parse(self, name, raw):
        users = get_user_model().objects
        user = users.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) <= 12 else None
        user = user or users.filter(username=raw).first()
        if user is None:
            raise ValidationError({name: f"there is no user {raw!r} (give an id or a username)"})
        return user.pk


class Moment(Filter):
    """``field__gte`` (after) or ``field__lt`` (before) an ISO 8601 date or date-time."""

    kind = OpenApiTypes.DATETIME

    def __init__(self, field: str, description: str, lookup: str):
        super().__init__(f"{field}__{lookup}", description)

    def parse(self, name, raw):
        try:
            moment = parse_datetime(raw)
            if moment is None:
                day = parse_date(raw)
                moment = dt.datetime.combine(day, dt.time()) if day else None
        except ValueError:
            moment = None
        if moment is None:
            raise ValidationError({name: f"{raw!r} is not an ISO 8601 date or date-time (e.g. 2026-05-01 or "
                                         "2026-05-01T12:00:00Z)"})
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment, dt.timezone.utc)


def dates(field: str, what: str = "created") -> dict[str, Filter]:
    """The ``<what>_after`` / ``<what>_before`` pair on a date-time field."""
    return {
        f"{what}_after": Moment(field, f"{what.capitalize()} at or after this date/time (ISO 8601, UTC if no zone).", "gte"),
        f"{what}_before": Moment(field, f"{what.capitalize()} strictly before this date/time (ISO 8601, UTC if no zone).", "lt"),
    }


def apply_filters(queryset, filters: Mapping[str, Filter], params):
    unknown = sorted(set(params) - set(filters) - set(RESERVED))
    if unknown:
        allowed = ", ".join(sorted(filters) + list(RESERVED))
        raise ValidationError({"detail": f"unknown query parameter(s): {', '.join(unknown)}; allowed: {allowed}"})
    for name, declared in filters.items():
        values = params.getlist(name)
        if len(values) > 1:
            raise ValidationError({name: "give it once"})
        if values:
            queryset = declared.apply(queryset, name, values[0].strip())
    return queryset


def schema_parameters(filters: Mapping[str, Filter]) -> list[OpenApiParameter]:
    return [
        OpenApiParameter(name, declared.kind, OpenApiParameter.QUERY, description=declared.description,
                         enum=list(declared.choices) if isinstance(declared, Choice) else None)
        for name, declared in filters.items()
    ]
