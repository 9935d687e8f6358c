"""Forms of the GSA and agency pool pages. They only check shape; the services decide."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from django import forms

from agencies.models import Agency
from seats.models import Allocation, Program


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class DateInput(forms.DateInput):
    input_type = "date"


class ProgramForm(forms.Form):
    name = forms.CharField(
        max_length=200, help_text="As agencies will see it, such as “ChatGPT Enterprise (OneGov)”."
    )
    vendor = forms.CharField(max_length=120)
    product = forms.CharField(max_length=120)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    term_months = forms.IntegerField(min_value=1, max_value=120, initial=12, label="Term (months)")
    price_per_agency = forms.DecimalField(min_value=Decimal(0), decimal_places=2, initial=Decimal(0))
    price_per_seat = forms.DecimalField(min_value=Decimal(0), decimal_places=2, initial=Decimal(0))
    starts_on = forms.DateField(widget=DateInput, label="First day seats may be granted")
    ends_on = forms.DateField(widget=DateInput, required=False, label="Last day seats may be granted")
    connector = forms.ChoiceField(choices=Program.Connector.choices, initial=Program.Connector.NONE)
    workspace_url = forms.URLField(
        required=False,
        assume_scheme="https",
        label="Workspace address",
        help_text="Where employees go to use the product.",
    )
    renewal_terms = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("ends_on") and data.get("starts_on") and data["ends_on"] <= data["starts_on"]:
            self.add_error("ends_on", "The last day must come after the first.")
        return data


class ProgramEditForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    workspace_url = forms.URLField(required=False, assume_scheme="https", label="Workspace address")
    renewal_terms = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    ends_on = forms.DateField(widget=DateInput, required=False, label="Last day seats may be granted")
    is_active = forms.BooleanField(
        required=False, label="Open to new pools", help_text="Closed programs keep their pools and seats."
    )


class AllocateForm(forms.Form):
    program = forms.ModelChoiceField(
        queryset=Program.objects.filter(is_active=True), empty_label="- Select -"
    )
    agency = forms.ModelChoiceField(
        queryset=Agency.objects.filter(parent__isnull=True)
        .exclude(kind=Agency.Kind.AGGREGATE)
        .order_by("name"),
        empty_label="- Select -",
        help_text="Departments and independent agencies; they split seats to their bureaus.",
    )
    quantity = forms.IntegerField(min_value=1, label="Seats")
    starts_on = forms.DateField(
        widget=DateInput, required=False, label="Term starts", help_text="Leave empty to start today."
    )


class ResizeForm(forms.Form):
    quantity = forms.IntegerField(min_value=0, label="New number of seats")


class RenewForm(forms.Form):
    ends_on = forms.DateField(widget=DateInput, label="New last day of the term")


class SplitForm(forms.Form):
    agency = forms.ModelChoiceField(
        queryset=Agency.objects.none(), label="Bureau or office", empty_label="- Select -"
    )
    quantity = forms.IntegerField(min_value=1, label="Seats")

    def __init__(self, *args: Any, parent: Allocation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pooled = Allocation.objects.filter(program_id=parent.program_id).values("agency_id")
        self.fields["agency"].queryset = (
            Agency.objects.subtree_of(parent.agency)
            .exclude(pk=parent.agency_id)
            .exclude(pk__in=pooled)
            .order_by("name")
        )


class RevokeForm(forms.Form):
    reason = forms.CharField(
        max_length=255, help_text="The employee and the audit log see this.", label="Why is the seat revoked?"
    )


class ReassignForm(forms.Form):
    email = forms.EmailField(label="Work email of the person who gets the seat")


class PoolFilterForm(forms.Form):
    """The GSA dashboard's filters (GET); every field may be empty."""

    program = forms.ModelChoiceField(
        queryset=Program.objects.all(), required=False, empty_label="All programs"
    )
    q = forms.CharField(required=False, label="Agency name or abbreviation", max_length=100)
    usage = forms.ChoiceField(
        required=False,
        label="Utilization",
        choices=[("", "Any"), ("high", "80% or more"), ("low", "Under 20%")],
    )
    expiring = forms.BooleanField(required=False, label="Only pools with seats expiring in 30 days")
