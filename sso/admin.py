from django.contrib import admin

from sso.models import AssertionUse, IdentityProvider, IdpCertificate


class CertificateInline(admin.TabularInline):
    model = IdpCertificate
    fields = ("subject", "fingerprint_sha256", "not_before", "not_after")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(IdentityProvider)
class IdentityProviderAdmin(admin.ModelAdmin):
    """Read-only: IdPs change through register_idp or the agency's sign-in page (audited)."""

    list_display = ("agency", "entity_id", "is_enabled", "is_development", "updated_at")
    list_filter = ("is_enabled", "is_development")
    search_fields = ("agency__name", "agency__slug", "entity_id")
    readonly_fields = (
        "agency",
        "social_app",
        "entity_id",
        "sso_url",
        "slo_url",
        "metadata_url",
        "attribute_mapping",
        "is_enabled",
        "is_development",
        "created_at",
        "updated_at",
    )
    inlines = [CertificateInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AssertionUse)
class AssertionUseAdmin(admin.ModelAdmin):
    list_display = ("assertion_id", "identity_provider", "used_at", "expires_at")
    list_select_related = ("identity_provider__agency",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
