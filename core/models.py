"""Personal API tokens: how integrations reach the REST API on a person's behalf."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def usable(self, now) -> ApiTokenQuerySet:  # type: ignore[no-untyped-def]
        return self.filter(revoked_at__isnull=True, expires_at__gt=now)


class ApiToken(models.Model):
    """A person's API token for an integration; only its SHA-256 hash is kept, and it always expires."""

    class Scope(models.TextChoices):
        READ = "read", "Read only"
        READ_WRITE = "read_write", "Read and write"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What uses it, e.g. “HR sync job”.")
    # The first characters, so people can tell tokens apart; never enough to use.
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")),
                name="core_apitoken_expires_after_creation",
                violation_error_message="A token must expire after it is made.",
            ),
            models.CheckConstraint(
                condition=Q(scope__in=["read", "read_write"]),
                name="core_apitoken_scope_valid",
                violation_error_message="A token reads, or reads and writes.",
            ),
        ]
        indexes = [models.Index(fields=["user", "-created_at"], name="core_apitoken_user_time")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def can_write(self) -> bool:
        return self.scope == self.Scope.READ_WRITE

    def is_usable(self, now) -> bool:  # type: ignore[no-untyped-def]
        return self.revoked_at is None and self.expires_at > now
