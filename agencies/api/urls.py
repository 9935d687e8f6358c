from django.urls import path

from agencies.api import views

urlpatterns = [
    path("agencies/", views.AgencyListApi.as_view(), name="agency-list"),
    path("agencies/<slug:slug>/", views.AgencyDetailApi.as_view(), name="agency-detail"),
    path("agencies/<slug:slug>/policy/", views.AgencyPolicyApi.as_view(), name="agency-policy"),
    path("domains/", views.DomainListCreateApi.as_view(), name="domain-list"),
    path("domains/<int:pk>/", views.DomainDetailApi.as_view(), name="domain-detail"),
    path("domains/<int:pk>/verify/", views.DomainVerifyApi.as_view(), name="domain-verify"),
    path("employees/", views.EmployeeListCreateApi.as_view(), name="employee-list"),
    path("employees/<uuid:employee_id>/", views.EmployeeDetailApi.as_view(), name="employee-detail"),
    path("role-assignments/", views.RoleAssignmentListCreateApi.as_view(), name="role-assignment-list"),
    path(
        "role-assignments/<int:pk>/", views.RoleAssignmentDetailApi.as_view(), name="role-assignment-detail"
    ),
]
