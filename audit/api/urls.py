from django.urls import path

from audit.api import views

urlpatterns = [
    path("audit-events/", views.AuditEventListApi.as_view(), name="audit-event-list"),
    path("audit-events/export/", views.AuditEventExportApi.as_view(), name="audit-event-export"),
    path("audit-events/<int:pk>/", views.AuditEventDetailApi.as_view(), name="audit-event-detail"),
]
