from django.urls import path

from seats.api import views

urlpatterns = [
    path("programs/", views.ProgramListCreateApi.as_view(), name="program-list"),
    path("programs/<slug:slug>/", views.ProgramDetailApi.as_view(), name="program-detail"),
    path("allocations/", views.AllocationListCreateApi.as_view(), name="allocation-list"),
    path("allocations/<uuid:allocation_id>/", views.AllocationDetailApi.as_view(), name="allocation-detail"),
    path(
        "allocations/<uuid:allocation_id>/split/", views.AllocationSplitApi.as_view(), name="allocation-split"
    ),
    path(
        "allocations/<uuid:allocation_id>/resize/",
        views.AllocationResizeApi.as_view(),
        name="allocation-resize",
    ),
    path("seats/", views.SeatListApi.as_view(), name="seat-list"),
    path("seats/claim/", views.SeatClaimApi.as_view(), name="seat-claim"),
    path("seats/<uuid:seat_id>/", views.SeatDetailApi.as_view(), name="seat-detail"),
    path("seats/<uuid:seat_id>/approve/", views.SeatApproveApi.as_view(), name="seat-approve"),
    path("seats/<uuid:seat_id>/reject/", views.SeatRejectApi.as_view(), name="seat-reject"),
    path("seats/<uuid:seat_id>/revoke/", views.SeatRevokeApi.as_view(), name="seat-revoke"),
    path("seats/<uuid:seat_id>/reassign/", views.SeatReassignApi.as_view(), name="seat-reassign"),
    path("reports/utilization/", views.UtilizationReportApi.as_view(), name="utilization-report"),
]
