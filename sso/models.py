from __future__ import annotations

from typing import cast

from django.db import models
from django.db.models import Q

# What the platform reads from a SAML assertion, and the attribute names IdPs really send for
# each (Okta, Entra ID, ADFS, Shibboleth, Login.gov-style OIDs). The first one present wins.
DEFAULT_ATTRIBUTE_MAPPING: dict[str, list[str]] = {
    "uid": ["urn:oasis:names:tc:SAML:attribute:subject-id"],
    "email": [
        "urn:oid:0.9.2342.19200300.100.1.3",
        "mail",
        "email",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    ],
    "first_name": [
        "urn:oid:2.5.4.42",
        "givenName",
        "firstName",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    ],
    "last_name": [
        "urn:oid:2.5.4.4",
        "sn",
        "surname",
        "lastName",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    ],
    "employee_number": [
        "urn:oid:2.16.840.1.113730.3.1.3",
        "employeeNumber",
        "employeeID",
        "http://schemas.microsoft.com/ws/2008/06/identity/claims/employeeid",
    ],
    "office": [
        "urn:oid:2.5.4.11",
        "ou",
        "department",
        "bureau",
        "http://schemas.microsoft.com/ws/2008/06/identity/claims/department",
    ],
}
MAPPING_KEYS = tuple(DEFAULT_ATTRIBUTE_MAPPING)


class IdentityProviderQuerySet(models.QuerySet["IdentityProvider"]):
    def enabled(self) -> IdentityProviderQuerySet:
        return self.filter(is_enabled=True)

    def visible_to(self, user) -> IdentityProviderQuerySet:  # type: ignore[no-untyped-def]
        from agencies.selectors import user_scope

        return cast(IdentityProviderQuerySet, user_scope(user).filter_by_agency(self, "agency"))


class IdentityProvider(models.Model):
    """An agency's SAML identity provider, tied to the allauth SocialApp that signs people in with it."""

    agency = models.OneToOneField(
        "agencies.Agency", on_delete=models.PROTECT, related_name="identity_provider"
    )
    social_app = models.OneToOneField(
        "socialaccount.SocialApp", on_delete=models.PROTECT, related_name="identity_provider"
    )
    # Mirrors SocialApp.provider_id, where nothing stops two agencies from sharing one value;
    # here a unique index does, so one IdP can never sign people into two agencies.
    entity_id = models.CharField(max_length=200)
    sso_url = models.URLField(max_length=1024)
    slo_url = models.URLField(max_length=1024, blank=True)
    metadata_url = models.URLField(max_length=1024, blank=True)
    # The daily refresh from metadata_url: when it last ran, and why it last failed (shown to the
    # agency's administrators; empty once a refresh succeeds). A failure keeps the old settings.
    metadata_checked_at = models.DateTimeField(null=True, blank=True)
    metadata_error = models.TextField(blank=True)
    attribute_mapping = models.JSONField(default=dict, blank=True)
    is_enabled = models.BooleanField(default=True)
    # The in-project development IdP (DEBUG only); production refuses its responses.
    is_development = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IdentityProviderQuerySet.as_manager()

    class Meta:
        ordering = ["agency__path"]
        constraints = [
            models.UniqueConstraint(
                fields=["entity_id"],
                name="sso_identityprovider_unique_entity_id",
                violation_error_message="This IdP entity id is already registered to another agency.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agency} — {self.entity_id}"

    def mapping(self) -> dict[str, list[str]]:
        """The effective attribute mapping: the agency's names first, then the defaults."""
        merged: dict[str, list[str]] = {}
        for key in MAPPING_KEYS:
            own = [name for name in self.attribute_mapping.get(key, []) if name]
            merged[key] = own + [n for n in DEFAULT_ATTRIBUTE_MAPPING[key] if n not in own]
        return merged


class IdpCertificate(models.Model):
    """A signing certificate pinned for an IdP; two at once while the IdP rolls its key over."""

    identity_provider = models.ForeignKey(
        IdentityProvider, on_delete=models.CASCADE, related_name="certificates"
    )
    pem = models.TextField()
    fingerprint_sha256 = models.CharField(max_length=95)
    subject = models.CharField(max_length=255, blank=True)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-not_after"]
        constraints = [
            models.UniqueConstraint(
                fields=["identity_provider", "fingerprint_sha256"],
                name="sso_idpcertificate_unique_per_idp",
                violation_error_message="This certificate is already pinned for this IdP.",
            ),
            models.CheckConstraint(
                condition=Q(not_after__gt=models.F("not_before")),
                name="sso_idpcertificate_validity_order",
                violation_error_message="A certificate must expire after it becomes valid.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject or self.fingerprint_sha256[:23]} (until {self.not_after:%Y-%m-%d})"


class AssertionUse(models.Model):
    """An assertion id already accepted, kept until it expires so it can never be used twice."""

    identity_provider = models.ForeignKey(
        IdentityProvider, on_delete=models.CASCADE, related_name="assertion_uses"
    )
    assertion_id = models.CharField(max_length=255)
    used_at = models.DateTimeField()
    # NotOnOrAfter plus the allowed clock skew: after this no validator accepts it anyway.
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["identity_provider", "assertion_id"],
                name="sso_assertionuse_once",
                violation_error_message="This assertion has been used already.",
            ),
        ]

    def __str__(self) -> str:
        return self.assertion_id
