from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


class AgencyQuerySet(models.QuerySet["Agency"]):
    def subtree_of(self, agency: Agency) -> AgencyQuerySet:
        return self.filter(path__startswith=agency.path)

    def top_level(self) -> AgencyQuerySet:
        return self.filter(parent__isnull=True)

    def visible_to(self, user) -> AgencyQuerySet:  # type: ignore[no-untyped-def]
        from agencies.selectors import user_scope

        return user_scope(user).filter_agencies(self)


class Agency(models.Model):
    """A department, independent agency, bureau or office: one node of the federal tree."""

    class Kind(models.TextChoices):
        DEPARTMENT = "department", "Department"
        INDEPENDENT = "independent", "Independent agency"
        BUREAU = "bureau", "Bureau"
        OFFICE = "office", "Office"
        # OPM folds agencies of 10 or fewer employees into one row; kept so totals add up,
        # never given seats.
        AGGREGATE = "aggregate", "Statistical aggregate"

    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=255)
    opm_name = models.CharField(max_length=255, blank=True, help_text="Name as OPM spells it.")
    abbreviation = models.CharField(max_length=20, blank=True)
    opm_code = models.CharField(max_length=12, unique=True, null=True, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    size_class = models.CharField(max_length=80, blank=True)
    headcount = models.PositiveIntegerField(
        default=0, help_text="Employees in this node's subtree, OPM FedScope March 2025."
    )
    # "/12/345/": ids from the root down, so a subtree is one indexed prefix match.
    path = models.CharField(max_length=255, unique=True, editable=False)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)

    # Policy, set by the agency's administrators.
    claims_require_approval = models.BooleanField(
        default=False, help_text="Claims wait for an administrator's approval."
    )
    inactivity_reclaim_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Reclaim seats unused for this many days; empty: never."
    )
    reclaim_grace_days = models.PositiveSmallIntegerField(default=14)
    restore_seats_on_reactivation = models.BooleanField(
        default=True, help_text="When the IdP re-activates a person, give back revoked seats."
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AgencyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "agencies"
        ordering = ["path"]
        constraints = [
            models.CheckConstraint(
                condition=Q(parent__isnull=True) | ~Q(parent=models.F("id")),
                name="agencies_agency_not_own_parent",
                violation_error_message="An agency cannot be its own parent.",
            ),
            models.CheckConstraint(
                condition=Q(parent__isnull=True, kind__in=["department", "independent", "aggregate"])
                | Q(parent__isnull=False, kind__in=["bureau", "office"]),
                name="agencies_agency_kind_matches_level",
                violation_error_message=(
                    "Departments and independent agencies sit at the top of the tree; "
                    "bureaus and offices sit under another agency."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_top_level(self) -> bool:
        return self.parent_id is None

    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]

    def is_within(self, other: Agency) -> bool:
        """True when this agency is ``other`` or one of its descendants."""
        return self.path.startswith(other.path)


class RegisteredDomain(models.Model):
    """A .gov second-level domain from CISA's registry, federal or not (the allow/deny source)."""

    domain = models.CharField(max_length=253, unique=True)
    domain_type = models.CharField(max_length=64)
    organization_name = models.CharField(max_length=255)
    suborganization_name = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=120, blank=True)
    state = models.CharField(max_length=40, blank=True)

    FEDERAL_EXECUTIVE = "Federal - Executive"

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.CheckConstraint(
                condition=Q(domain=Lower("domain")),
                name="agencies_registereddomain_lowercase",
                violation_error_message="Domains are stored in lower case.",
            ),
        ]

    def __str__(self) -> str:
        return self.domain

    @property
    def is_federal_executive(self) -> bool:
        return self.domain_type == self.FEDERAL_EXECUTIVE


class AgencyDomain(models.Model):
    """An email domain of an agency. A domain belongs to at most one agency."""

    class Method(models.TextChoices):
        DOTGOV_REGISTRY = "dotgov_registry", ".gov registry"
        DNS_TXT = "dns_txt", "DNS TXT record"
        MANUAL = "manual", "Confirmed by GSA"

    domain = models.CharField(max_length=253)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="domains")
    method = models.CharField(max_length=20, choices=Method.choices)
    verification_token = models.CharField(max_length=64, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain"],
                name="agencies_agencydomain_one_agency_per_domain",
                violation_error_message="This domain already belongs to an agency.",
            ),
            models.CheckConstraint(
                condition=Q(domain=Lower("domain")),
                name="agencies_agencydomain_lowercase",
                violation_error_message="Domains are stored in lower case.",
            ),
        ]

    def __str__(self) -> str:
        return self.domain

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None


class EmployeeQuerySet(models.QuerySet["Employee"]):
    def in_subtree(self, agency: Agency) -> EmployeeQuerySet:
        return self.filter(agency__path__startswith=agency.path)

    def visible_to(self, user) -> EmployeeQuerySet:  # type: ignore[no-untyped-def]
        from agencies.selectors import user_scope

        return user_scope(user).filter_employees(self)


class Employee(models.Model):
    """A federal employee who may hold seats; linked to a login once they sign in."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        DEPARTED = "departed", "Departed"

    class Source(models.TextChoices):
        SAML = "saml", "SAML sign-in"
        SCIM = "scim", "SCIM provisioning"
        CSV = "csv", "Roster import"
        MANUAL = "manual", "Added by staff"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="employees")
    email = models.EmailField(max_length=254)
    given_name = models.CharField(max_length=150, blank=True)
    family_name = models.CharField(max_length=150, blank=True)
    external_id = models.CharField(max_length=255, blank=True, help_text="Id at the agency IdP.")
    employee_number = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    source = models.CharField(max_length=16, choices=Source.choices)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="employee",
    )
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EmployeeQuerySet.as_manager()

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                fields=["email"],
                name="agencies_employee_unique_email",
                violation_error_message="An employee with this email already exists.",
            ),
            models.CheckConstraint(
                condition=Q(email=Lower("email")),
                name="agencies_employee_email_lowercase",
                violation_error_message="Employee emails are stored in lower case.",
            ),
        ]
        indexes = [
            models.Index(fields=["agency", "status"], name="agencies_emp_agency_status"),
            models.Index(fields=["agency", "external_id"], name="agencies_emp_external_id"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip() or self.email

    @property
    def email_domain(self) -> str:
        return self.email.rpartition("@")[2]


class RoleAssignment(models.Model):
    """A staff role held by a user over an agency's subtree (GSA administrators: everything)."""

    class Role(models.TextChoices):
        GSA_ADMIN = "gsa_admin", "GSA administrator"
        AGENCY_ADMIN = "agency_admin", "Agency administrator"
        ONBOARDING_STAFF = "onboarding_staff", "Onboarding staff"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments"
    )
    agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="role_assignments"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(role="gsa_admin", agency__isnull=True)
                | (~Q(role="gsa_admin") & Q(agency__isnull=False)),
                name="agencies_roleassignment_scope_matches_role",
                violation_error_message=(
                    "GSA administrators hold every agency; other roles name one agency."
                ),
            ),
            models.UniqueConstraint(
                fields=["user", "role", "agency"],
                name="agencies_roleassignment_unique",
                violation_error_message="This user already holds this role here.",
            ),
            models.UniqueConstraint(
                fields=["user", "role"],
                condition=Q(agency__isnull=True),
                name="agencies_roleassignment_unique_global",
                violation_error_message="This user is already a GSA administrator.",
            ),
        ]

    def __str__(self) -> str:
        where = self.agency.name if self.agency is not None else "all agencies"
        return f"{self.user} — {self.get_role_display()} — {where}"


class RosterImport(models.Model):
    """One CSV roster upload: checked row by row first (the dry run), then imported in batches.

    The counters are the progress bar; each batch commits its rows and its counters together,
    so an import that stops part-way resumes after the last committed batch.
    """

    class State(models.TextChoices):
        CHECKING = "checking", "Checking the file"
        CHECKED = "checked", "Checked: ready to import"
        QUEUED = "queued", "Waiting for a worker"
        IMPORTING = "importing", "Importing"
        DONE = "done", "Imported"
        FAILED = "failed", "Could not be read"
        CANCELLED = "cancelled", "Cancelled"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="roster_imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=255)
    file = models.FileField(upload_to="roster-imports/%Y/%m/")
    filename = models.CharField(max_length=255)
    state = models.CharField(max_length=12, choices=State.choices, default=State.CHECKING)
    error = models.TextField(blank=True, help_text="Why the file could not be read at all.")
    # The dry run: what the file would do.
    total_rows = models.PositiveIntegerField(default=0)
    checked_rows = models.PositiveIntegerField(default=0)
    will_create = models.PositiveIntegerField(default=0)
    will_update = models.PositiveIntegerField(default=0)
    will_keep = models.PositiveIntegerField(default=0)
    invalid_rows = models.PositiveIntegerField(default=0)
    # The import: what it did.
    processed_rows = models.PositiveIntegerField(default=0)
    created_rows = models.PositiveIntegerField(default=0)
    updated_rows = models.PositiveIntegerField(default=0)
    kept_rows = models.PositiveIntegerField(default=0)
    skipped_rows = models.PositiveIntegerField(default=0)
    # The worker checking or importing holds the job until then, renewed every batch; a worker that
    # died lets the lease run out, and the job's next delivery resumes it.
    leased_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["agency", "-created_at"], name="agencies_import_agency_time")]
        constraints = [
            models.CheckConstraint(
                condition=Q(processed_rows__lte=models.F("total_rows")),
                name="agencies_rosterimport_processed_within_total",
                violation_error_message="An import cannot process more rows than its file has.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.filename} for {self.agency_id} ({self.state})"

    @property
    def is_running(self) -> bool:
        return self.state in (self.State.CHECKING, self.State.QUEUED, self.State.IMPORTING)

    @property
    def progress(self) -> float:
        """Share of the current phase done (0.0 to 1.0)."""
        if self.state == self.State.CHECKING:
            done = self.checked_rows
        elif self.state in (self.State.QUEUED, self.State.IMPORTING, self.State.DONE):
            done = self.processed_rows
        else:
            return 1.0
        return done / self.total_rows if self.total_rows else (1.0 if self.state == self.State.DONE else 0.0)


class RosterImportIssue(models.Model):
    """A row of a roster import that cannot be imported, and why, in words staff can act on."""

    roster_import = models.ForeignKey(RosterImport, on_delete=models.CASCADE, related_name="issues")
    line = models.PositiveIntegerField(help_text="Line number in the file, the header being line 1.")
    email = models.CharField(max_length=254, blank=True)
    message = models.CharField(max_length=500)
    found_during_import = models.BooleanField(default=False)

    class Meta:
        ordering = ["line", "id"]
        indexes = [models.Index(fields=["roster_import", "line"], name="agencies_importissue_line")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"
