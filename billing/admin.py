"""Read-only admin: renewals change through the renewal pages and Stripe, never by editing rows."""

from django.contrib import admin

from agencies.admin import ReadOnlyAdmin
from billing.models import RenewalOrder, StripeCustomer, StripeEvent


@admin.register(RenewalOrder)
class RenewalOrderAdmin(ReadOnlyAdmin):
    list_display = (
        "agency",
        "program",
        "seats",
        "state",
        "amount",
        "currency",
        "purchase_order",
        "stripe_invoice_id",
        "requested_at",
    )
    list_filter = ("state", "program", "waived")
    search_fields = ("agency__name", "purchase_order", "stripe_invoice_id", "stripe_invoice_number")
    list_select_related = ("agency", "program")


@admin.register(StripeCustomer)
class StripeCustomerAdmin(ReadOnlyAdmin):
    list_display = ("agency", "stripe_customer_id", "email", "created_at")
    search_fields = ("agency__name", "stripe_customer_id", "email")
    list_select_related = ("agency",)


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "type", "result", "detail", "invoice_id", "received_at")
    list_filter = ("type", "result")
    search_fields = ("event_id", "invoice_id")
