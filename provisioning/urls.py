from django.urls import path

from provisioning.scim import pages

app_name = "provisioning"

urlpatterns = [
    path("agencies/<slug:slug>/scim-tokens/", pages.scim_tokens, name="scim_tokens"),
    path("agencies/<slug:slug>/scim-groups/", pages.scim_groups, name="scim_groups"),
]
