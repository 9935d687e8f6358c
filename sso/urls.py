"""Discovery and the agency administrator's sign-in page (namespace ``sso``)."""

from django.urls import path

from sso import test_sign_in, views

app_name = "sso"

urlpatterns = [
    path("sso/discover/", views.discover_view, name="discover"),
    path("agencies/<slug:slug>/sso/", views.agency_sso_view, name="agency_sso"),
    path("agencies/<slug:slug>/sso/test/", test_sign_in.start_view, name="test_sign_in"),
]
