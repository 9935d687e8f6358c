"""Agency administrators' pages: SCIM tokens (create, rotate, revoke) and group-to-pool mappings.

Every page starts from the agencies the signed-in user administers (``admin_scope``: the
GSA and agency administrator roles): any other agency is a 404, never a 403.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from agencies.models import Agency
from core.errors import DomainError
from core.portal import admin_scope
from provisioning.scim import grants, tokens
from provisioning.scim.models import ScimGroup, ScimGroupPool, ScimSeatGrant, ScimToken
from seats.models import Allocation, WaitlistEntry

OVERLAPS = {"0": timedelta(0), "1h": timedelta(hours=1), "24h": timedelta(hours=24)}


def _administered(request: HttpRequest, slug: str) -> Agency:
    scope = admin_scope(request.user)
    return get_object_or_404(scope.filter_agencies(Agency.objects.filter(slug=slug)))


def _tokens_page(
    request: HttpRequest, agency: Agency, issued: tokens.IssuedToken | None = None
) -> HttpResponse:
    rows = ScimToken.objects.filter(agency=agency).select_related("created_by").order_by("-created_at")
    return render(
        request,
        "provisioning/scim_tokens.html",
        {
            "agency": agency,
            "tokens": rows,
            "issued": issued,
            "base_url": request.build_absolute_uri("/scim/v2/"),
            "default_limit": tokens.default_rate_limit(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def scim_tokens(request: HttpRequest, slug: str) -> HttpResponse:
    agency = _administered(request, slug)
    if request.method == "GET":
        return _tokens_page(request, agency)
    action = request.POST.get("action")
    try:
        if action == "create":
            limit = request.POST.get("rate_limit_per_minute") or None
            issued = tokens.scim_token_create(
                agency=agency,
                name=request.POST.get("name", ""),
                actor=request.user,
                rate_limit_per_minute=int(limit) if limit and limit.isdigit() else None,
            )
            # The secret is rendered in this response only: never stored, never redirected with.
            return _tokens_page(request, agency, issued)
        token = get_object_or_404(ScimToken.objects.filter(agency=agency), pk=request.POST.get("token"))
        if action == "rotate":
            overlap = OVERLAPS.get(request.POST.get("overlap", "0"), timedelta(0))
            issued = tokens.scim_token_rotate(token=token, actor=request.user, overlap=overlap)
            return _tokens_page(request, agency, issued)
        if action == "revoke":
            tokens.scim_token_revoke(token=token, actor=request.user)
            messages.success(request, f"The token “{token.name}” ({token.prefix}…) no longer works.")
            return redirect("provisioning:scim_tokens", slug=agency.slug)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("provisioning:scim_tokens", slug=agency.slug)
    raise Http404("Unknown action")


def _pools_for(agency: Agency):  # type: ignore[no-untyped-def]
    lineage = Q(agency__path__startswith=agency.path) | Q(agency_id__in=agency.ancestor_ids())
    return (
        Allocation.objects.filter(lineage)
        .select_related("program", "agency")
        .order_by("program__name", "agency__path")
    )


@login_required
@require_http_methods(["GET", "POST"])
def scim_groups(request: HttpRequest, slug: str) -> HttpResponse:
    agency = _administered(request, slug)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "map":
                group = get_object_or_404(
                    ScimGroup.objects.filter(agency=agency), pk=request.POST.get("group")
                )
                allocation = get_object_or_404(_pools_for(agency), pk=request.POST.get("allocation"))
                mapping = grants.scim_group_pool_create(
                    group=group, allocation=allocation, actor=request.user
                )
                evaluated = grants.scim_group_pool_sync_start(mapping=mapping, actor=request.user)
                if evaluated is None:
                    messages.success(
                        request,
                        f"“{group}” now gives seats from {allocation}. Its members are being given seats "
                        "in the background: the count beside the pool grows as they are, and anyone who "
                        "has to wait or is refused appears above.",
                    )
                else:
                    messages.success(
                        request, f"“{group}” now gives seats from {allocation}; {evaluated} members checked."
                    )
            elif action == "unmap":
                mapping = get_object_or_404(
                    ScimGroupPool.objects.filter(group__agency=agency), pk=request.POST.get("mapping")
                )
                grants.scim_group_pool_delete(mapping=mapping, actor=request.user)
                messages.success(request, "The mapping is gone; seats already granted stay.")
            elif action == "retry":
                retried = grants.grants_retry_failed_start(agency=agency, actor=request.user)
                if retried is None:
                    messages.success(request, "The refused grants are being tried again in the background.")
                else:
                    messages.success(request, f"{retried} seat grants tried again.")
            else:
                raise Http404("Unknown action")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("provisioning:scim_groups", slug=agency.slug)
    groups = (
        ScimGroup.objects.filter(agency=agency)
        .annotate(member_count=Count("memberships", distinct=True))
        .prefetch_related(
            Prefetch(
                "pools",
                queryset=ScimGroupPool.objects.select_related("allocation__program", "allocation__agency")
                .annotate(checked=Count("grants"))
                .order_by("pk"),
            )
        )
        .order_by("display_name")
    )
    problems = (
        ScimSeatGrant.objects.filter(mapping__group__agency=agency)
        .exclude(state=ScimSeatGrant.State.GRANTED)
        # A waiting grant whose waitlist place was served holds its seat already.
        .exclude(state=ScimSeatGrant.State.WAITING, waitlist_entry__state=WaitlistEntry.State.SERVED)
        .select_related("employee", "mapping__group", "mapping__allocation__program", "waitlist_entry")
        .order_by("-updated_at")[:200]
    )
    return render(
        request,
        "provisioning/scim_groups.html",
        {"agency": agency, "groups": groups, "pools": _pools_for(agency), "problems": problems},
    )
