"""E-mail to an agency's administrators about its renewal: payment failed, overdue, declined."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from agencies.models import RoleAssignment
from billing.models import RenewalOrder

log = logging.getLogger(__name__)
KINDS = ("payment_failed", "invoice_overdue", "renewal_declined")


def notice_recipients(order: RenewalOrder) -> list[str]:
    """The agency's administrators and the billing contact on the order, each once."""
    emails = RoleAssignment.objects.filter(
        role=RoleAssignment.Role.AGENCY_ADMIN, agency_id=order.agency_id
    ).values_list("user__email", flat=True)
    seen: dict[str, None] = {}
    for email in [*emails, order.billing_email]:
        if email:
            seen.setdefault(email.strip().lower(), None)
    return list(seen)


def renewal_notice_send(*, order_id: int, kind: str) -> int:
    """Render ``templates/emails/billing/<kind>*.txt`` and send it; returns how many were addressed."""
    if kind not in KINDS:
        raise ValueError(f"unknown billing notice {kind!r}")
    order = RenewalOrder.objects.select_related("agency", "program").filter(pk=order_id).first()
    if order is None:
        return 0
    recipients = notice_recipients(order)
    if not recipients:
        log.warning("renewal %s: nobody to tell about %s", order.uuid, kind)
        return 0
    path = reverse("billing:agency_renewals", kwargs={"slug": order.agency.slug})
    context = {
        "order": order,
        "agency": order.agency,
        "program": order.program,
        "renewals_url": f"{settings.SITE_URL.rstrip('/')}{path}",
    }
    subject = " ".join(render_to_string(f"emails/billing/{kind}_subject.txt", context).split())
    body = render_to_string(f"emails/billing/{kind}.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    return len(recipients)
