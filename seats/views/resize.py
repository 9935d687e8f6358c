"""Resizing a pool, the same form for GSA (a department's pool) and an agency (a bureau's pool)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect

from seats.forms import ResizeForm
from seats.models import Allocation
from seats.services import allocation_resize


class ResizeMixin:
    """The form, its confirmation and the change; the view names the pool (``pool_word``), says
    what its seats are used by (``in_use_label``) and adds its own rows (``more_rows``)."""

    form_class = ResizeForm
    allocation: Allocation
    pool_word = "pool"
    in_use_label = "In use"

    def get_initial(self) -> dict[str, Any]:
        return {"quantity": self.allocation.quantity}

    def more_rows(self) -> list[tuple[str, str]]:
        return []

    def confirmation(self, form: ResizeForm) -> list[tuple[str, str]]:
        a = self.allocation
        return [
            ("Pool", str(a)),
            ("Seats now", f"{a.quantity:,}"),
            ("Seats after", f"{form.cleaned_data['quantity']:,}"),
            (self.in_use_label, f"{a.assigned + a.reserved_for_children:,}"),
            *self.more_rows(),
        ]

    def perform(self, form: ResizeForm) -> HttpResponse:
        quantity = form.cleaned_data["quantity"]
        allocation_resize(allocation=self.allocation, quantity=quantity, actor=self.request.user)  # type: ignore[attr-defined]
        messages.success(self.request, f"The {self.pool_word} now holds {quantity:,} seats.")  # type: ignore[attr-defined]
        return redirect(self.get_success_url())  # type: ignore[attr-defined]
