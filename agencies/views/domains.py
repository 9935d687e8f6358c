"""An agency's email domains: the list, adding one, and proving it through a DNS TXT record."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.generic import FormView

from agencies.dns import txt_records
from agencies.forms import DomainAddForm
from agencies.models import AgencyDomain
from agencies.services import TXT_PREFIX, agency_domain_add, agency_domain_verify
from core.portal import AgencyPageMixin, DomainErrorMixin


class DomainsView(AgencyPageMixin, DomainErrorMixin, FormView):
    """The list and the add form on one page; verifying is a button per unverified domain."""

    template_name = "agencies/domains.html"
    form_class = DomainAddForm
    admin_only = True

    def domains(self) -> list[AgencyDomain]:
        return list(
            AgencyDomain.objects.filter(agency__path__startswith=self.agency.path)
            .select_related("agency")
            .order_by("verified_at", "domain")
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(domains=self.domains(), txt_prefix=TXT_PREFIX, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "verify" in request.POST:
            return self.verify(request.POST["verify"])
        return super().post(request, *args, **kwargs)

    def perform(self, form: DomainAddForm) -> HttpResponse:
        row = agency_domain_add(
            agency=self.agency, domain=form.cleaned_data["domain"], actor=self.request.user
        )
        messages.success(
            self.request,
            f"{row.domain} is added. Publish the TXT record shown below, then choose “Check DNS now”.",
        )
        return redirect(self.get_success_url())

    def verify(self, domain_id: str) -> HttpResponse:
        row = get_object_or_404(
            AgencyDomain.objects.filter(agency__path__startswith=self.agency.path),
            pk=int(domain_id) if domain_id.isdigit() else 0,
        )
        verified = agency_domain_verify(
            agency_domain=row, txt_records=txt_records(row.domain), actor=self.request.user
        )
        messages.success(
            self.request, f"{verified.domain} is verified: its people can now sign in and claim seats."
        )
        return redirect(self.get_success_url())

    def get_success_url(self) -> str:
        return reverse("agencies:domains", args=[self.agency.slug])
