from django.contrib import admin, messages
from django.http import HttpResponse

from agencies.admin import ReadOnlyAdmin
from core.errors import DomainError
from provisioning.models import ProvisioningJob


@admin.register(ProvisioningJob)
class ProvisioningJobAdmin(ReadOnlyAdmin):
    """The outbox: what the vendor still owes, what failed and why. Changes go through services."""

    list_display = (
        "seat",
        "program",
        "action",
        "state",
        "attempts",
        "next_attempt_at",
        "finished_at",
        "last_error",
    )
    list_filter = ("state", "action", "seat__program", ("next_attempt_at", admin.DateFieldListFilter))
    search_fields = ("seat__employee__email", "=key", "seat__vendor_user_id")
    list_select_related = ("seat__program", "seat__employee")
    readonly_fields = (
        "key",
        "seat",
        "action",
        "state",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
        "updated_at",
        "finished_at",
    )
    actions = ("retry_failed", "download_vendor_csv", "confirm_vendor_csv")
    show_full_result_count = False

    @admin.display(description="program", ordering="seat__program__name")
    def program(self, obj):
        return obj.seat.program

    def has_change_permission(self, request, obj=None):
        # Actions need change permission to appear; the change form itself stays read-only.
        return obj is None and request.user.is_superuser

    @admin.action(description="Retry selected failed jobs")
    def retry_failed(self, request, queryset):
        from provisioning.outbox import job_retry

        done, failed = 0, []
        for job in queryset.select_related("seat__allocation"):
            try:
                job_retry(job=job, actor=request.user)
                done += 1
            except DomainError as exc:
                failed.append(f"{job}: {exc.message}")
        if done:
            messages.success(request, f"Queued again: {done}.")
        for failure in failed[:10]:
            messages.error(request, failure)

    @admin.action(description="Download the vendor CSV for the selected queued jobs (CSV programs)")
    def download_vendor_csv(self, request, queryset):
        from provisioning.vendor.csvfile import csv_write

        jobs = (
            queryset.filter(state=ProvisioningJob.State.QUEUED, seat__program__connector="csv")
            .select_related("seat__employee", "seat__allocation__agency")
            .order_by("created_at", "id")
        )
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="vendor-seats.csv"'
        csv_write(jobs, response)
        return response

    @admin.action(description="Mark the selected queued CSV jobs delivered (the vendor loaded the file)")
    def confirm_vendor_csv(self, request, queryset):
        from provisioning.outbox import jobs_mark_delivered

        jobs = queryset.filter(state=ProvisioningJob.State.QUEUED, seat__program__connector="csv")
        by_program: dict = {}
        for job in jobs.select_related("seat__program"):
            by_program.setdefault(job.seat.program, []).append(str(job.key))
        done = sum(
            jobs_mark_delivered(program=program, keys=keys, actor=request.user)
            for program, keys in by_program.items()
        )
        messages.success(request, f"Marked delivered: {done}.")


from provisioning.scim.models import ScimGroup, ScimProfile, ScimSeatGrant, ScimToken  # noqa: E402


@admin.register(ScimToken)
class ScimTokenAdmin(ReadOnlyAdmin):
    list_display = ("name", "agency", "prefix", "created_at", "last_used_at", "revoked_at", "expires_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "agency__name")
    list_select_related = ("agency",)
    exclude = ("token_hash",)


@admin.register(ScimProfile)
class ScimProfileAdmin(ReadOnlyAdmin):
    list_display = ("employee", "organization", "division", "department", "placement_note", "deleted_at")
    search_fields = ("employee__email",)
    list_select_related = ("employee",)


@admin.register(ScimGroup)
class ScimGroupAdmin(ReadOnlyAdmin):
    list_display = ("display_name", "agency", "external_id", "updated_at")
    search_fields = ("display_name", "external_id")
    list_select_related = ("agency",)


@admin.register(ScimSeatGrant)
class ScimSeatGrantAdmin(ReadOnlyAdmin):
    list_display = ("employee", "mapping", "state", "error", "updated_at")
    list_filter = ("state",)
    search_fields = ("employee__email",)
    list_select_related = ("employee", "mapping__group", "mapping__allocation__program")
