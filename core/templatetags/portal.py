"""Template helpers for the USWDS look: form fields, charts, percentages and seat-state tags."""

from __future__ import annotations

from typing import Any

from django import forms, template

from audit import verbs

register = template.Library()

_WIDGET_CLASS = {
    forms.Select: "usa-select",
    forms.SelectMultiple: "usa-select",
    forms.Textarea: "usa-textarea",
    forms.ClearableFileInput: "usa-file-input",
    forms.FileInput: "usa-file-input",
    forms.CheckboxInput: "usa-checkbox__input",
    forms.RadioSelect: "usa-radio__input",
}


@register.inclusion_tag("core/_field.html")
def uswds_field(field: forms.BoundField, width: str = "", combo: bool = False) -> dict[str, Any]:
    """One form field as USWDS draws it: label, hint, error message, and the ARIA that ties them."""
    widget = field.field.widget
    css = next((c for kind, c in _WIDGET_CLASS.items() if isinstance(widget, kind)), "usa-input")
    if width:
        css += f" usa-input--{width}"
    described = []
    if field.help_text:
        described.append(f"{field.auto_id}-hint")
    if field.errors:
        css += " usa-input--error"
        described.append(f"{field.auto_id}-error")
    attrs: dict[str, Any] = {"class": css}
    if described:
        attrs["aria-describedby"] = " ".join(described)
    if field.errors:
        attrs["aria-invalid"] = "true"
    if isinstance(widget, forms.FileInput):
        # USWDS's script gives a file input an aria-label of its drop-zone text ("Drag file here
        # or choose from folder"), which replaces the field's label for screen readers; the
        # visible label must stay its name (WCAG 2.5.3), and aria-labelledby outranks aria-label.
        attrs["aria-labelledby"] = f"{field.auto_id}-label"
    kind = "checkbox" if isinstance(widget, forms.CheckboxInput) else ""
    if isinstance(widget, forms.RadioSelect):
        kind = "radio"
    return {"field": field, "widget_html": field.as_widget(attrs=attrs), "kind": kind, "combo": combo}


@register.inclusion_tag("core/_chart.html")
def chart(series: Any, chart_id: str) -> dict[str, Any]:
    """A Chart.js chart with its data as a table beside it, for people who cannot see the chart."""
    return {
        "series": series,
        "chart_id": chart_id,
        "data_id": f"{chart_id}-data",
        "columns": list(series.datasets),
    }


@register.filter
def spans_programs(rows: list) -> bool:
    """True when pool rows come from more than one program: only then is a Program column useful."""
    return len({row.allocation.program_id for row in rows}) > 1


@register.filter
def percent(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.{int(digits)}f}%"


_STATE_TAG = {
    "active": "bg-green",
    "reclaim_notice": "bg-gold text-ink",
    "requested": "bg-accent-cool-darker",
    "pending": "bg-primary",
    "failed": "bg-secondary-dark",
    "rejected": "bg-base-dark",
    "revoked": "bg-base-dark",
    "expired": "bg-base-dark",
}


@register.filter
def state_class(state: str) -> str:
    """Colours for a seat state's tag, each passing WCAG AA contrast with its text."""
    return _STATE_TAG.get(state, "")


@register.filter
def verb_label(verb: str) -> str:
    """An audit verb (``seat.revoke``) as the sentence people read (``Seat revoked``)."""
    return verbs.verb_label(verb)


@register.filter
def change_lines(event: Any) -> list[str]:
    """An audit event's before and after, one ``field: old → new`` line per field."""
    return verbs.change_lines(event.before, event.after)
