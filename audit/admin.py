from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail is written by services, never by hand."""

    list_display = ("occurred_at", "actor_label", "verb", "target_label", "agency", "request_id")
    list_filter = ("verb", "actor_kind", ("occurred_at", admin.DateFieldListFilter))
    search_fields = ("actor_label", "target_label", "target_id", "request_id", "verb")
    date_hierarchy = "occurred_at"
    list_select_related = ("agency",)
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
