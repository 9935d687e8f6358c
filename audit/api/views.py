"""The audit trail, read-only: GSA sees everything, agency administrators their subtree's events."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, renderers, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agencies.api.views import subtree_ids
from audit.models import AuditEvent
from core.api.permissions import IsAdmin, allow
from core.api.views import FilteredListMixin
from core.portal import admin_scope

CSV_COLUMNS = [
    "occurred_at",
    "actor_label",
    "actor_kind",
    "agency",
    "verb",
    "target_type",
    "target_id",
    "target_label",
    "before",
    "after",
    "request_id",
]


class AuditEventSerializer(serializers.ModelSerializer):
    agency = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    before = serializers.JSONField(read_only=True, allow_null=True)
    after = serializers.JSONField(read_only=True, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = ["id", *CSV_COLUMNS]  # the CSV export carries the same columns, less the id
        read_only_fields = fields


class AuditFilters(serializers.Serializer):
    agency = serializers.SlugField(required=False, help_text="Events of this agency's subtree.")
    verb = serializers.CharField(required=False, max_length=64, help_text="e.g. seat.revoke")
    verb_prefix = serializers.CharField(required=False, max_length=64, help_text="e.g. seat.")
    actor = serializers.CharField(required=False, max_length=255, help_text="The actor's label (email).")
    target_type = serializers.CharField(required=False, max_length=64, help_text="e.g. seats.seat")
    target_id = serializers.CharField(required=False, max_length=64)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)


def visible_events(request: Request) -> QuerySet[AuditEvent]:
    # By agency id, not a join on the path: the events of a department run to millions of rows.
    return admin_scope(request.user).filter_by_agency_ids(AuditEvent.objects.select_related("agency"))


class AuditFilterMixin(FilteredListMixin):
    filter_serializer = AuditFilters

    def filtered_events(self) -> QuerySet[AuditEvent]:
        qs = visible_events(self.request)
        wanted = self.filters()
        if "agency" in wanted:
            qs = qs.filter(agency_id__in=subtree_ids(self.request, wanted["agency"]))
        exact = {
            "verb": "verb",
            "actor": "actor_label",
            "target_type": "target_type",
            "target_id": "target_id",
        }
        for name, column in exact.items():
            if name in wanted:
                qs = qs.filter(**{column: wanted[name]})
        if "verb_prefix" in wanted:
            qs = qs.filter(verb__startswith=wanted["verb_prefix"])
        if "since" in wanted:
            qs = qs.filter(occurred_at__gte=wanted["since"])
        if "until" in wanted:
            qs = qs.filter(occurred_at__lt=wanted["until"])
        return qs


class AuditEventListApi(AuditFilterMixin, generics.ListAPIView):
    """Audit events, newest first (cursor-paged)."""

    permission_classes = allow(IsAdmin)
    serializer_class = AuditEventSerializer

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return self.filtered_events().order_by("-id")

    @extend_schema(parameters=[AuditFilters])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class AuditEventDetailApi(generics.RetrieveAPIView):
    permission_classes = allow(IsAdmin)
    serializer_class = AuditEventSerializer

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return visible_events(self.request)


class CsvRenderer(renderers.BaseRenderer):
    """Lets ``Accept: text/csv`` through negotiation; the export streams its own body."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return json.dumps(data).encode("utf-8")


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_rows(events: QuerySet[AuditEvent], limit: int) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    rows = events.values_list(
        "occurred_at",
        "actor_label",
        "actor_kind",
        "agency__slug",
        "verb",
        "target_type",
        "target_id",
        "target_label",
        "before",
        "after",
        "request_id",
    )[:limit]
    for row in rows.iterator(chunk_size=2000):
        values = list(row)
        values[0] = values[0].isoformat()
        values[8] = "" if values[8] is None else json.dumps(values[8], sort_keys=True)
        values[9] = "" if values[9] is None else json.dumps(values[9], sort_keys=True)
        # A cell starting with = + - @ would run as a formula in a spreadsheet: quote it.
        yield writer.writerow(
            [
                f"'{v}" if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else ("" if v is None else v)
                for v in values
            ]
        )


class AuditEventExportApi(AuditFilterMixin, APIView):
    """The filtered audit events as CSV, newest first, up to ``AUDIT_EXPORT_MAX_ROWS`` rows."""

    permission_classes = allow(IsAdmin)
    renderer_classes = [renderers.JSONRenderer, CsvRenderer]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(response, Response):
            # Errors are JSON whatever the client asked for: the CSV renderer only opens the door.
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        operation_id="audit_events_export",
        parameters=[AuditFilters],
        responses={
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.STR, description="CSV, one row an event."
            )
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        events = self.filtered_events().order_by("-id")
        limit = int(getattr(settings, "AUDIT_EXPORT_MAX_ROWS", 100_000))
        response = StreamingHttpResponse(csv_rows(events, limit), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
        return response
