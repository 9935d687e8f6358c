"""Reads of the outbox."""

from __future__ import annotations

from datetime import datetime

from provisioning.models import ProvisioningJob
from seats.models import Program


def jobs_due_ids(*, now: datetime, limit: int) -> list[int]:
    """Queued SCIM jobs whose time has come (one indexed query on the partial ``due`` index)."""
    return list(
        ProvisioningJob.objects.filter(
            state=ProvisioningJob.State.QUEUED,
            next_attempt_at__lte=now,
            seat__program__connector=Program.Connector.SCIM,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def outbox_counts() -> dict[str, int]:
    """Jobs per state, for the admin and health pages (one query)."""
    from django.db.models import Count

    rows = ProvisioningJob.objects.values("state").annotate(n=Count("pk")).order_by()
    return {row["state"]: row["n"] for row in rows}
