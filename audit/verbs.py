"""What each audit verb means, in the words the portal shows people.

The trail stores short codes (``seat.revoke``): stable for the API, the CSV export and anyone
filtering. People reading the log in the portal see the sentence beside the code. A test checks
that every verb the code can record has a sentence here.
"""

from __future__ import annotations

import json
from typing import Any

LABELS: dict[str, str] = {
    # the agency tree, people and roles
    "agency.create": "Agency added",
    "agency.update": "Agency details changed",
    "agency.policy": "Claim policy changed",
    "domain.add": "Email domain added",
    "domain.verify": "Email domain verified",
    "employee.create": "Person added to the roster",
    "employee.update": "Person's details changed",
    "employee.email": "Person's work email changed",
    "employee.suspend": "Person suspended",
    "employee.reactivate": "Person reactivated",
    "employee.link_user": "Person linked to a sign-in account",
    "role.assign": "Administrator role given",
    "role.revoke": "Administrator role taken away",
    "roster_import.upload": "Roster file uploaded",
    "roster_import.start": "Roster import started",
    "roster_import.finish": "Roster import finished",
    "roster_import.cancel": "Roster import cancelled",
    "api_token.create": "API token created",
    "api_token.revoke": "API token revoked",
    # programs, pools and seats
    "program.create": "Program created",
    "program.update": "Program changed",
    "allocation.create": "Seats allocated",
    "allocation.split": "Seats passed to an office",
    "allocation.resize": "Pool resized",
    "allocation.renew": "Pool renewed",
    "allocation.low": "Pool running low",
    "allocation.low_cleared": "Pool no longer low",
    "seat.claim": "Seat claimed",
    "seat.approve": "Seat request approved",
    "seat.reject": "Seat request rejected",
    "seat.activate": "Seat active at the vendor",
    "seat.vendor_link": "Seat linked to the vendor's account",
    "seat.fail": "Seat could not be set up at the vendor",
    "seat.retry": "Seat set-up retried",
    "seat.revoke": "Seat revoked",
    "seat.reassign": "Seat reassigned",
    "seat.expire": "Seat expired",
    "seat.reclaim_notice": "Unused seat: reclaim notice sent",
    "seat.reclaim_cancel": "Reclaim called off (seat used again)",
    "seat.restore_refused": "Seat not given back on return",
    "waitlist.join": "Joined the waitlist",
    "waitlist.leave": "Left the waitlist",
    "usage.snapshot": "Usage recorded",
    # the vendor
    "provisioning.deliver": "Vendor call delivered",
    "provisioning.fail": "Vendor call failed",
    "provisioning.retry": "Vendor call retried",
    "provisioning.cancel": "Vendor call cancelled",
    "vendor.deactivate_orphan": "Unknown vendor account deactivated",
    # sign-in
    "sso.sign_in": "Signed in through the agency's identity provider",
    "sso.sign_in.refused": "Sign-in refused",
    "sso.sign_in.throttled": "Sign-in attempts paused: too many from one place",
    "sso.account.link": "Sign-in linked to a person",
    "sso.test_sign_in": "Administrator tested sign-in",
    "sso.idp.register": "Identity provider registered",
    "sso.idp.update": "Identity provider changed",
    "sso.idp.metadata_refresh": "Identity provider updated from its published metadata",
    "sso.idp.mapping": "Identity provider attribute mapping changed",
    "sso.idp.enable": "Identity provider switched on",
    "sso.idp.disable": "Identity provider switched off",
    # SCIM
    "scim_token.create": "SCIM token created",
    "scim_token.rotate": "SCIM token rotated",
    "scim_token.revoke": "SCIM token revoked",
    "scim.user.profile": "Identity provider's profile of a person changed",
    "scim.user.delete": "Person deleted by the identity provider",
    "scim.group.create": "SCIM group created",
    "scim.group.update": "SCIM group changed",
    "scim.group.members": "SCIM group members changed",
    "scim.group.delete": "SCIM group deleted",
    "scim_group_pool.create": "SCIM group mapped to a program",
    "scim_group_pool.delete": "SCIM group mapping removed",
    "scim_grant.granted": "Seat granted by group membership",
    "scim_grant.waiting": "Group seat waiting: pool full",
    "scim_grant.failed": "Group seat not granted",
    # renewals and billing
    "renewal.request": "Renewal requested",
    "renewal.quote": "Renewal quoted",
    "renewal.approve": "Renewal approved",
    "renewal.decline": "Renewal declined",
    "renewal.cancel": "Renewal cancelled",
    "renewal.purchase_order": "Purchase order recorded",
    "renewal.invoice_draft": "Invoice being prepared",
    "renewal.invoice": "Invoice sent",
    "renewal.pay": "Invoice paid",
    "renewal.fulfil": "Renewal fulfilled",
    "renewal.lapse": "Renewal lapsed",
    "renewal.notice": "Renewal reminder sent",
    "renewal.void_request": "Invoice voided",
    "billing.customer_create": "Billing account created",
    "billing.customer_email": "Billing email changed",
}


def verb_label(verb: str) -> str:
    """The sentence for a verb; an unknown one reads as its code made legible, never an error."""
    label = LABELS.get(verb)
    if label:
        return label
    words = verb.replace("_", " ").replace(".", " ").strip()
    return words[:1].upper() + words[1:]


def _value(value: Any) -> str:
    if value is None or value == "":
        return "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def change_lines(before: Any, after: Any) -> list[str]:
    """``before``/``after`` as lines people read: ``status: active → suspended``, one per field."""
    if not isinstance(before, dict) and not isinstance(after, dict):
        if before is None and after is None:
            return []
        return [f"{_value(before)} → {_value(after)}" if before is not None else _value(after)]
    old = before if isinstance(before, dict) else {}
    new = after if isinstance(after, dict) else {}
    lines = []
    for key in [*new, *(k for k in old if k not in new)]:
        label = str(key).replace("_", " ")
        if key in old and key in new:
            lines.append(f"{label}: {_value(old[key])} → {_value(new[key])}")
        elif key in new:
            lines.append(f"{label}: {_value(new[key])}")
        else:
            lines.append(f"{label}: {_value(old[key])} → (removed)")
    return lines
