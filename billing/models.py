"""Renewal orders, the agencies' Stripe customers, and the Stripe events already handled."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

# Stripe accepts at most 140 characters in an invoice custom field's value.
CUSTOM_FIELD_MAX = 140


class RenewalOrderQuerySet(models.QuerySet["RenewalOrder"]):
    def open(self) -> RenewalOrderQuerySet:
        return self.filter(state__in=RenewalOrder.OPEN_STATES)

    def visible_to(self, user) -> models.QuerySet[RenewalOrder]:  # type: ignore[no-untyped-def]
        """Orders of the agencies the user administers (GSA administrators: all of them)."""
        from billing.selectors import billing_scope

        return billing_scope(user).filter_by_agency(self, "agency")


class RenewalOrder(models.Model):
    """One agency's request to renew one seat pool for the next term, from request to fulfilment."""

    class State(models.TextChoices):
        REQUESTED = "requested", "Requested"
        QUOTED = "quoted", "Quoted"
        APPROVED = "approved", "Approved, invoice being prepared"
        INVOICED = "invoiced", "Invoiced"
        PAID = "paid", "Paid, renewal pending"
        FULFILLED = "fulfilled", "Renewed"
        DECLINED = "declined", "Declined"
        CANCELLED = "cancelled", "Cancelled"
        LAPSED = "lapsed", "Lapsed"

    # An open order holds its pool: no second order for the same pool until it closes.
    OPEN_STATES = (State.REQUESTED, State.QUOTED, State.APPROVED, State.INVOICED, State.PAID)
    UNDECIDED_STATES = (State.REQUESTED, State.QUOTED)
    PRICED_STATES = (State.APPROVED, State.INVOICED, State.PAID, State.FULFILLED)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="renewal_orders")
    program = models.ForeignKey("seats.Program", on_delete=models.PROTECT, related_name="renewal_orders")
    allocation = models.ForeignKey(
        "seats.Allocation", on_delete=models.PROTECT, related_name="renewal_orders"
    )
    state = models.CharField(max_length=12, choices=State.choices, default=State.REQUESTED)
    seats = models.PositiveIntegerField(help_text="Pool size for the renewed term.")
    # The term this order buys; fixed when GSA approves it.
    term_starts_at = models.DateTimeField()
    term_ends_at = models.DateTimeField()

    # The quote: the program's prices when quoted, or zero when GSA waives the charge.
    price_per_agency = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    price_per_seat = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, default="usd")
    waived = models.BooleanField(default=False, help_text="GSA renews this term free of charge.")

    # How government pays: the agency's obligating document and where the money comes from.
    purchase_order = models.CharField("purchase order number", max_length=CUSTOM_FIELD_MAX, blank=True)
    line_of_accounting = models.CharField(max_length=CUSTOM_FIELD_MAX, blank=True)
    billing_email = models.EmailField(blank=True, help_text="Where Stripe sends the invoice.")

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField()
    quoted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    invoiced_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="Declined, cancelled or lapsed.")
    decision_reason = models.CharField(max_length=255, blank=True)

    # Stripe. The invoice id is stored as soon as the draft exists, so a retry never makes another.
    stripe_invoice_id = models.CharField(max_length=255, blank=True)
    stripe_invoice_number = models.CharField(max_length=64, blank=True)
    hosted_invoice_url = models.URLField(max_length=1000, blank=True)
    invoice_due_at = models.DateTimeField(null=True, blank=True)
    amount_paid = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    # Part of every idempotency key; moves on only after Stripe answered 500 and the object
    # was confirmed absent, because Stripe replays a saved 500 for the same key for a day.
    stripe_key_generation = models.PositiveSmallIntegerField(default=0)
    invoice_attempted_at = models.DateTimeField(null=True, blank=True)
    void_requested_at = models.DateTimeField(null=True, blank=True)
    payment_failed_at = models.DateTimeField(null=True, blank=True)
    overdue_notified_at = models.DateTimeField(null=True, blank=True)
    invoice_checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, help_text="Why invoicing or renewal did not go through.")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RenewalOrderQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    state__in=[
                        "requested",
                        "quoted",
                        "approved",
                        "invoiced",
                        "paid",
                        "fulfilled",
                        "declined",
                        "cancelled",
                        "lapsed",
                    ]
                ),
                name="billing_renewalorder_state_valid",
                violation_error_message="Unknown renewal state.",
            ),
            models.UniqueConstraint(
                fields=["allocation"],
                condition=Q(state__in=["requested", "quoted", "approved", "invoiced", "paid"]),
                name="billing_renewalorder_one_open_per_allocation",
                violation_error_message="This pool already has a renewal in progress.",
            ),
            models.CheckConstraint(
                condition=Q(seats__gte=1),
                name="billing_renewalorder_seats_positive",
                violation_error_message="A renewal covers at least one seat.",
            ),
            models.CheckConstraint(
                condition=Q(term_ends_at__gt=F("term_starts_at")),
                name="billing_renewalorder_term_order",
                violation_error_message="The renewed term must end after it starts.",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0),
                name="billing_renewalorder_amount_not_negative",
                violation_error_message="A renewal cannot cost less than nothing.",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=["approved", "invoiced", "paid", "fulfilled"])
                | Q(amount__isnull=False),
                name="billing_renewalorder_priced_when_approved",
                violation_error_message="An approved renewal has a price (zero when GSA waives it).",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=["invoiced", "paid"]) | ~Q(stripe_invoice_id=""),
                name="billing_renewalorder_invoiced_has_invoice",
                violation_error_message="An invoiced renewal names its Stripe invoice.",
            ),
            models.UniqueConstraint(
                fields=["stripe_invoice_id"],
                condition=~Q(stripe_invoice_id=""),
                name="billing_renewalorder_one_order_per_invoice",
                violation_error_message="This Stripe invoice already belongs to another renewal.",
            ),
        ]
        indexes = [
            models.Index(fields=["agency", "-requested_at"], name="billing_order_agency_time"),
            models.Index(
                fields=["state", "requested_at"],
                condition=Q(state__in=["requested", "quoted", "approved", "invoiced", "paid"]),
                name="billing_order_open",
            ),
        ]

    def __str__(self) -> str:
        return f"Renewal of {self.allocation_id} for {self.agency_id} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES

    @property
    def amount_cents(self) -> int:
        return int((self.amount or 0) * 100)


class StripeCustomer(models.Model):
    """The Stripe customer that stands for one agency; Stripe holds the agency code in metadata."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")
    stripe_customer_id = models.CharField(max_length=255)
    email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency"],
                name="billing_stripecustomer_one_per_agency",
                violation_error_message="This agency already has a Stripe customer.",
            ),
            models.UniqueConstraint(
                fields=["stripe_customer_id"],
                name="billing_stripecustomer_unique_customer_id",
                violation_error_message="This Stripe customer already stands for another agency.",
            ),
        ]

    def __str__(self) -> str:
        return self.stripe_customer_id


class StripeEvent(models.Model):
    """A Stripe webhook event that was handled, stored in the same transaction as its effect."""

    class Result(models.TextChoices):
        APPLIED = "applied", "Applied"
        NO_CHANGE = "no_change", "Nothing to change"
        IGNORED = "ignored", "Ignored"
        REFUSED = "refused", "Refused by the domain"

    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    livemode = models.BooleanField(default=False)
    stripe_created_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    invoice_id = models.CharField(max_length=255, blank=True)
    order = models.ForeignKey(
        RenewalOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="stripe_events"
    )
    result = models.CharField(max_length=10, choices=Result.choices)
    detail = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event_id"],
                name="billing_stripeevent_unique_event_id",
                violation_error_message="This Stripe event was already handled.",
            ),
        ]
        indexes = [models.Index(fields=["order", "-received_at"], name="billing_event_order_time")]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type} ({self.result})"
