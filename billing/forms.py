"""Forms of the renewal pages. They check shape only; the services decide what is allowed."""

from __future__ import annotations

from django import forms

from billing.models import CUSTOM_FIELD_MAX
from seats.models import Allocation


class PurchaseOrderFields(forms.Form):
    purchase_order = forms.CharField(
        label="Purchase order number",
        max_length=CUSTOM_FIELD_MAX,
        required=False,
        help_text="Printed on the invoice. GSA needs it before approving a paid renewal.",
    )
    line_of_accounting = forms.CharField(
        label="Line of accounting", max_length=CUSTOM_FIELD_MAX, required=False
    )
    billing_email = forms.EmailField(
        label="Billing e-mail", required=False, help_text="Stripe sends the invoice to this address."
    )


class RenewalRequestForm(PurchaseOrderFields):
    pool = forms.ChoiceField(label="Pool to renew")
    seats = forms.IntegerField(label="Seats for the next term", min_value=1)

    field_order = ["pool", "seats", "purchase_order", "line_of_accounting", "billing_email"]

    def __init__(self, *args, pools: list[Allocation], **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._pools = {str(pool.uuid): pool for pool in pools}
        pool_field: forms.ChoiceField = self.fields["pool"]  # type: ignore[assignment]
        pool_field.choices = [
            (
                key,
                f"{pool.program.name}: {pool.quantity:,} seats, term ends {pool.term_ends_at:%Y-%m-%d}",
            )
            for key, pool in self._pools.items()
        ]

    def clean_pool(self) -> Allocation:
        return self._pools[self.cleaned_data["pool"]]


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=255)
