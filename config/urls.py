from django.contrib import admin
from django.urls import include, path

from core import views as core_views

admin.site.site_header = "AI Seats administration"
admin.site.site_title = "AI Seats"
admin.site.index_title = "Government-wide enterprise AI seats"

urlpatterns = [
    path("", core_views.home, name="home"),
    path("health/", core_views.health, name="health"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("scim/v2/", include("provisioning.scim.urls")),
    path("", include("provisioning.urls")),
]
