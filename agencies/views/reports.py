"""An agency's reports: its pools and bureau pools, seats by state, claims and expiries over time."""

from __future__ import annotations

from typing import Any

from django.views.generic import TemplateView

from seats import selectors
from seats.models import UsageSnapshot
from seats.views.agency import AgencySeatsMixin


class ReportsView(AgencySeatsMixin, TemplateView):
    template_name = "agencies/reports.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        rows = selectors.pool_rows(self.pools().order_by("agency__path", "program__name"))
        seats = selectors.seat_tally(self.pools())
        own = [row for row in rows if row.allocation.agency_id == self.agency.pk]
        return super().get_context_data(
            rows=rows,
            totals=selectors.totals(own),
            utilization=selectors.utilization_by_pool(rows),
            states=selectors.seats_by_state(seats),
            usage=selectors.usage_over_time(UsageSnapshot.objects.filter(allocation__in=self.pools())),
            claims=selectors.claims_over_time(seats),
            expiry=selectors.expiry_timeline(seats),
            **kwargs,
        )
