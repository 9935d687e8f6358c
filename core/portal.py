"""What every portal page shares: who may open it, how a service's refusal reads, and paging
that stays cheap at national scale.

Scope first: a page under ``/agencies/<slug>/`` finds its agency through the user's scope, so an
agency outside it is a 404 (no existence leak), exactly like an agency that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import NoReverseMatch, reverse
from django.utils.functional import cached_property

from agencies.models import Agency, RoleAssignment
from agencies.selectors import Scope, user_scope
from core.errors import DomainError

ADMIN_ROLES = (RoleAssignment.Role.GSA_ADMIN, RoleAssignment.Role.AGENCY_ADMIN)


def optional_url(name: str, *args: Any, **kwargs: Any) -> str | None:
    """The URL of a page another part of the platform may not have shipped yet, or None."""
    try:
        return reverse(name, args=args or None, kwargs=kwargs or None)
    except NoReverseMatch:
        return None


def optional_agency_url(name: str, agency: Agency) -> str | None:
    """An agency page of another app, whichever way its URL names the agency."""
    return (
        optional_url(name, slug=agency.slug)
        or optional_url(name, agency_slug=agency.slug)
        or optional_url(name, agency.slug)
    )


def long_date(value: date | datetime) -> str:
    """ "March 5, 2026": how dates read on the portal (UTC, like the terms themselves)."""
    return f"{value:%B} {value.day}, {value.year}"


def staff_scope(user: Any) -> Scope:
    """The agencies a user may manage: GSA administrators everything, staff their subtrees.

    An employee's own-record scope does not count here: signing in through an agency's IdP
    grants no staff page.
    """
    scope = user_scope(user)
    return scope if scope.is_global or scope.paths else Scope()


def admin_scope(user: Any) -> Scope:
    """The agencies a user may change pools, domains and policy of.

    Like ``staff_scope``, never the employee's own-record scope: ``user_scope`` adds that for anyone
    on a roster, and ``filter_agencies`` would turn it into the employee's own agency.
    """
    scope = user_scope(user, roles=ADMIN_ROLES)
    return scope if scope.is_global or scope.paths else Scope()


class StaffPageMixin(LoginRequiredMixin):
    """Signed-in staff only; anyone else signed in gets a 404, as if the page did not exist."""

    request: HttpRequest
    scope: Scope

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.scope = staff_scope(request.user)
        if self.scope.is_empty:
            raise Http404("No staff role")
        self.check_access(**kwargs)
        return super().dispatch(request, *args, **kwargs)

    def check_access(self, **kwargs: Any) -> None:
        """Raise Http404 when this signed-in staff member may not open the page."""


class GsaAdminMixin(StaffPageMixin):
    """Pages under /gsa/: GSA administrators only."""

    def check_access(self, **kwargs: Any) -> None:
        if not self.scope.is_global:
            raise Http404("Not a GSA administrator")


class AgencyPageMixin(StaffPageMixin):
    """Pages under /agencies/<slug>/: the agency comes from the user's scope or not at all.

    ``admin_only`` pages (pools, domains, policy) are for agency administrators of the subtree
    and GSA administrators; onboarding staff get the same 404 as an outsider.
    """

    admin_only = False
    agency: Agency
    is_agency_admin: bool

    def check_access(self, **kwargs: Any) -> None:
        self.agency = get_object_or_404(
            self.scope.filter_agencies(Agency.objects.select_related("parent")), slug=kwargs["slug"]
        )
        self.is_agency_admin = admin_scope(self.request.user).covers(self.agency)
        if self.admin_only and not self.is_agency_admin:
            raise Http404("Agency administrators only")

    @cached_property
    def subtree_ids(self) -> list[int]:
        """The agency and every office under it, as ids.

        The agency came through the user's scope, so its subtree is inside it. Lists filter on
        these ids rather than on a join by path: PostgreSQL then knows how many people match
        (474,000 for VA) and walks the email index for the first page instead of sorting all.
        """
        return list(Agency.objects.subtree_of(self.agency).values_list("pk", flat=True))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        # Imported here: the navigation module builds on this one's helpers.
        from core.navigation import agency_shell

        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        parent = self.agency.parent if self.agency.parent_id else None
        context.update(
            agency_shell(
                self.request,
                self.agency,
                is_admin=self.is_agency_admin,
                parent_visible=parent is not None and self.scope.covers(parent),
            )
        )
        return context


class DomainErrorMixin:
    """The one place a service's refusal (``DomainError``) becomes a friendly USWDS alert.

    On a form page the message goes on top of the form, which keeps what the person typed; an
    action without a form (a button) goes back where it came from with the message shown there.
    Subclasses put the service call in ``perform(form)``.
    """

    request: HttpRequest

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect(self.get_error_url())

    def form_valid(self, form: Any) -> HttpResponse:
        try:
            return self.perform(form)
        except DomainError as exc:
            form.add_error(None, exc.message)
            context = self.get_context_data(form=form)  # type: ignore[attr-defined]
            return self.render_to_response(context, status=exc.http_status)  # type: ignore[attr-defined]

    def perform(self, form: Any) -> HttpResponse:
        raise TypeError(f"{type(self).__name__} must define perform(form)")

    def get_error_url(self) -> str:
        return self.get_success_url()  # type: ignore[attr-defined]


class ConfirmMixin:
    """A form that shows what will happen and asks once more before calling the service.

    The first valid POST renders the confirmation (the values ride along as hidden fields); the
    POST with ``confirm`` performs it; ``edit`` goes back to the filled-in form.
    """

    request: HttpRequest
    confirm_label = "Confirm"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Behind DomainErrorMixin, form_valid would perform at once and never ask.
        mro = cls.__mro__
        if DomainErrorMixin in mro and mro.index(DomainErrorMixin) < mro.index(ConfirmMixin):
            raise TypeError(f"{cls.__name__}: list ConfirmMixin before the mixins that perform the change")

    def form_valid(self, form: Any) -> HttpResponse:
        if "edit" in self.request.POST:
            return self.render_to_response(self.get_context_data(form=form))  # type: ignore[attr-defined]
        if "confirm" not in self.request.POST:
            context = self.get_context_data(  # type: ignore[attr-defined]
                form=form,
                confirming=True,
                confirmation=self.confirmation(form),
                confirm_label=self.confirm_label,
            )
            return self.render_to_response(context)  # type: ignore[attr-defined]
        return super().form_valid(form)  # type: ignore[misc]

    def confirmation(self, form: Any) -> list[tuple[str, str]]:
        """(label, value) pairs the person checks before confirming."""
        return [(str(form[name].label), str(value)) for name, value in form.cleaned_data.items()]


@dataclass
class Window:
    """One page of a long list, found without counting the whole list.

    Fetches one row more than it shows to know whether there is a next page, so a roster of
    474,000 people costs the same as one of ten.
    """

    object_list: list
    number: int
    per_page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.object_list else 0

    @property
    def end_index(self) -> int:
        return self.start_index + len(self.object_list) - 1 if self.object_list else 0

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1


def window(queryset: QuerySet, page: Any, per_page: int = 50) -> Window:
    try:
        number = max(1, int(page))
    except (TypeError, ValueError):
        number = 1
    offset = (number - 1) * per_page
    rows = list(queryset[offset : offset + per_page + 1])
    return Window(
        object_list=rows[:per_page], number=number, per_page=per_page, has_next=len(rows) > per_page
    )


COUNT_CAP = 10_000


@dataclass(frozen=True)
class Capped:
    """A count that stopped at a cap: prints "10,000+" rather than scanning half a million rows."""

    value: int
    more: bool

    def __str__(self) -> str:
        return f"{self.value:,}+" if self.more else f"{self.value:,}"

    def __bool__(self) -> bool:
        return self.value > 0


def capped_count(queryset: QuerySet, cap: int = COUNT_CAP) -> Capped:
    """How many rows match, counting no further than ``cap`` (one bounded query)."""
    counted = queryset.order_by()[: cap + 1].count()
    return Capped(value=min(counted, cap), more=counted > cap)
