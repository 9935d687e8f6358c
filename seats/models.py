from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q


class Program(models.Model):
    """A vendor deal GSA signed: whose seats, on what terms, and how they reach the vendor."""

    class Connector(models.TextChoices):
        NONE = "none", "None (seats are active once granted)"
        SCIM = "scim", "Vendor SCIM 2.0 API"
        CSV = "csv", "CSV file for the vendor"

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    vendor = models.CharField(max_length=120)
    product = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    term_months = models.PositiveSmallIntegerField(default=12, validators=[MinValueValidator(1)])
    price_per_agency = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    price_per_seat = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="usd")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Last day seats may be granted.")
    renewal_terms = models.TextField(blank=True)
    connector = models.CharField(max_length=8, choices=Connector.choices, default=Connector.NONE)
    connector_settings = models.JSONField(default=dict, blank=True)
    workspace_url = models.URLField(blank=True, help_text="Where employees reach the vendor.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(term_months__gte=1),
                name="seats_program_term_positive",
                violation_error_message="A term lasts at least one month.",
            ),
            models.CheckConstraint(
                condition=Q(price_per_agency__gte=0) & Q(price_per_seat__gte=0),
                name="seats_program_prices_not_negative",
                violation_error_message="Prices cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="seats_program_window_order",
                violation_error_message="The program must end after it starts.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AllocationQuerySet(models.QuerySet["Allocation"]):
    def visible_to(self, user) -> AllocationQuerySet:  # type: ignore[no-untyped-def]
        from agencies.selectors import user_scope

        return user_scope(user).filter_by_agency(self, "agency")

    def with_free(self) -> AllocationQuerySet:
        return self.annotate(free=F("quantity") - F("assigned") - F("reserved_for_children"))


class Allocation(models.Model):
    """A seat pool: a program's seats for one agency for one term, maybe carved from a parent's."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="allocations")
    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="allocations")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    quantity = models.PositiveIntegerField()
    # Live seats in this pool, and seats handed down to child pools. Both change only in the
    # same UPDATE statement that checks the guard, never read-modify-write.
    assigned = models.PositiveIntegerField(default=0)
    reserved_for_children = models.PositiveIntegerField(default=0)
    term_starts_at = models.DateTimeField()
    term_ends_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AllocationQuerySet.as_manager()

    class Meta:
        ordering = ["program", "agency__path"]
        constraints = [
            models.CheckConstraint(
                condition=Q(assigned__gte=0) & Q(reserved_for_children__gte=0),
                name="seats_allocation_counters_not_negative",
                violation_error_message="Seat counters cannot go below zero.",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=F("assigned") + F("reserved_for_children")),
                name="seats_allocation_within_quantity",
                violation_error_message=(
                    "A pool cannot hold more seats than its quantity, counting seats passed "
                    "down to bureau pools."
                ),
            ),
            models.CheckConstraint(
                condition=Q(term_ends_at__gt=F("term_starts_at")),
                name="seats_allocation_term_order",
                violation_error_message="A term must end after it starts.",
            ),
            models.CheckConstraint(
                condition=Q(parent__isnull=True) | ~Q(parent=F("id")),
                name="seats_allocation_not_own_parent",
                violation_error_message="A pool cannot be carved from itself.",
            ),
            models.UniqueConstraint(
                fields=["program", "agency"],
                name="seats_allocation_one_per_agency_program",
                violation_error_message="This agency already has a pool in this program.",
            ),
        ]
        indexes = [models.Index(fields=["agency", "program"], name="seats_alloc_agency_program")]

    def __str__(self) -> str:
        return f"{self.program} — {self.agency}"

    @property
    def free(self) -> int:
        return self.quantity - self.assigned - self.reserved_for_children


class SeatQuerySet(models.QuerySet["Seat"]):
    def live(self) -> SeatQuerySet:
        return self.filter(state__in=Seat.LIVE_STATES)

    def visible_to(self, user, *, pools_by_id: bool = False) -> SeatQuerySet:  # type: ignore[no-untyped-def]
        """The seats a user may see. ``pools_by_id`` lists the pools in scope by id (one small
        query) instead of joining seats to agencies by path: newest-first lists over a department's
        hundreds of thousands of seats then walk the index instead of sorting the subtree."""
        from agencies.selectors import user_scope

        scope = user_scope(user)
        if scope.is_global:
            return self
        if scope.paths and pools_by_id:
            pools = Allocation.objects.filter(scope.agency_q("agency")).values_list("pk", flat=True)
            q = Q(allocation_id__in=list(pools))
        else:
            q = scope.agency_q("allocation__agency") if scope.paths else Q(pk__in=[])
        if scope.employee_id is not None:
            q |= Q(employee_id=scope.employee_id)
        return self.filter(q)


class Seat(models.Model):
    """One employee's seat in one pool, from claim to its end."""

    class State(models.TextChoices):
        REQUESTED = "requested", "Requested (awaiting approval)"
        PENDING = "pending", "Pending at the vendor"
        ACTIVE = "active", "Active"
        RECLAIM_NOTICE = "reclaim_notice", "Inactive: reclaim notice sent"
        FAILED = "failed", "Vendor provisioning failed"
        REJECTED = "rejected", "Rejected"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    # A live seat holds a place in its pool and blocks a second claim in the same program.
    LIVE_STATES = (
        State.REQUESTED,
        State.PENDING,
        State.ACTIVE,
        State.RECLAIM_NOTICE,
        State.FAILED,
    )

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    allocation = models.ForeignKey(Allocation, on_delete=models.PROTECT, related_name="seats")
    # Copied from the allocation so "one live seat per program" can be a plain unique index.
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    employee = models.ForeignKey("agencies.Employee", on_delete=models.PROTECT, related_name="seats")
    state = models.CharField(max_length=16, choices=State.choices)
    claimed_at = models.DateTimeField()
    approved_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Revoked, rejected or expired.")
    reclaim_notice_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    vendor_user_id = models.CharField(max_length=255, blank=True)
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SeatQuerySet.as_manager()

    class Meta:
        ordering = ["-claimed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "employee"],
                condition=Q(state__in=["requested", "pending", "active", "reclaim_notice", "failed"]),
                name="seats_seat_one_live_per_employee_program",
                violation_error_message="This person already holds a seat in this program.",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["requested", "pending", "active", "reclaim_notice", "failed"])
                | Q(ended_at__isnull=False),
                name="seats_seat_ended_has_time",
                violation_error_message="An ended seat records when it ended.",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=Q(state__in=["requested", "pending", "active", "reclaim_notice", "failed"]),
                name="seats_seat_live_expiry",
            ),
            models.Index(fields=["allocation", "state"], name="seats_seat_allocation_state"),
            # The approvals queue: oldest claim first, without sorting every waiting claim.
            models.Index(
                fields=["claimed_at", "id"],
                condition=Q(state="requested"),
                name="seats_seat_approval_queue",
            ),
            models.Index(fields=["employee", "state"], name="seats_seat_employee_state"),
        ]

    def __str__(self) -> str:
        return f"{self.program_id}:{self.employee_id} ({self.state})"

    @property
    def is_live(self) -> bool:
        return self.state in self.LIVE_STATES


class SeatCount(models.Model):
    """A change in how many seats share a pool, state, expiry and week of claim: the dashboards' rollup.

    PostgreSQL statement triggers on ``seats_seat`` (migration 0005) append one row per key a
    statement changed, in the same transaction as the seat write, whatever made it (services,
    COPY, bulk SQL): never stale, and no Python code writes it. Rows are only appended, never
    updated, so concurrent writers never wait on each other here (a per-key counter would be a
    hot row, and a second lock order against the pool rows). ``seat_counts_compact`` folds them
    into one row per key every few minutes. The pool tables and charts sum a few thousand rows
    instead of counting 1.4M seats. SQLite has no such triggers: there the selectors count seats.
    """

    allocation = models.ForeignKey(
        # No FK constraint: a count left at zero must not stop a pool without seats being deleted.
        Allocation,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    state = models.CharField(max_length=16, choices=Seat.State.choices)
    expires_at = models.DateTimeField()
    claimed_week = models.DateField(help_text="Monday (UTC) of the week the seats were claimed.")
    n = models.IntegerField(help_text="Seats added (or, negative, taken away) under this key.")

    def __str__(self) -> str:
        return f"{self.allocation_id}/{self.state}/{self.claimed_week}: {self.n:+}"


class WaitlistEntry(models.Model):
    """A person waiting for a seat in a full pool; the longest-waiting is served first."""

    class State(models.TextChoices):
        WAITING = "waiting", "Waiting"
        SERVED = "served", "Served"
        CANCELLED = "cancelled", "Cancelled"

    allocation = models.ForeignKey(Allocation, on_delete=models.PROTECT, related_name="waitlist")
    employee = models.ForeignKey("agencies.Employee", on_delete=models.PROTECT, related_name="waitlist")
    state = models.CharField(max_length=10, choices=State.choices, default=State.WAITING)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    seat = models.ForeignKey(Seat, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name_plural = "waitlist entries"
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["allocation", "employee"],
                condition=Q(state="waiting"),
                name="seats_waitlistentry_once_per_pool",
                violation_error_message="This person is already waiting for this pool.",
            ),
        ]
        indexes = [
            models.Index(
                fields=["allocation", "created_at", "id"],
                condition=Q(state="waiting"),
                name="seats_waitlist_queue",
            )
        ]

    def __str__(self) -> str:
        return f"{self.employee_id} waiting for {self.allocation_id}"


class Notice(models.Model):
    """One e-mail owed to one person, recorded once: the unique ``key`` makes every notice send once."""

    class Kind(models.TextChoices):
        RENEWAL_ADMIN = "renewal_admin", "Renewal reminder to an agency administrator"
        RENEWAL_EMPLOYEE = "renewal_employee", "Renewal reminder to a seat holder"
        RECLAIM = "reclaim", "Inactivity reclaim notice"
        LOW_POOL = "low_pool", "Low pool alert"

    # e.g. "renewal_admin:pool=12:term=2026-09-30:days=30:user=7" - what makes it "the same notice".
    key = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    allocation = models.ForeignKey(Allocation, on_delete=models.PROTECT, related_name="notices")
    seat = models.ForeignKey(Seat, null=True, blank=True, on_delete=models.PROTECT, related_name="notices")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="seat_notices",
    )
    employee = models.ForeignKey(
        "agencies.Employee", null=True, blank=True, on_delete=models.PROTECT, related_name="notices"
    )
    email = models.EmailField(max_length=254)
    context = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                name="seats_notice_once",
                violation_error_message="This notice has already been recorded.",
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(sent_at__isnull=True), name="seats_notice_unsent"
            ),
            models.Index(fields=["kind", "-created_at"], name="seats_notice_kind_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.email}"


class LowPoolAlert(models.Model):
    """A pool's free seats fell under the threshold; open until they rise above it again."""

    allocation = models.ForeignKey(Allocation, on_delete=models.PROTECT, related_name="low_alerts")
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    free_at_open = models.PositiveIntegerField()
    quantity_at_open = models.PositiveIntegerField()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["allocation"],
                condition=Q(closed_at__isnull=True),
                name="seats_lowpoolalert_one_open_per_pool",
                violation_error_message="This pool already has an open low-pool alert.",
            ),
        ]

    def __str__(self) -> str:
        return f"low pool {self.allocation_id} since {self.opened_at:%Y-%m-%d}"


class UsageSnapshot(models.Model):
    """One pool's seat counts at the end of one day, for charts and reports."""

    day = models.DateField()
    allocation = models.ForeignKey(Allocation, on_delete=models.PROTECT, related_name="snapshots")
    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="usage_snapshots")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    assigned = models.PositiveIntegerField()
    reserved_for_children = models.PositiveIntegerField()
    requested = models.PositiveIntegerField(default=0)
    pending = models.PositiveIntegerField(default=0)
    active = models.PositiveIntegerField(default=0)
    reclaim_notice = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    waiting = models.PositiveIntegerField(default=0)
    taken_at = models.DateTimeField()

    class Meta:
        ordering = ["-day", "agency_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["allocation", "day"],
                name="seats_usagesnapshot_one_per_pool_day",
                violation_error_message="This pool already has a snapshot for this day.",
            ),
        ]
        indexes = [models.Index(fields=["agency", "day"], name="seats_usage_agency_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.agency_id}/{self.program_id}"
