"""/gsa/...: GSA administrators' pages (namespace ``gsa``)."""

from django.urls import path

from agencies.views.audit import GsaAuditView
from seats.views import gsa

app_name = "gsa"

urlpatterns = [
    path("", gsa.DashboardView.as_view(), name="dashboard"),
    path("pools.csv", gsa.ExportView.as_view(), name="export"),
    path("programs/", gsa.ProgramListView.as_view(), name="programs"),
    path("programs/new/", gsa.ProgramCreateView.as_view(), name="program_create"),
    path("programs/<slug:slug>/", gsa.ProgramDetailView.as_view(), name="program"),
    path("programs/<slug:slug>/edit/", gsa.ProgramEditView.as_view(), name="program_edit"),
    path("allocate/", gsa.AllocateView.as_view(), name="allocate"),
    path("pools/<uuid:uuid>/", gsa.PoolDetailView.as_view(), name="pool"),
    path("pools/<uuid:uuid>/resize/", gsa.PoolResizeView.as_view(), name="pool_resize"),
    path("pools/<uuid:uuid>/renew/", gsa.PoolRenewView.as_view(), name="pool_renew"),
    path("audit/", GsaAuditView.as_view(), name="audit"),
]
