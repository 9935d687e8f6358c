from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs):  # type: ignore[no-untyped-def]
        raise TypeError("The audit trail is append-only: audit events are never updated.")

    def delete(self):  # type: ignore[no-untyped-def]
        raise TypeError("The audit trail is append-only: audit events are never deleted.")


class AuditEvent(models.Model):
    """One change to the domain, recorded in the same transaction as the change; append-only."""

    occurred_at = models.DateTimeField(db_index=True)
    # The actor is copied as text as well as linked: the record must outlive the account.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=255)
    actor_kind = models.CharField(max_length=16)
    agency = models.ForeignKey(
        "agencies.Agency",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    verb = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    target_label = models.CharField(max_length=255, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["agency", "-occurred_at"], name="audit_event_agency_time"),
            models.Index(fields=["target_type", "target_id"], name="audit_event_target"),
            models.Index(fields=["verb", "-occurred_at"], name="audit_event_verb_time"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.verb} {self.target_label}"

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.pk is not None and not self._state.adding:
            raise TypeError("The audit trail is append-only: audit events are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise TypeError("The audit trail is append-only: audit events are never deleted.")
