from __future__ import annotations

from django import forms

from sso.models import MAPPING_KEYS

MAPPING_LABELS = {
    "uid": "Stable subject id",
    "email": "Work email",
    "first_name": "Given name",
    "last_name": "Family name",
    "employee_number": "Employee number",
    "office": "Bureau or office",
}


class DiscoverForm(forms.Form):
    email = forms.EmailField(
        label="Work email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"class": "usa-input", "autocomplete": "email", "autofocus": True}),
    )


class MetadataUploadForm(forms.Form):
    metadata_file = forms.FileField(
        label="IdP metadata file (XML)",
        widget=forms.ClearableFileInput(attrs={"accept": ".xml,application/xml"}),
    )


class MetadataUrlForm(forms.Form):
    metadata_url = forms.URLField(
        label="IdP metadata URL",
        assume_scheme="https",
        max_length=1024,
        widget=forms.URLInput(attrs={"class": "usa-input"}),
    )


class ManualIdpForm(forms.Form):
    entity_id = forms.CharField(
        label="IdP entity id", max_length=200, widget=forms.TextInput(attrs={"class": "usa-input"})
    )
    sso_url = forms.URLField(
        label="Sign-on URL (HTTP-Redirect binding)",
        assume_scheme="https",
        max_length=1024,
        widget=forms.URLInput(attrs={"class": "usa-input"}),
    )
    certificate = forms.CharField(
        label="Signing certificate (PEM)", widget=forms.Textarea(attrs={"class": "usa-textarea", "rows": 6})
    )
    next_certificate = forms.CharField(
        label="Next signing certificate, during a rollover (optional)",
        required=False,
        widget=forms.Textarea(attrs={"class": "usa-textarea", "rows": 6}),
    )


class MappingForm(forms.Form):
    """Comma-separated attribute names per field; empty keeps the platform's defaults."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key in MAPPING_KEYS:
            self.fields[key] = forms.CharField(
                label=MAPPING_LABELS[key],
                required=False,
                max_length=2000,
                widget=forms.TextInput(attrs={"class": "usa-input"}),
            )
