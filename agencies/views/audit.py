"""The audit log, filtered and paged: an agency's subtree for its staff, everything for GSA."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db.models import QuerySet
from django.views.generic import TemplateView

from agencies.forms import AuditFilterForm
from audit.models import AuditEvent
from core.portal import AgencyPageMixin, GsaAdminMixin, window


def filter_events(events: QuerySet[AuditEvent], data: dict[str, Any]) -> QuerySet[AuditEvent]:
    if data.get("subject"):
        events = events.filter(verb__startswith=data["subject"])
    if data.get("actor"):
        events = events.filter(actor_label__startswith=data["actor"].strip())
    if data.get("since"):
        events = events.filter(occurred_at__gte=datetime.combine(data["since"], time.min, tzinfo=UTC))
    if data.get("until"):
        events = events.filter(
            occurred_at__lt=datetime.combine(data["until"] + timedelta(days=1), time.min, tzinfo=UTC)
        )
    return events


class AuditLogMixin:
    template_name = "audit/events.html"
    request: Any

    def events(self) -> QuerySet[AuditEvent]:
        raise TypeError(f"{type(self).__name__} must say which events it shows")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        form = AuditFilterForm(self.request.GET or None)
        data = form.cleaned_data if form.is_valid() else {}
        events = filter_events(self.events(), data).order_by("-occurred_at", "-id")
        page = window(events, self.request.GET.get("page"))
        return super().get_context_data(form=form, page=page, **kwargs)  # type: ignore[misc]


class AgencyAuditView(AuditLogMixin, AgencyPageMixin, TemplateView):
    def events(self) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.filter(agency_id__in=self.subtree_ids)


class GsaAuditView(AuditLogMixin, GsaAdminMixin, TemplateView):
    extra_context = {"government_wide": True}

    def events(self) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.all()
