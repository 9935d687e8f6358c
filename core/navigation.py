"""Role-aware navigation: the header's links and the side menu of an agency's pages.

Pages other parts of the platform own (SAML discovery and claim, IdP setup, SCIM tokens,
renewals) appear only once their URL names resolve, so the portal reads the same before and
after those parts are merged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from agencies.models import Agency, RoleAssignment
from agencies.selectors import outermost_paths
from core.portal import optional_agency_url, optional_url


@dataclass
class NavItem:
    label: str
    url: str
    current: bool = False
    children: list[NavItem] = field(default_factory=list)


def _mark_current(items: list[NavItem], path: str) -> list[NavItem]:
    """Mark the item whose URL is the longest prefix of the path (``/`` only on ``/``)."""
    flat = [item for item in items for item in (item, *item.children)]
    best = max(
        (item for item in flat if path == item.url or (item.url != "/" and path.startswith(item.url))),
        key=lambda item: len(item.url),
        default=None,
    )
    for item in items:
        item.current = best is not None and (item is best or best in item.children)
        for child in item.children:
            child.current = child is best
    return items


@dataclass(frozen=True)
class MenuRoles:
    """What the menu needs to know about a user, read in one query and kept on the user."""

    is_gsa_admin: bool
    agencies: tuple[Agency, ...]  # the top agency of each subtree the user manages


def menu_roles(user: Any) -> MenuRoles:
    if not user.is_authenticated:
        return MenuRoles(False, ())
    cached = user.__dict__.get("_menu_roles")
    if cached is None:
        assignments = list(RoleAssignment.objects.filter(user=user).select_related("agency"))
        held = {a.agency.path: a.agency for a in assignments if a.agency_id}
        top = [held[path] for path in outermost_paths(held)]
        cached = MenuRoles(
            is_gsa_admin=any(a.role == RoleAssignment.Role.GSA_ADMIN for a in assignments),
            agencies=tuple(sorted(top, key=lambda agency: agency.name)),
        )
        user.__dict__["_menu_roles"] = cached
    return cached


def staff_agencies(user: Any) -> list[Agency]:
    """The top agencies of a staff member's subtrees (none for GSA administrators: they hold all)."""
    roles = menu_roles(user)
    return [] if roles.is_gsa_admin else list(roles.agencies)


def primary_nav(request: HttpRequest) -> list[NavItem]:
    user = request.user
    items: list[NavItem] = []
    if not user.is_authenticated:
        discover = optional_url("sso:discover")
        if discover:
            items.append(NavItem("Employee sign-in", discover))
        items.append(NavItem("Staff sign-in", reverse("account_login")))
        return _mark_current(items, request.path)
    items.append(NavItem("Home", reverse("home")))
    roles = menu_roles(user)
    if roles.is_gsa_admin:
        items += [
            NavItem("Dashboard", reverse("gsa:dashboard")),
            NavItem("Programs", reverse("gsa:programs")),
            NavItem("Agencies", reverse("agencies:index")),
        ]
        renewals = optional_url("billing:gsa_renewals")
        if renewals:
            items.append(NavItem("Renewals", renewals))
        items.append(NavItem("Audit log", reverse("gsa:audit")))
    elif roles.agencies:
        agencies = roles.agencies
        if len(agencies) == 1:
            items.append(
                NavItem(
                    agencies[0].abbreviation or agencies[0].name,
                    reverse("agencies:overview", args=[agencies[0].slug]),
                )
            )
        else:
            items.append(NavItem("Agencies", reverse("agencies:index")))
    claim = optional_url("claim")
    # People who sign in through their agency hold no staff role; staff who also hold a seat
    # find the claim link on the home page. This keeps the menu to its one query.
    if claim and not roles.is_gsa_admin and not roles.agencies:
        items.append(NavItem("Available seats", claim))
    return _mark_current(items, request.path)


def agency_nav(request: HttpRequest, agency: Agency, *, is_admin: bool) -> list[NavItem]:
    """The side menu of an agency's pages. Admin-only pages are left out for onboarding staff."""
    slug = agency.slug

    def url(name: str) -> str:
        return reverse(f"agencies:{name}", args=[slug])

    items = [NavItem("Overview", url("overview"))]
    if is_admin:
        items.append(NavItem("Seat pools", url("pools")))
    items += [
        NavItem("Roster", url("roster")),
        NavItem("Approvals", url("approvals")),
        NavItem("Waitlist", url("waitlist")),
        NavItem("Import a roster", url("imports")),
    ]
    if is_admin:
        items.append(NavItem("Email domains", url("domains")))
        for label, name in (
            ("Single sign-on", "sso:agency_sso"),
            ("SCIM tokens", "provisioning:scim_tokens"),
            ("Renewals", "billing:agency_renewals"),
        ):
            other = optional_agency_url(name, agency)
            if other:
                items.append(NavItem(label, other))
    items += [NavItem("Reports", url("reports")), NavItem("Audit log", url("audit"))]
    if is_admin:
        items.append(NavItem("Claim policy", url("policy")))
    return _mark_current(items, request.path)


def agency_shell(
    request: HttpRequest, agency: Agency, *, is_admin: bool, parent_visible: bool
) -> dict[str, Any]:
    """What agencies/_layout.html needs around an agency's page: side menu, breadcrumbs."""
    nav = agency_nav(request, agency, is_admin=is_admin)
    return {
        "agency": agency,
        "is_agency_admin": is_admin,
        "agency_nav": nav,
        "section": next((item.label for item in nav[1:] if item.current), ""),
        "parent_agency": agency.parent if agency.parent_id and parent_visible else None,
    }


def portal(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the header's links, computed only if a template asks for them."""
    return {"primary_nav": SimpleLazyObject(lambda: primary_nav(request))}
