"""The roster: search and filter an agency's people (474,000 at the largest), one person, add one.

Filters are the indexed ones (email prefix, last-name prefix, office, status, seat state through
the seat index) and pages are windows of 50 fetched with one row to spare, never a full count.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Lower
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.generic import FormView, TemplateView

from agencies.forms import EmployeeAddForm, RosterFilterForm
from agencies.models import Agency, Employee
from agencies.services import employee_create
from audit.models import AuditEvent
from core.portal import AgencyPageMixin, DomainErrorMixin, capped_count, window
from seats.models import Seat, WaitlistEntry


def roster_queryset(employees: QuerySet[Employee], data: dict[str, Any]) -> QuerySet[Employee]:
    """Narrow a scoped roster by the filter form's cleaned data."""
    if data.get("bureau"):
        employees = employees.filter(agency_id__in=Agency.objects.subtree_of(data["bureau"]).values("pk"))
    q = (data.get("q") or "").strip()
    if q:
        by_email = Q(email__startswith=q.lower())
        # Names hold no "@" or "."; searching the email alone keeps the prefix an index range
        # (an OR with the name makes PostgreSQL filter row by row instead).
        looks_like_email = "@" in q or "." in q
        employees = employees.filter(
            by_email if looks_like_email else by_email | Q(family_name__istartswith=q)
        )
    if data.get("status"):
        employees = employees.filter(status=data["status"])
    if data.get("source"):
        employees = employees.filter(source=data["source"])
    seat = data.get("seat")
    if seat:
        live = Seat.objects.filter(employee_id=OuterRef("pk"), state__in=Seat.LIVE_STATES)
        if seat == "live":
            employees = employees.filter(Exists(live))
        elif seat == "none":
            employees = employees.filter(~Exists(live))
        else:
            employees = employees.filter(Exists(Seat.objects.filter(employee_id=OuterRef("pk"), state=seat)))
    return employees


class RosterView(AgencyPageMixin, TemplateView):
    template_name = "agencies/roster.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        form = RosterFilterForm(self.request.GET or None, agency=self.agency)
        data = form.cleaned_data if form.is_valid() else {}
        employees = roster_queryset(Employee.objects.filter(agency_id__in=self.subtree_ids), data)
        matching = capped_count(employees)
        live_state = Seat.objects.filter(employee_id=OuterRef("pk"), state__in=Seat.LIVE_STATES).values(
            "state"
        )[:1]
        # Emails are stored in lower case, so both orders are the same; but with a search, sorting by
        # the expression keeps PostgreSQL from walking the whole email index hoping to meet the
        # matches early, and it fetches them through the prefix index and sorts those few instead.
        order = Lower("email") if data.get("q") else F("email")
        rows = employees.select_related("agency").annotate(seat_state=Subquery(live_state)).order_by(order)
        page = window(rows, self.request.GET.get("page"))
        for employee in page.object_list:
            employee.seat_label = Seat.State(employee.seat_state).label if employee.seat_state else ""
        return super().get_context_data(form=form, page=page, matching=matching, **kwargs)


class EmployeeView(AgencyPageMixin, TemplateView):
    template_name = "agencies/employee.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        employee = get_object_or_404(
            Employee.objects.visible_to(self.request.user)
            .in_subtree(self.agency)
            .select_related("agency", "user"),
            uuid=self.kwargs["uuid"],
        )
        seats = list(
            Seat.objects.visible_to(self.request.user)
            .filter(employee=employee)
            .select_related("allocation__agency", "program")
            .order_by("-claimed_at")
        )
        waiting = list(
            WaitlistEntry.objects.filter(employee=employee, state=WaitlistEntry.State.WAITING).select_related(
                "allocation__agency", "allocation__program"
            )
        )
        # The person's own record and their seats: a revoke or claim belongs in their history too.
        history = list(
            AuditEvent.objects.filter(
                Q(target_type="agencies.employee", target_id=str(employee.pk))
                | Q(target_type="seats.seat", target_id__in=[str(seat.pk) for seat in seats])
            ).order_by("-occurred_at", "-id")[:20]
        )
        return super().get_context_data(
            employee=employee, seats=seats, waiting=waiting, history=history, **kwargs
        )


class EmployeeAddView(AgencyPageMixin, DomainErrorMixin, FormView):
    template_name = "agencies/employee_add.html"
    form_class = EmployeeAddForm

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "agency": self.agency}

    def perform(self, form: EmployeeAddForm) -> HttpResponse:
        data = form.cleaned_data
        employee = employee_create(
            agency=data["bureau"],
            email=data["email"],
            source=Employee.Source.MANUAL,
            given_name=data["given_name"],
            family_name=data["family_name"],
            employee_number=data["employee_number"],
            actor=self.request.user,
        )
        messages.success(self.request, f"{employee.email} is on the roster.")
        return redirect("agencies:employee", slug=self.agency.slug, uuid=employee.uuid)

    def get_success_url(self) -> str:
        return reverse("agencies:roster", args=[self.agency.slug])
