"""The hardened ACS, mounted under /accounts/ ahead of allauth's own SAML URLs (same names and paths).

These replace allauth's metadata/ (to offer the service's certificate for encryption), acs/,
acs/finish/ and sls/, and put a rate limit in front of its login/.
"""

from django.urls import re_path

from sso import acs

urlpatterns = [
    re_path(r"^saml/(?P<organization_slug>[^/]+)/acs/$", acs.acs, name="saml_acs"),
    re_path(r"^saml/(?P<organization_slug>[^/]+)/acs/finish/$", acs.finish_acs, name="saml_finish_acs"),
    re_path(r"^saml/(?P<organization_slug>[^/]+)/sls/$", acs.sls, name="saml_sls"),
    re_path(r"^saml/(?P<organization_slug>[^/]+)/login/$", acs.login, name="saml_login"),
    re_path(r"^saml/(?P<organization_slug>[^/]+)/metadata/$", acs.metadata, name="saml_metadata"),
]
