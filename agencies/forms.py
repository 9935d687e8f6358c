"""Forms of the agency pages. They check shape only; the services decide what is allowed."""

from __future__ import annotations

from typing import Any

from django import forms

from agencies.models import Agency, Employee
from seats.models import Seat


def subtree_choices(agency: Agency) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=Agency.objects.subtree_of(agency).order_by("path"),
        required=False,
        label="Bureau or office",
        empty_label="All of " + (agency.abbreviation or agency.name),
    )


class PolicyForm(forms.Form):
    claims_require_approval = forms.BooleanField(
        required=False,
        label="Claims wait for an administrator's approval",
        help_text="Otherwise a claim takes a seat at once while the pool has one.",
    )
    inactivity_reclaim_days = forms.IntegerField(
        required=False,
        min_value=7,
        max_value=365,
        label="Reclaim seats unused for this many days",
        help_text="Leave empty to never reclaim unused seats.",
    )
    reclaim_grace_days = forms.IntegerField(
        min_value=1, max_value=90, label="Days of notice before an unused seat is reclaimed"
    )
    restore_seats_on_reactivation = forms.BooleanField(
        required=False,
        label="Give seats back when the identity provider re-activates a person",
    )


class DomainAddForm(forms.Form):
    domain = forms.CharField(
        max_length=253,
        label="Email domain",
        help_text="The part after the @ in your employees' work email, such as agency.gov.",
    )


class RosterUploadForm(forms.Form):
    file = forms.FileField(
        label="Roster file (CSV)",
        help_text="One person per line. Columns: email (required), given_name, family_name, "
        "employee_number, external_id, bureau.",
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".txt")):
            raise forms.ValidationError("Choose a .csv file; spreadsheets can be saved as CSV.")
        return upload


class EmployeeAddForm(forms.Form):
    email = forms.EmailField(label="Work email")
    given_name = forms.CharField(max_length=150, required=False, label="First name")
    family_name = forms.CharField(max_length=150, required=False, label="Last name")
    employee_number = forms.CharField(max_length=64, required=False)

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = subtree_choices(agency)
        field.empty_label = None
        field.initial = agency.pk
        field.required = True
        self.fields["bureau"] = field


SEAT_FILTERS = [
    ("", "Anyone"),
    ("live", "Holds a seat"),
    ("none", "Holds no seat"),
    (Seat.State.REQUESTED, "Waiting for approval"),
    (Seat.State.ACTIVE, "Active seat"),
    (Seat.State.FAILED, "Provisioning failed"),
]


class RosterFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=150,
        label="Email or last name starts with",
    )
    status = forms.ChoiceField(required=False, choices=[("", "Any"), *Employee.Status.choices])
    seat = forms.ChoiceField(required=False, choices=SEAT_FILTERS, label="Seat")
    source = forms.ChoiceField(
        required=False, choices=[("", "Any"), *Employee.Source.choices], label="Added by"
    )

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["bureau"] = subtree_choices(agency)
        self.order_fields(["q", "bureau", "status", "seat", "source"])


class AuditFilterForm(forms.Form):
    # Verbs are "<subject>.<change>"; filtering by subject is a prefix match on an indexed column.
    SUBJECTS = [
        ("", "Any"),
        ("seat.", "Seats"),
        ("waitlist.", "Waitlist"),
        ("allocation.", "Pools"),
        ("employee.", "Roster"),
        ("roster_import.", "Roster imports"),
        ("domain.", "Email domains"),
        ("agency.", "Policy and offices"),
        ("role.", "Staff roles"),
        ("program.", "Programs"),
    ]

    subject = forms.ChoiceField(required=False, choices=SUBJECTS, label="Kind of change")
    actor = forms.CharField(required=False, max_length=255, label="Made by (starts with)")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To")
