from django.contrib import admin, messages

from agencies import services
from agencies.models import Agency, AgencyDomain, Employee, RegisteredDomain, RoleAssignment
from core.errors import DomainError


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows change only through services (with an audit row); the admin shows and filters them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ChildInline(admin.TabularInline):
    model = Agency
    fk_name = "parent"
    fields = ("name", "slug", "kind", "opm_code", "headcount")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class DomainInline(admin.TabularInline):
    model = AgencyDomain
    fields = ("domain", "method", "verified_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "abbreviation",
        "kind",
        "opm_code",
        "headcount",
        "parent",
        "claims_require_approval",
    )
    list_filter = (
        "kind",
        "size_class",
        "claims_require_approval",
        ("parent", admin.EmptyFieldListFilter),
    )
    search_fields = ("name", "abbreviation", "slug", "opm_code", "opm_name")
    list_select_related = ("parent",)
    readonly_fields = (
        "parent",
        "slug",
        "name",
        "opm_name",
        "abbreviation",
        "opm_code",
        "kind",
        "size_class",
        "headcount",
        "path",
        "depth",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "abbreviation",
                    "slug",
                    "parent",
                    "kind",
                    "opm_code",
                    "opm_name",
                    "size_class",
                    "headcount",
                )
            },
        ),
        ("Policy", {"fields": services.POLICY_FIELDS}),
        ("Tree", {"fields": ("path", "depth"), "classes": ("collapse",)}),
    )
    inlines = (ChildInline, DomainInline)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        changes = {f: form.cleaned_data[f] for f in services.POLICY_FIELDS if f in form.changed_data}
        if changes:
            services.agency_update_policy(agency=obj, actor=request.user, **changes)


@admin.register(RegisteredDomain)
class RegisteredDomainAdmin(ReadOnlyAdmin):
    list_display = ("domain", "domain_type", "organization_name", "suborganization_name", "state")
    list_filter = ("domain_type", "state")
    search_fields = ("domain", "organization_name", "suborganization_name")


@admin.register(AgencyDomain)
class AgencyDomainAdmin(ReadOnlyAdmin):
    list_display = ("domain", "agency", "method", "verified_at")
    list_filter = ("method", ("verified_at", admin.EmptyFieldListFilter))
    search_fields = ("domain", "agency__name", "agency__abbreviation")
    list_select_related = ("agency",)


@admin.register(Employee)
class EmployeeAdmin(ReadOnlyAdmin):
    list_display = (
        "email",
        "given_name",
        "family_name",
        "agency",
        "status",
        "source",
        "last_seen_at",
    )
    list_filter = ("status", "source")
    search_fields = ("email", "given_name", "family_name", "external_id", "employee_number")
    list_select_related = ("agency",)
    raw_id_fields = ("agency", "user")
    show_full_result_count = False


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "agency", "created_at")
    list_filter = ("role",)
    search_fields = ("user__username", "user__email", "agency__name")
    list_select_related = ("user", "agency")
    raw_id_fields = ("user", "agency")

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            services.role_assign(user=obj.user, role=obj.role, agency=obj.agency, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)

    def delete_model(self, request, obj):
        services.role_revoke(assignment=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for assignment in queryset:
            services.role_revoke(assignment=assignment, actor=request.user)
