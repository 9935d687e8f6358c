from django.urls import path

from provisioning.api import views

urlpatterns = [
    path("scim-tokens/", views.ScimTokenListCreateApi.as_view(), name="scim-token-list"),
    path("scim-tokens/<int:pk>/", views.ScimTokenDetailApi.as_view(), name="scim-token-detail"),
]
