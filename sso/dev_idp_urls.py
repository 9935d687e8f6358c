"""The development IdP's one endpoint; routed only while settings.SSO_DEV_IDP is on."""

from django.urls import path

from sso import dev_idp

app_name = "dev_idp"

urlpatterns = [
    path("<slug:slug>/sso/", dev_idp.sso_view, name="sso"),
]
