"""The portal's URLs plus stand-ins for the pages other branches add (SAML discovery and claim, IdP
setup, SCIM tokens, renewals) that are not merged yet, so tests can show the navigation links
them once their URL names exist. Names that already resolve are left to the real pages."""

from django.http import HttpResponse
from django.urls import NoReverseMatch, include, path, reverse

from config.urls import urlpatterns as portal_urlpatterns


def placeholder(request, **kwargs):
    return HttpResponse("another branch's page")


def merged(name: str, **kwargs) -> bool:
    try:
        reverse(name, urlconf="config.urls", kwargs=kwargs or None)
    except NoReverseMatch:
        return False
    return True


STAND_INS = {
    "sso": [
        ("discover", path("discover/", placeholder, name="discover"), {}),
        ("agency_sso", path("<slug:slug>/setup/", placeholder, name="agency_sso"), {"slug": "x"}),
    ],
    "provisioning": [
        ("scim_tokens", path("<slug:slug>/tokens/", placeholder, name="scim_tokens"), {"slug": "x"})
    ],
    "billing": [
        (
            "agency_renewals",
            path("<slug:slug>/renewals/", placeholder, name="agency_renewals"),
            {"slug": "x"},
        ),
        ("gsa_renewals", path("gsa-renewals/", placeholder, name="gsa_renewals"), {}),
    ],
}

urlpatterns = []
if not merged("claim"):
    urlpatterns.append(path("claim/", placeholder, name="claim"))
for namespace, pages in STAND_INS.items():
    missing = [pattern for name, pattern, kwargs in pages if not merged(f"{namespace}:{name}", **kwargs)]
    if len(missing) == len(pages):
        urlpatterns.append(path(f"stand-in/{namespace}/", include((missing, namespace))))
urlpatterns += portal_urlpatterns
