from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


class ProvisioningJob(models.Model):
    """Outbox row: one vendor call owed for one seat, written in the seat change's transaction."""

    class Action(models.TextChoices):
        CREATE = "create", "Create user"
        DEACTIVATE = "deactivate", "Deactivate user"
        REACTIVATE = "reactivate", "Reactivate user"
        UPDATE = "update", "Update user"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        DONE = "done", "Delivered"
        FAILED = "failed", "Failed after retries"
        CANCELLED = "cancelled", "Cancelled"

    # Sent to the vendor as the request's idempotency handle, so a retried create is one user.
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    seat = models.ForeignKey("seats.Seat", on_delete=models.PROTECT, related_name="jobs")
    action = models.CharField(max_length=12, choices=Action.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="queued"),
                name="provisioning_job_due",
            ),
            models.Index(fields=["seat", "state"], name="provisioning_job_seat"),
        ]

    def __str__(self) -> str:
        return f"{self.action} seat {self.seat_id} ({self.state})"


# The inbound SCIM server's models live in their own module; importing them here registers them.
from provisioning.scim.models import (  # noqa: E402
    ScimGroup,
    ScimGroupMember,
    ScimGroupPool,
    ScimProfile,
    ScimSeatGrant,
    ScimToken,
)

__all__ = [
    "ProvisioningJob",
    "ScimGroup",
    "ScimGroupMember",
    "ScimGroupPool",
    "ScimProfile",
    "ScimSeatGrant",
    "ScimToken",
]
