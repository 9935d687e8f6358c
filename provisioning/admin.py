from django.contrib import admin

from agencies.admin import ReadOnlyAdmin
from provisioning.models import ProvisioningJob


@admin.register(ProvisioningJob)
class ProvisioningJobAdmin(ReadOnlyAdmin):
    list_display = ("seat", "action", "state", "attempts", "next_attempt_at", "last_error")
    list_filter = ("action", "state")
    search_fields = ("seat__employee__email", "key")
    list_select_related = ("seat",)
