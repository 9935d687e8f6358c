from django.contrib import admin, messages

from agencies.admin import ReadOnlyAdmin
from core.errors import DomainError
from seats import services
from seats.models import Allocation, LowPoolAlert, Notice, Program, Seat, UsageSnapshot, WaitlistEntry


def _run_each(request, queryset, action, label: str) -> None:
    done, failed = 0, []
    for obj in queryset:
        try:
            action(obj)
            done += 1
        except DomainError as exc:
            failed.append(f"{obj}: {exc.message}")
    if done:
        messages.success(request, f"{label}: {done}.")
    for failure in failed[:10]:
        messages.error(request, failure)


@admin.register(Program)
class ProgramAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "vendor",
        "term_months",
        "price_per_agency",
        "price_per_seat",
        "connector",
        "is_active",
    )
    list_filter = ("vendor", "connector", "is_active")
    search_fields = ("name", "vendor", "product", "slug")


class ChildAllocationInline(admin.TabularInline):
    model = Allocation
    fk_name = "parent"
    fields = ("agency", "quantity", "assigned", "reserved_for_children")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = (
        "agency",
        "program",
        "quantity",
        "assigned",
        "reserved_for_children",
        "free",
        "term_ends_at",
        "parent",
    )
    list_filter = ("program", ("parent", admin.EmptyFieldListFilter), "term_ends_at")
    search_fields = ("agency__name", "agency__abbreviation", "program__name")
    list_select_related = ("agency", "program", "parent__agency")
    inlines = (ChildAllocationInline,)

    @admin.display(description="free")
    def free(self, obj):
        return obj.free


@admin.register(Seat)
class SeatAdmin(ReadOnlyAdmin):
    list_display = ("employee", "program", "agency", "state", "claimed_at", "expires_at", "reason")
    list_filter = ("state", "program", ("expires_at", admin.DateFieldListFilter))
    search_fields = ("employee__email", "employee__family_name", "vendor_user_id", "uuid")
    list_select_related = ("employee", "program", "allocation__agency")
    actions = ("approve", "revoke", "retry")
    show_full_result_count = False

    @admin.display(description="agency", ordering="allocation__agency__name")
    def agency(self, obj):
        return obj.allocation.agency

    @admin.action(description="Approve selected requested seats")
    def approve(self, request, queryset):
        _run_each(
            request,
            queryset,
            lambda s: services.seat_approve(seat=s, actor=request.user),
            "Approved",
        )

    @admin.action(description="Revoke selected seats")
    def revoke(self, request, queryset):
        _run_each(
            request,
            queryset,
            lambda s: services.seat_revoke(seat=s, actor=request.user, reason="revoked by an administrator"),
            "Revoked",
        )

    @admin.action(description="Retry selected failed seats at the vendor")
    def retry(self, request, queryset):
        _run_each(
            request,
            queryset.filter(state=Seat.State.FAILED).select_related("allocation__program"),
            lambda s: services.seat_retry(seat=s, actor=request.user),
            "Queued again",
        )

    def has_change_permission(self, request, obj=None):
        # Actions need change permission to appear; the change form itself stays read-only.
        return obj is None and request.user.is_superuser


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    list_display = ("kind", "email", "allocation", "created_at", "sent_at", "attempts", "last_error")
    list_filter = ("kind", ("sent_at", admin.EmptyFieldListFilter))
    search_fields = ("email", "=key")
    list_select_related = ("allocation__agency", "allocation__program")
    show_full_result_count = False


@admin.register(LowPoolAlert)
class LowPoolAlertAdmin(ReadOnlyAdmin):
    list_display = ("allocation", "opened_at", "closed_at", "free_at_open", "quantity_at_open")
    list_filter = (("closed_at", admin.EmptyFieldListFilter),)
    list_select_related = ("allocation__agency", "allocation__program")


@admin.register(UsageSnapshot)
class UsageSnapshotAdmin(ReadOnlyAdmin):
    list_display = (
        "day",
        "agency",
        "program",
        "quantity",
        "assigned",
        "active",
        "pending",
        "failed",
        "waiting",
    )
    list_filter = ("program", "day")
    search_fields = ("agency__name",)
    list_select_related = ("agency", "program")
    date_hierarchy = "day"


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ReadOnlyAdmin):
    list_display = ("employee", "allocation", "state", "created_at", "resolved_at", "note")
    list_filter = ("state",)
    search_fields = ("employee__email",)
    list_select_related = ("employee", "allocation__agency", "allocation__program")
