from django.urls import path

from billing.api import views

urlpatterns = [
    path("renewal-orders/", views.RenewalOrderListCreateApi.as_view(), name="renewal-order-list"),
    path(
        "renewal-orders/<uuid:order_id>/", views.RenewalOrderDetailApi.as_view(), name="renewal-order-detail"
    ),
    path(
        "renewal-orders/<uuid:order_id>/cancel/",
        views.RenewalOrderCancelApi.as_view(),
        name="renewal-order-cancel",
    ),
    path(
        "renewal-orders/<uuid:order_id>/approve/",
        views.RenewalOrderApproveApi.as_view(),
        name="renewal-order-approve",
    ),
    path(
        "renewal-orders/<uuid:order_id>/decline/",
        views.RenewalOrderDeclineApi.as_view(),
        name="renewal-order-decline",
    ),
]
