"""/agencies/...: agency staff's pages (namespace ``agencies``)."""

from django.urls import path

from agencies.views import audit, domains, imports, overview, reports, roster
from seats.views import agency as seats

app_name = "agencies"

urlpatterns = [
    path("", overview.AgencyIndexView.as_view(), name="index"),
    path("<slug:slug>/", overview.OverviewView.as_view(), name="overview"),
    path("<slug:slug>/policy/", overview.PolicyView.as_view(), name="policy"),
    # pools and seats
    path("<slug:slug>/pools/", seats.PoolsView.as_view(), name="pools"),
    path("<slug:slug>/pools/<uuid:uuid>/split/", seats.SplitView.as_view(), name="pool_split"),
    path("<slug:slug>/pools/<uuid:uuid>/resize/", seats.BureauResizeView.as_view(), name="pool_resize"),
    path("<slug:slug>/approvals/", seats.ApprovalsView.as_view(), name="approvals"),
    path("<slug:slug>/waitlist/", seats.WaitlistView.as_view(), name="waitlist"),
    path("<slug:slug>/seats/<uuid:uuid>/revoke/", seats.RevokeView.as_view(), name="seat_revoke"),
    path("<slug:slug>/seats/<uuid:uuid>/reassign/", seats.ReassignView.as_view(), name="seat_reassign"),
    # people
    path("<slug:slug>/roster/", roster.RosterView.as_view(), name="roster"),
    path("<slug:slug>/roster/add/", roster.EmployeeAddView.as_view(), name="employee_add"),
    path("<slug:slug>/roster/<uuid:uuid>/", roster.EmployeeView.as_view(), name="employee"),
    path("<slug:slug>/imports/", imports.ImportListView.as_view(), name="imports"),
    path("<slug:slug>/imports/template.csv", imports.SampleView.as_view(), name="import_sample"),
    path("<slug:slug>/imports/<uuid:uuid>/", imports.ImportDetailView.as_view(), name="import"),
    path(
        "<slug:slug>/imports/<uuid:uuid>/progress/",
        imports.ImportProgressView.as_view(),
        name="import_progress",
    ),
    path(
        "<slug:slug>/imports/<uuid:uuid>/start/",
        imports.ImportActionView.as_view(),
        {"action": "start"},
        name="import_start",
    ),
    path(
        "<slug:slug>/imports/<uuid:uuid>/cancel/",
        imports.ImportActionView.as_view(),
        {"action": "cancel"},
        name="import_cancel",
    ),
    # domains, reports, audit
    path("<slug:slug>/domains/", domains.DomainsView.as_view(), name="domains"),
    path("<slug:slug>/reports/", reports.ReportsView.as_view(), name="reports"),
    path("<slug:slug>/audit/", audit.AgencyAuditView.as_view(), name="audit"),
]
