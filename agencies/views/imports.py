"""Bulk roster import: upload, the dry-run report, then the import in the background with a live
progress bar (htmx polls a small fragment; without JavaScript the page's refresh link does)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import FormView, TemplateView

from agencies.forms import RosterUploadForm
from agencies.models import RosterImport
from agencies.roster_csv import SAMPLE
from agencies.services import roster_import_cancel, roster_import_create, roster_import_start
from core.portal import AgencyPageMixin, DomainErrorMixin, window

# After this long without a counter moving, the page says no worker seems to be running.
STALL_AFTER = timedelta(seconds=20)


class ImportMixin(AgencyPageMixin):
    def imports(self):  # type: ignore[no-untyped-def]
        return RosterImport.objects.filter(agency=self.agency)

    def get_import(self) -> RosterImport:
        return get_object_or_404(self.imports().select_related("agency"), uuid=self.kwargs["uuid"])


class ImportListView(ImportMixin, DomainErrorMixin, FormView):
    template_name = "agencies/imports.html"
    form_class = RosterUploadForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        page = window(
            self.imports().order_by("-created_at", "-id"), self.request.GET.get("page"), per_page=20
        )
        return super().get_context_data(page=page, **kwargs)

    def perform(self, form: RosterUploadForm) -> HttpResponse:
        roster_import = roster_import_create(
            agency=self.agency, upload=form.cleaned_data["file"], actor=self.request.user
        )
        messages.success(self.request, f"{roster_import.filename} is uploaded; every line is being checked.")
        return redirect("agencies:import", slug=self.agency.slug, uuid=roster_import.uuid)

    def get_success_url(self) -> str:
        return reverse("agencies:imports", args=[self.agency.slug])


def progress_context(roster_import: RosterImport) -> dict[str, Any]:
    stalled = (
        roster_import.state in (RosterImport.State.CHECKING, RosterImport.State.QUEUED)
        and timezone.now() - roster_import.updated_at > STALL_AFTER
    )
    done = (
        roster_import.checked_rows
        if roster_import.state == RosterImport.State.CHECKING
        else roster_import.processed_rows
    )
    return {"job": roster_import, "done": done, "stalled": stalled}


class ImportDetailView(ImportMixin, TemplateView):
    template_name = "agencies/import.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        roster_import = self.get_import()
        issues = window(roster_import.issues.order_by("line", "id"), self.request.GET.get("page"))
        return super().get_context_data(**progress_context(roster_import), issues=issues, **kwargs)


class ImportProgressView(ImportMixin, View):
    """The progress fragment htmx polls. When the phase the page shows has ended, the page reloads
    itself (``HX-Refresh``) to show the report; a finished import stops the polling (286)."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        roster_import = self.get_import()
        response = render(request, "agencies/_import_progress.html", progress_context(roster_import))
        if request.GET.get("shown") != roster_import.state:
            response["HX-Refresh"] = "true"
        elif not roster_import.is_running:
            response.status_code = 286
        return response


class ImportActionView(ImportMixin, DomainErrorMixin, View):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        roster_import = self.get_import()
        if kwargs["action"] == "start":
            roster_import_start(roster_import=roster_import, actor=request.user)
            messages.success(request, "The import has started. You can leave this page; it carries on.")
        else:
            roster_import_cancel(roster_import=roster_import, actor=request.user)
            messages.info(request, "The import is cancelled. People already imported stay on the roster.")
        return redirect(self.get_error_url())

    def get_error_url(self) -> str:
        return reverse("agencies:import", args=[self.agency.slug, self.kwargs["uuid"]])


class SampleView(AgencyPageMixin, View):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = HttpResponse(SAMPLE, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="roster-template.csv"'
        return response
