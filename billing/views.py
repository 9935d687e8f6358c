"""The renewal pages: an agency's renewals and invoices, and GSA's queue and revenue.

Each view starts from the user's billing scope: an agency outside it, or the GSA page for anyone
but a GSA administrator, is a 404. Actions are POSTs that call one service and redirect back;
a refusal comes back as the service's own message.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from agencies.models import Agency
from billing import selectors, services
from billing.forms import PurchaseOrderFields, ReasonForm, RenewalRequestForm
from billing.models import RenewalOrder
from core.errors import DomainError, InvalidInput


def _agency_or_404(request: HttpRequest, slug: str) -> Agency:
    agency = selectors.agency_for_billing(request.user, slug)
    if agency is None:
        raise Http404("No such agency.")
    return agency


def _form_errors(form) -> str:  # type: ignore[no-untyped-def]
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


@login_required
@require_http_methods(["GET", "POST"])
def agency_renewals(request: HttpRequest, slug: str) -> HttpResponse:
    agency = _agency_or_404(request, slug)
    pools = list(selectors.renewable_pools(agency)) if agency.is_top_level else []
    requestable = [pool for pool in pools if not getattr(pool, "has_open_renewal", False)]
    form = RenewalRequestForm(
        request.POST or None,
        pools=requestable,
        initial={"billing_email": getattr(request.user, "email", "")},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.renewal_request(
                allocation=data["pool"],
                seats=data["seats"],
                actor=request.user,
                purchase_order=data["purchase_order"],
                line_of_accounting=data["line_of_accounting"],
                billing_email=data["billing_email"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Renewal requested. GSA reviews it and quotes the price.")
            return redirect("billing:agency_renewals", slug=agency.slug)
    orders = list(selectors.agency_renewal_history(agency))
    return render(
        request,
        "billing/agency_renewals.html",
        {
            "agency": agency,
            "pools": pools,
            "form": form if requestable else None,
            "orders": orders,
            "is_gsa": selectors.is_gsa_admin(request.user),
        },
        status=400 if form.errors else 200,
    )


def _agency_order_or_404(request: HttpRequest, slug: str, order: UUID) -> tuple[Agency, RenewalOrder]:
    agency = _agency_or_404(request, slug)
    found = selectors.order_for_agency(agency, order)
    if found is None:
        raise Http404("No such renewal.")
    return agency, found


@login_required
@require_POST
def agency_renewal_purchase_order(request: HttpRequest, slug: str, order: UUID) -> HttpResponse:
    agency, found = _agency_order_or_404(request, slug, order)
    form = PurchaseOrderFields(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
    else:
        try:
            services.renewal_update_purchase_order(order=found, actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Purchase order details saved.")
    return redirect("billing:agency_renewals", slug=agency.slug)


@login_required
@require_POST
def agency_renewal_cancel(request: HttpRequest, slug: str, order: UUID) -> HttpResponse:
    agency, found = _agency_order_or_404(request, slug, order)
    try:
        services.renewal_cancel(order=found, actor=request.user, reason="withdrawn by the agency")
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Renewal request withdrawn.")
    return redirect("billing:agency_renewals", slug=agency.slug)


def _gsa_or_404(request: HttpRequest) -> None:
    if not selectors.is_gsa_admin(request.user):
        raise Http404("No such page.")


@login_required
@require_http_methods(["GET"])
def gsa_renewals(request: HttpRequest) -> HttpResponse:
    _gsa_or_404(request)
    pending = list(selectors.renewals_pending_decision())
    for order in pending:
        program = order.program
        order.list_price = program.price_per_agency + program.price_per_seat * order.seats  # type: ignore[attr-defined]
    return render(
        request,
        "billing/gsa_renewals.html",
        {
            "pending": pending,
            "in_billing": list(selectors.renewals_in_billing()),
            "revenue": selectors.renewal_revenue(),
        },
    )


def _with_reason(call: Callable[..., RenewalOrder]) -> Callable[..., RenewalOrder]:
    def run(*, order: RenewalOrder, actor, request: HttpRequest) -> RenewalOrder:  # type: ignore[no-untyped-def]
        form = ReasonForm(request.POST)
        if not form.is_valid():
            raise InvalidInput("Give a reason; the agency's administrators see it.")
        return call(order=order, actor=actor, reason=form.cleaned_data["reason"])

    return run


def _plain(call: Callable[..., RenewalOrder], **fixed: object) -> Callable[..., RenewalOrder]:
    def run(*, order: RenewalOrder, actor, request: HttpRequest) -> RenewalOrder:  # type: ignore[no-untyped-def]
        return call(order=order, actor=actor, **fixed)

    return run


GSA_ACTIONS: dict[str, tuple[Callable[..., RenewalOrder], str]] = {
    "quote": (_plain(services.renewal_quote), "Quoted at the program's prices."),
    "quote-free": (_plain(services.renewal_quote, waive=True), "Quoted free of charge."),
    "approve": (_plain(services.renewal_approve), "Approved."),
    "approve-free": (_plain(services.renewal_approve, waive=True), "Approved free of charge; renewed."),
    "decline": (_with_reason(services.renewal_decline), "Declined; the agency is told."),
    "cancel": (_with_reason(services.renewal_cancel), "Cancelled."),
    "fulfil": (_plain(services.renewal_fulfil), "Renewal completed."),
}


@login_required
@require_POST
def gsa_renewal_action(request: HttpRequest, order: UUID, action: str) -> HttpResponse:
    _gsa_or_404(request)
    found = selectors.order_for_gsa(order)
    if found is None or action not in GSA_ACTIONS:
        raise Http404("No such renewal.")
    run, done = GSA_ACTIONS[action]
    try:
        result = run(order=found, actor=request.user, request=request)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if result.state == RenewalOrder.State.APPROVED:
            done += " The invoice is being sent through Stripe."
        if result.void_requested_at and result.state == RenewalOrder.State.INVOICED:
            done = "Voiding the invoice in Stripe; the renewal is cancelled once Stripe confirms."
        messages.success(request, f"{found.agency.name}: {done}")
    return redirect(reverse("billing:gsa_renewals"))
