"""The agency list, an agency's overview, and its claim policy."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import FormView, TemplateView

from agencies.forms import PolicyForm
from agencies.models import Agency, Employee
from agencies.services import agency_update_policy
from core.portal import AgencyPageMixin, DomainErrorMixin, StaffPageMixin, capped_count, window
from seats import selectors
from seats.models import Allocation, Seat, WaitlistEntry


class AgencyIndexView(StaffPageMixin, TemplateView):
    """The agencies a staff member manages; GSA administrators search all of them."""

    template_name = "agencies/index.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        q = self.request.GET.get("q", "").strip()[:100]
        agencies = self.scope.filter_agencies(Agency.objects.exclude(kind=Agency.Kind.AGGREGATE))
        if q:
            agencies = agencies.filter(Q(name__icontains=q) | Q(abbreviation__iexact=q) | Q(slug=q.lower()))
        elif self.scope.is_global:
            agencies = agencies.filter(parent__isnull=True)
        else:
            agencies = agencies.filter(path__in=self.scope.paths)
        page = window(agencies.select_related("parent").order_by("name"), self.request.GET.get("page"))
        return super().get_context_data(page=page, q=q, **kwargs)


class OverviewView(AgencyPageMixin, TemplateView):
    template_name = "agencies/overview.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        agency = self.agency
        subtree_pools = Allocation.objects.filter(agency__path__startswith=agency.path)
        rows = selectors.pool_rows(Allocation.objects.filter(agency=agency).order_by("program__name"))
        requested = capped_count(
            Seat.objects.filter(allocation__in=subtree_pools, state=Seat.State.REQUESTED)
        )
        waiting = capped_count(
            WaitlistEntry.objects.filter(allocation__in=subtree_pools, state=WaitlistEntry.State.WAITING)
        )
        people = capped_count(Employee.objects.filter(agency_id__in=self.subtree_ids))
        bureaus = list(agency.children.order_by("name"))
        return super().get_context_data(
            rows=rows,
            totals=selectors.totals(rows),
            requested=requested,
            waiting=waiting,
            people=people,
            bureaus=bureaus,
            **kwargs,
        )


class PolicyView(AgencyPageMixin, DomainErrorMixin, FormView):
    template_name = "agencies/policy.html"
    form_class = PolicyForm
    admin_only = True

    def get_initial(self) -> dict[str, Any]:
        return {name: getattr(self.agency, name) for name in PolicyForm.base_fields}

    def perform(self, form: PolicyForm) -> HttpResponse:
        agency_update_policy(agency=self.agency, actor=self.request.user, **form.cleaned_data)
        messages.success(self.request, "The claim policy is saved.")
        return redirect(self.get_success_url())

    def get_success_url(self) -> str:
        return reverse("agencies:policy", args=[self.agency.slug])
