from django.contrib import admin

from agencies.admin import ReadOnlyAdmin
from provisioning.models import ProvisioningJob


@admin.register(ProvisioningJob)
class ProvisioningJobAdmin(ReadOnlyAdmin):
    list_display = ("seat", "action", "state", "attempts", "next_attempt_at", "last_error")
    list_filter = ("action", "state")
    search_fields = ("seat__employee__email", "key")
    list_select_related = ("seat",)


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
