"""Everything under /api/v1/, in one namespace (``api_v1``)."""

from django.urls import include, path, re_path

from core.api.errors import api_not_found
from core.api.views import ApiTokenRevokeApi, ApiTokensApi

app_name = "api_v1"

urlpatterns = [
    path("tokens/", ApiTokensApi.as_view(), name="api-token-list"),
    path("tokens/<int:pk>/", ApiTokenRevokeApi.as_view(), name="api-token-detail"),
    path("", include("agencies.api.urls")),
    path("", include("seats.api.urls")),
    path("", include("provisioning.api.urls")),
    path("", include("billing.api.urls")),
    path("", include("audit.api.urls")),
    # Anything else under /api/v1/ (including an id in the wrong form) is a JSON 404.
    re_path(r"^.*$", api_not_found),
]
