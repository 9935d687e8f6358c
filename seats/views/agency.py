"""Agency staff's seat pages: pools and bureau pools, approvals, the waitlist, revoke and reassign.

Every lookup starts from the user's scope (``visible_to``) narrowed to the agency in the URL,
so a seat or pool of another agency is a 404 whatever its id.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.generic import FormView, TemplateView

from agencies.models import Employee
from core.errors import DomainError, InvalidInput
from core.portal import AgencyPageMixin, ConfirmMixin, DomainErrorMixin, admin_scope, long_date, window
from seats import selectors
from seats.forms import ReassignForm, RevokeForm, SplitForm
from seats.models import Allocation, Seat, WaitlistEntry
from seats.services import (
    allocation_split,
    seat_approve,
    seat_reassign,
    seat_reject,
    seat_revoke,
    waitlist_leave,
)
from seats.views.resize import ResizeMixin


class AgencySeatsMixin(AgencyPageMixin):
    """Pools and seats of the agency in the URL and its bureaus, as far as the user may see."""

    def pools(self) -> QuerySet[Allocation]:
        return Allocation.objects.visible_to(self.request.user).filter(
            agency__path__startswith=self.agency.path
        )

    def seats(self) -> QuerySet[Seat]:
        return Seat.objects.visible_to(self.request.user).filter(
            allocation__agency__path__startswith=self.agency.path
        )


# --- pools ----------------------------------------------------------------------------------------
class PoolsView(AgencySeatsMixin, TemplateView):
    template_name = "seats/agency/pools.html"
    admin_only = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        own = selectors.pool_rows(self.pools().filter(agency=self.agency).order_by("program__name"))
        bureaus = selectors.pool_rows(
            self.pools().filter(parent__agency=self.agency).order_by("program__name", "agency__name")
        )
        return super().get_context_data(own=own, bureaus=bureaus, totals=selectors.totals(own), **kwargs)


class PoolFormMixin(AgencySeatsMixin, DomainErrorMixin):
    admin_only = True

    def check_access(self, **kwargs: Any) -> None:
        super().check_access(**kwargs)
        self.allocation = get_object_or_404(
            self.pools().select_related("agency", "program", "parent__agency"), uuid=kwargs["uuid"]
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(allocation=self.allocation, **kwargs)  # type: ignore[misc]

    def get_success_url(self) -> str:
        return reverse("agencies:pools", args=[self.agency.slug])


class SplitView(ConfirmMixin, PoolFormMixin, FormView):
    template_name = "seats/agency/pool_form.html"
    form_class = SplitForm
    confirm_label = "Create the bureau pool"
    extra_context = {"action": "Split seats to a bureau"}

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "parent": self.allocation}

    def confirmation(self, form: SplitForm) -> list[tuple[str, str]]:
        data = form.cleaned_data
        return [
            ("From", str(self.allocation)),
            ("To", data["agency"].name),
            ("Seats", f"{data['quantity']:,}"),
            ("Free in the pool now", f"{self.allocation.free:,}"),
            ("Term", f"ends {long_date(self.allocation.term_ends_at)}, with the department's pool"),
        ]

    def perform(self, form: SplitForm) -> HttpResponse:
        child = allocation_split(
            parent=self.allocation,
            agency=form.cleaned_data["agency"],
            quantity=form.cleaned_data["quantity"],
            actor=self.request.user,
        )
        messages.success(self.request, f"{child.agency.name} now has {child.quantity:,} seats of its own.")
        return redirect(self.get_success_url())


class BureauResizeView(ResizeMixin, ConfirmMixin, PoolFormMixin, FormView):
    """Grow or shrink a bureau pool; the seats come from, or return to, its parent pool."""

    template_name = "seats/agency/pool_form.html"
    confirm_label = "Resize the bureau pool"
    extra_context = {"action": "Resize a bureau pool"}
    pool_word = "bureau pool"

    def check_access(self, **kwargs: Any) -> None:
        super().check_access(**kwargs)
        # GSA sizes departments' pools; an agency sizes only pools carved from one it manages.
        parent = self.allocation.parent
        if parent is None or not admin_scope(self.request.user).covers(parent.agency):
            raise Http404("Not a bureau pool this user manages")

    def more_rows(self) -> list[tuple[str, str]]:
        return [("Free in the parent pool", f"{self.allocation.parent.free:,}")]


# --- approvals and waitlist -----------------------------------------------------------------------
class ApprovalsView(AgencySeatsMixin, TemplateView):
    """Claims waiting for approval, oldest first; approve or reject the ones ticked."""

    template_name = "seats/agency/approvals.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        queue = (
            self.seats()
            .filter(state=Seat.State.REQUESTED)
            .select_related("employee__agency", "allocation__agency", "program")
            .order_by("claimed_at", "pk")
        )
        return super().get_context_data(page=window(queue, self.request.GET.get("page")), **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        chosen = request.POST.getlist("seat")[:200]
        approve = "approve" in request.POST
        reason = request.POST.get("reason", "").strip()
        seats = list(
            self.seats()
            .filter(uuid__in=chosen, state=Seat.State.REQUESTED)
            .select_related("allocation__program")
        )
        if not seats:
            messages.warning(request, "Tick at least one claim first.")
            return redirect(request.path)
        done, refused = 0, []
        for seat in seats:
            try:
                if approve:
                    seat_approve(seat=seat, actor=request.user)
                else:
                    seat_reject(seat=seat, actor=request.user, reason=reason)
                done += 1
            except DomainError as exc:
                refused.append(exc.message)
        verb = "Approved" if approve else "Rejected"
        messages.success(request, f"{verb} {done} claim{'s' if done != 1 else ''}.")
        for message in refused[:5]:
            messages.error(request, message)
        return redirect(request.path)


class WaitlistView(AgencySeatsMixin, TemplateView):
    """People waiting for a full pool, in the order seats will reach them."""

    template_name = "seats/agency/waitlist.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        entries = (
            WaitlistEntry.objects.filter(allocation__in=self.pools(), state=WaitlistEntry.State.WAITING)
            .select_related("employee", "allocation__agency", "allocation__program")
            .annotate(
                position=Window(
                    RowNumber(), partition_by=[F("allocation_id")], order_by=[F("created_at"), F("id")]
                )
            )
            .order_by("allocation_id", "created_at", "id")
        )
        return super().get_context_data(page=window(entries, self.request.GET.get("page")), **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        entry_id = request.POST.get("entry", "")
        entry = get_object_or_404(
            WaitlistEntry.objects.filter(allocation__in=self.pools()).select_related(
                "allocation", "employee"
            ),
            pk=int(entry_id) if entry_id.isdigit() else 0,
        )
        waitlist_leave(entry=entry, actor=request.user)
        messages.success(request, f"{entry.employee.email} is off the waitlist.")
        return redirect(request.path)


# --- one seat -------------------------------------------------------------------------------------
class SeatFormMixin(AgencySeatsMixin, DomainErrorMixin):
    def check_access(self, **kwargs: Any) -> None:
        super().check_access(**kwargs)
        self.seat = get_object_or_404(
            self.seats().select_related("employee__agency", "allocation__agency", "allocation__program"),
            uuid=kwargs["uuid"],
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(seat=self.seat, **kwargs)  # type: ignore[misc]

    def get_success_url(self) -> str:
        return reverse("agencies:employee", args=[self.agency.slug, self.seat.employee.uuid])


class RevokeView(SeatFormMixin, FormView):
    template_name = "seats/agency/revoke.html"
    form_class = RevokeForm

    def perform(self, form: RevokeForm) -> HttpResponse:
        seat_revoke(seat=self.seat, actor=self.request.user, reason=form.cleaned_data["reason"])
        messages.success(
            self.request, f"The seat of {self.seat.employee.email} is revoked and back in the pool."
        )
        return redirect(self.get_success_url())


class ReassignView(ConfirmMixin, SeatFormMixin, FormView):
    template_name = "seats/agency/reassign.html"
    form_class = ReassignForm
    confirm_label = "Reassign the seat"

    def new_holder(self, form: ReassignForm) -> Employee:
        email = form.cleaned_data["email"].strip().lower()
        found = (
            Employee.objects.visible_to(self.request.user)
            .in_subtree(self.seat.allocation.agency)
            .filter(email=email)
        )
        employee = found.select_related("agency").first()
        if employee is None:
            raise InvalidInput(
                f"{email} is not on the roster of {self.seat.allocation.agency.name}. "
                "Add them to the roster first, then reassign the seat."
            )
        return employee

    def confirmation(self, form: ReassignForm) -> list[tuple[str, str]]:
        employee = self.new_holder(form)
        return [
            ("Seat", f"{self.seat.program} in {self.seat.allocation.agency.name}"),
            ("From", self.seat.employee.email),
            ("To", f"{employee.full_name} ({employee.email})"),
            ("Ends", long_date(self.seat.expires_at)),
        ]

    def form_valid(self, form: ReassignForm) -> HttpResponse:
        try:
            self.new_holder(form)
        except DomainError as exc:
            form.add_error("email", exc.message)
            return self.form_invalid(form)
        return super().form_valid(form)

    def perform(self, form: ReassignForm) -> HttpResponse:
        new_seat = seat_reassign(seat=self.seat, employee=self.new_holder(form), actor=self.request.user)
        messages.success(self.request, f"The seat now belongs to {new_seat.employee.email}.")
        return redirect(self.get_success_url())
