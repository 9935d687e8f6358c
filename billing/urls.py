from django.urls import path

from billing import views, webhooks

app_name = "billing"

urlpatterns = [
    path("billing/stripe/webhook/", webhooks.stripe_webhook, name="stripe_webhook"),
    path("agencies/<slug:slug>/renewals/", views.agency_renewals, name="agency_renewals"),
    path(
        "agencies/<slug:slug>/renewals/<uuid:order>/purchase-order/",
        views.agency_renewal_purchase_order,
        name="agency_renewal_purchase_order",
    ),
    path(
        "agencies/<slug:slug>/renewals/<uuid:order>/cancel/",
        views.agency_renewal_cancel,
        name="agency_renewal_cancel",
    ),
    path("gsa/renewals/", views.gsa_renewals, name="gsa_renewals"),
    path("gsa/renewals/<uuid:order>/<slug:action>/", views.gsa_renewal_action, name="gsa_renewal_action"),
]
