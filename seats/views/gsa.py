"""GSA administrators' pages: the government-wide dashboard, programs, and the pools GSA gives."""

from __future__ import annotations

import csv
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import FormView, TemplateView

from core.portal import ConfirmMixin, DomainErrorMixin, GsaAdminMixin, long_date
from seats import selectors
from seats.forms import (
    AllocateForm,
    PoolFilterForm,
    ProgramEditForm,
    ProgramForm,
    RenewForm,
    day_start,
)
from seats.models import Allocation, Program, UsageSnapshot
from seats.services import (
    add_months,
    allocation_create,
    allocation_renew,
    program_create,
    program_update,
)
from seats.views.resize import ResizeMixin


def filtered_pool_rows(
    request: HttpRequest,
) -> tuple[PoolFilterForm, list[selectors.PoolRow], QuerySet]:
    """The dashboard's and the export's rows: top-level pools narrowed by the filter form."""
    form = PoolFilterForm(request.GET or None)
    pools = Allocation.objects.filter(parent__isnull=True).order_by("agency__name", "program__name")
    seats = selectors.seat_tally()
    data = form.cleaned_data if form.is_valid() else {}
    if data.get("program"):
        pools = pools.filter(program=data["program"])
        seats = seats.filter(allocation__program=data["program"])
    if data.get("q"):
        pools = pools.filter(Q(agency__name__icontains=data["q"]) | Q(agency__abbreviation__iexact=data["q"]))
    rows = selectors.filter_rows(
        selectors.pool_rows(pools), usage=data.get("usage", ""), expiring_only=data.get("expiring", False)
    )
    return form, rows, seats


class DashboardView(GsaAdminMixin, TemplateView):
    template_name = "seats/gsa/dashboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        form, rows, seats = filtered_pool_rows(self.request)
        program = getattr(form, "cleaned_data", {}).get("program")
        snapshots = UsageSnapshot.objects.filter(program=program) if program else UsageSnapshot.objects.all()
        return super().get_context_data(
            form=form,
            rows=rows,
            totals=selectors.totals(rows),
            utilization=selectors.utilization_by_pool(rows),
            usage=selectors.usage_over_time(snapshots),
            claims=selectors.claims_over_time(seats),
            expiry=selectors.expiry_timeline(seats),
            **kwargs,
        )


class ExportView(GsaAdminMixin, View):
    """The dashboard's table as CSV, with the same filters; streamed, one line per pool."""

    columns = ("agency", "abbreviation", "program", "allocated", "claimed", "active", "pending")
    columns += ("expiring_30_days", "utilization_percent", "bureau_pools", "term_starts", "term_ends")

    def get(self, request: HttpRequest) -> StreamingHttpResponse:
        _, rows, _ = filtered_pool_rows(request)

        class Echo:
            def write(self, value: str) -> str:
                return value

        writer = csv.writer(Echo())

        def lines():  # type: ignore[no-untyped-def]
            yield writer.writerow(self.columns)
            for row in rows:
                yield writer.writerow(
                    [
                        row.agency.name,
                        row.agency.abbreviation,
                        row.program.name,
                        row.allocated,
                        row.claimed,
                        row.active,
                        row.pending,
                        row.expiring,
                        f"{row.utilization * 100:.1f}",
                        row.bureau_pools,
                        row.allocation.term_starts_at.date().isoformat(),
                        row.allocation.term_ends_at.date().isoformat(),
                    ]
                )

        stamp = timezone.now().strftime("%Y%m%d")
        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="ai-seat-pools-{stamp}.csv"'
        return response


# --- programs -------------------------------------------------------------------------------------
class ProgramListView(GsaAdminMixin, TemplateView):
    template_name = "seats/gsa/programs.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            programs=list(Program.objects.order_by("-is_active", "name")), **kwargs
        )


class ProgramCreateView(GsaAdminMixin, ConfirmMixin, DomainErrorMixin, FormView):
    template_name = "seats/gsa/program_form.html"
    form_class = ProgramForm
    confirm_label = "Create the program"

    def get_initial(self) -> dict[str, Any]:
        return {"starts_on": timezone.now().date()}

    def perform(self, form: ProgramForm) -> HttpResponse:
        data = form.cleaned_data
        program = program_create(
            name=data["name"],
            vendor=data["vendor"],
            product=data["product"],
            description=data["description"],
            term_months=data["term_months"],
            price_per_agency=data["price_per_agency"],
            price_per_seat=data["price_per_seat"],
            starts_at=day_start(data["starts_on"]),
            ends_at=day_start(data["ends_on"]) if data["ends_on"] else None,
            connector=data["connector"],
            workspace_url=data["workspace_url"],
            renewal_terms=data["renewal_terms"],
            actor=self.request.user,
        )
        messages.success(self.request, f"{program.name} is ready for pools.")
        return redirect("gsa:program", slug=program.slug)

    def get_success_url(self) -> str:
        return reverse("gsa:programs")


class ProgramDetailView(GsaAdminMixin, TemplateView):
    template_name = "seats/gsa/program.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        program = get_object_or_404(Program, slug=self.kwargs["slug"])
        rows = selectors.pool_rows(
            Allocation.objects.filter(program=program, parent__isnull=True).order_by("agency__name")
        )
        return super().get_context_data(program=program, rows=rows, totals=selectors.totals(rows), **kwargs)


class ProgramEditView(GsaAdminMixin, DomainErrorMixin, FormView):
    template_name = "seats/gsa/program_edit.html"
    form_class = ProgramEditForm

    def check_access(self, **kwargs: Any) -> None:
        super().check_access(**kwargs)
        self.program = get_object_or_404(Program, slug=kwargs["slug"])

    def get_initial(self) -> dict[str, Any]:
        p = self.program
        return {
            "name": p.name,
            "description": p.description,
            "workspace_url": p.workspace_url,
            "renewal_terms": p.renewal_terms,
            "ends_on": p.ends_at.date() if p.ends_at else None,
            "is_active": p.is_active,
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(program=self.program, **kwargs)

    def perform(self, form: ProgramEditForm) -> HttpResponse:
        data = dict(form.cleaned_data)
        ends_on = data.pop("ends_on")
        data["ends_at"] = day_start(ends_on) if ends_on else None
        program_update(program=self.program, actor=self.request.user, **data)
        messages.success(self.request, "The program is saved.")
        return redirect(self.get_success_url())

    def get_success_url(self) -> str:
        return reverse("gsa:program", args=[self.program.slug])


# --- pools ----------------------------------------------------------------------------------------
class AllocateView(GsaAdminMixin, ConfirmMixin, DomainErrorMixin, FormView):
    template_name = "seats/gsa/allocate.html"
    form_class = AllocateForm
    confirm_label = "Allocate the seats"

    def get_initial(self) -> dict[str, Any]:
        return {key: self.request.GET[key] for key in ("program", "agency") if key in self.request.GET}

    def confirmation(self, form: AllocateForm) -> list[tuple[str, str]]:
        data = form.cleaned_data
        program, agency = data["program"], data["agency"]
        start = day_start(data["starts_on"]) if data["starts_on"] else timezone.now()
        start = max(start, program.starts_at)
        return [
            ("Program", program.name),
            ("Agency", agency.name),
            ("Seats", f"{data['quantity']:,}"),
            ("Employees (OPM, March 2025)", f"{agency.headcount:,}"),
            ("Term", f"{long_date(start)} to {long_date(add_months(start, program.term_months))}"),
            ("Price per agency", f"${program.price_per_agency:,.2f}"),
        ]

    def perform(self, form: AllocateForm) -> HttpResponse:
        data = form.cleaned_data
        allocation = allocation_create(
            program=data["program"],
            agency=data["agency"],
            quantity=data["quantity"],
            term_starts_at=day_start(data["starts_on"]) if data["starts_on"] else None,
            actor=self.request.user,
        )
        messages.success(
            self.request,
            f"{allocation.agency.name} now has {allocation.quantity:,} seats in {allocation.program}.",
        )
        return redirect("gsa:pool", uuid=allocation.uuid)

    def get_success_url(self) -> str:
        return reverse("gsa:dashboard")


class PoolMixin(GsaAdminMixin):
    """A pool GSA gave (a department's, not a bureau's: those belong to the agency)."""

    def check_access(self, **kwargs: Any) -> None:
        super().check_access(**kwargs)
        self.allocation = get_object_or_404(
            Allocation.objects.select_related("agency", "program"), uuid=kwargs["uuid"], parent__isnull=True
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(allocation=self.allocation, **kwargs)  # type: ignore[misc]

    def get_success_url(self) -> str:
        return reverse("gsa:pool", args=[self.allocation.uuid])


class PoolDetailView(PoolMixin, TemplateView):
    template_name = "seats/gsa/pool.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        row = selectors.pool_rows(Allocation.objects.filter(pk=self.allocation.pk))[0]
        bureaus = selectors.pool_rows(
            Allocation.objects.filter(parent=self.allocation).order_by("agency__name")
        )
        return super().get_context_data(row=row, bureaus=bureaus, **kwargs)


class PoolResizeView(ResizeMixin, PoolMixin, ConfirmMixin, DomainErrorMixin, FormView):
    template_name = "seats/gsa/pool_form.html"
    confirm_label = "Resize the pool"
    extra_context = {"action": "Resize"}
    in_use_label = "In use or passed to bureaus"


class PoolRenewView(PoolMixin, ConfirmMixin, DomainErrorMixin, FormView):
    template_name = "seats/gsa/pool_form.html"
    form_class = RenewForm
    confirm_label = "Renew the term"
    extra_context = {"action": "Renew"}

    def get_initial(self) -> dict[str, Any]:
        a = self.allocation
        return {"ends_on": add_months(a.term_ends_at, a.program.term_months).date()}

    def new_end(self, form: RenewForm) -> datetime:
        # Keep the time of day the term already ends at, so a renewal moves it by whole days.
        return datetime.combine(form.cleaned_data["ends_on"], self.allocation.term_ends_at.timetz())

    def confirmation(self, form: RenewForm) -> list[tuple[str, str]]:
        a = self.allocation
        return [
            ("Pool", str(a)),
            ("Term ends now", long_date(a.term_ends_at)),
            ("Term will end", long_date(self.new_end(form))),
            ("Live seats that move with it", f"{a.assigned:,} here, plus those in bureau pools"),
        ]

    def perform(self, form: RenewForm) -> HttpResponse:
        renewed = allocation_renew(
            allocation=self.allocation, term_ends_at=self.new_end(form), actor=self.request.user
        )
        messages.success(self.request, f"The term now ends on {long_date(renewed.term_ends_at)}.")
        return redirect(self.get_success_url())
