"""The USWDS form field helper: label, hint, error, and the ARIA that ties them to the control."""

from __future__ import annotations

import re

from django import forms
from django.template import Context, Template

FIELD = Template("{% load portal %}{% uswds_field form.upload %}{% uswds_field form.name %}")


class Upload(forms.Form):
    upload = forms.FileField(label="Roster file (CSV)", help_text="One person per line.")
    name = forms.CharField(label="Name")


def render(form: forms.Form) -> str:
    return FIELD.render(Context({"form": form}))


def test_a_file_input_is_named_by_its_visible_label_whatever_uswds_script_sets():
    html = render(Upload())
    control = re.search(r'<input type="file"[^>]*>', html).group(0)
    assert 'aria-labelledby="id_upload-label"' in control
    assert 'aria-describedby="id_upload-hint"' in control
    assert '<label class="usa-label" for="id_upload" id="id_upload-label">Roster file (CSV)' in html
    assert 'class="usa-file-input"' in control


def test_other_inputs_keep_their_label_for_naming():
    html = render(Upload())
    text = re.search(r'<input type="text"[^>]*>', html).group(0)
    assert "aria-labelledby" not in text
