"""Inbound SCIM: tokens, what the IdP told us about a person, groups and group-based seats.

Imported from ``provisioning.models`` so Django registers them under the ``provisioning`` app.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class ScimTokenQuerySet(models.QuerySet["ScimToken"]):
    def usable(self, now) -> ScimTokenQuerySet:  # type: ignore[no-untyped-def]
        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), revoked_at__isnull=True)


class ScimToken(models.Model):
    """A bearer token an agency's IdP uses; only its SHA-256 hash is kept. It alone picks the agency."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="scim_tokens")
    name = models.CharField(max_length=100, help_text="Who uses it, e.g. “Entra ID production”.")
    # The first characters of the token, so people can tell tokens apart; never enough to use.
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Set when the token was rotated with an overlap: it keeps working until then.
    expires_at = models.DateTimeField(null=True, blank=True)
    rotated_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rotated_to"
    )
    rate_limit_per_minute = models.PositiveIntegerField()
    # Fixed-window request counter, moved in the same UPDATE that reads it (see tokens.py).
    window_started_at = models.BigIntegerField(default=0)
    window_count = models.PositiveIntegerField(default=0)

    objects = ScimTokenQuerySet.as_manager()

    class Meta:
        ordering = ["agency", "name", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "name"],
                condition=Q(revoked_at__isnull=True, expires_at__isnull=True),
                name="provisioning_scimtoken_one_current_name_per_agency",
                violation_error_message="This agency already has a token with this name.",
            ),
            models.CheckConstraint(
                condition=Q(rate_limit_per_minute__gte=1),
                name="provisioning_scimtoken_rate_limit_positive",
                violation_error_message="A token allows at least one request a minute.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now) -> bool:  # type: ignore[no-untyped-def]
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class ScimProfile(models.Model):
    """What an agency's IdP said about one employee beyond the Employee row, kept as it was sent."""

    employee = models.OneToOneField(
        "agencies.Employee", on_delete=models.PROTECT, related_name="scim_profile"
    )
    display_name = models.CharField(max_length=255, blank=True)
    emails = models.JSONField(null=True, blank=True)
    organization = models.CharField(max_length=255, blank=True)
    division = models.CharField(max_length=255, blank=True)
    department = models.CharField(max_length=255, blank=True)
    # Why the enterprise extension could not place the person in the agency tree, if it could not.
    placement_note = models.CharField(max_length=500, blank=True)
    # DELETE from the IdP: the person is suspended and the SCIM resource answers 404 from then on.
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["deleted_at"], condition=Q(deleted_at__isnull=False), name="provisioning_prof_deleted"
            )
        ]

    def __str__(self) -> str:
        return f"SCIM profile of {self.employee_id}"


class ScimGroup(models.Model):
    """A group an agency's IdP pushed; members are employees of that agency's subtree."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="scim_groups")
    display_name = models.CharField(max_length=255)
    external_id = models.CharField(max_length=255, blank=True)
    members = models.ManyToManyField(
        "agencies.Employee", through="ScimGroupMember", related_name="scim_groups"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["agency", "display_name"]
        indexes = [
            models.Index(fields=["agency", "display_name"], name="provisioning_group_name"),
            models.Index(fields=["agency", "external_id"], name="provisioning_group_external"),
        ]

    def __str__(self) -> str:
        return self.display_name


class ScimGroupMember(models.Model):
    """One employee in one SCIM group."""

    group = models.ForeignKey(ScimGroup, on_delete=models.CASCADE, related_name="memberships")
    employee = models.ForeignKey(
        "agencies.Employee", on_delete=models.CASCADE, related_name="scim_memberships"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "employee"],
                name="provisioning_scimgroupmember_once",
                violation_error_message="This person is already a member of this group.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.employee_id} in {self.group_id}"


class ScimGroupPool(models.Model):
    """An agency's rule: members of this SCIM group hold a seat from this pool."""

    group = models.ForeignKey(ScimGroup, on_delete=models.CASCADE, related_name="pools")
    allocation = models.ForeignKey("seats.Allocation", on_delete=models.PROTECT, related_name="scim_groups")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "allocation"],
                name="provisioning_scimgrouppool_once",
                violation_error_message="This group is already mapped to this pool.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.group} → {self.allocation}"


class ScimSeatGrant(models.Model):
    """A seat one person is owed through one group mapping, and what became of it.

    ``granted``: the seat exists (``seat``). ``waiting``: the pool was full, the person is on its
    waitlist (``waitlist_entry``) and gets the next freed seat. ``failed``: refused for another
    reason (``error`` says which and what to do); retried when the person or the pool changes.
    """

    class State(models.TextChoices):
        GRANTED = "granted", "Seat granted"
        WAITING = "waiting", "Waiting: pool full"
        FAILED = "failed", "Not granted"

    mapping = models.ForeignKey(ScimGroupPool, on_delete=models.CASCADE, related_name="grants")
    employee = models.ForeignKey("agencies.Employee", on_delete=models.CASCADE, related_name="scim_grants")
    state = models.CharField(max_length=10, choices=State.choices)
    seat = models.ForeignKey("seats.Seat", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    waitlist_entry = models.ForeignKey(
        "seats.WaitlistEntry", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["mapping", "employee"],
                name="provisioning_scimseatgrant_once",
                violation_error_message="This person already has a grant through this mapping.",
            )
        ]
        indexes = [models.Index(fields=["employee", "state"], name="provisioning_grant_employee")]

    def __str__(self) -> str:
        return f"{self.employee_id} via {self.mapping_id} ({self.state})"
