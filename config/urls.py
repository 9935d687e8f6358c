from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core import token_pages
from core import views as core_views
from core.api.errors import api_not_found
from sso import views as sso_views

admin.site.site_header = "AI Seats administration"
admin.site.site_title = "AI Seats"
admin.site.index_title = "Government-wide enterprise AI seats"

urlpatterns = [
    path("", core_views.home, name="home"),
    path("accessibility/", core_views.accessibility, name="accessibility"),
    path("health/", core_views.health, name="health"),
    path("gsa/", include("seats.gsa_urls")),
    path("agencies/", include("agencies.urls")),
    path("admin/", admin.site.urls),
    path("account/api-tokens/", token_pages.api_tokens, name="api_tokens"),
    path("api/v1/", include("core.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^api/", api_not_found),
    # The hardened SAML ACS first: it answers allauth's acs/ and acs/finish/ paths.
    path("accounts/", include("sso.saml_urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("billing.urls")),
    path("claim/", sso_views.claim_view, name="claim"),
    path("", include("sso.urls")),
    path("scim/v2/", include("provisioning.scim.urls")),
    path("", include("provisioning.urls")),
]

if settings.SSO_DEV_IDP:
    urlpatterns.append(path("dev-idp/", include("sso.dev_idp_urls")))


handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
