"""Renewal orders: an agency asks to renew a pool; GSA quotes, approves or declines.

Orders are seen by the administrators of their agency (and GSA); everyone else finds none.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agencies.api.serializers import AgencyRefSerializer
from agencies.api.views import subtree_filter
from billing.models import RenewalOrder
from billing.services import renewal_approve, renewal_cancel, renewal_decline, renewal_request
from core.api.fields import ScopedUUIDRelatedField
from core.api.permissions import IsAdmin, IsGsaAdmin, allow
from core.api.views import FilteredListMixin
from core.portal import admin_scope
from seats.api.serializers import ProgramRefSerializer
from seats.models import Allocation


class RenewalOrderSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    agency = AgencyRefSerializer(read_only=True)
    program = ProgramRefSerializer(read_only=True)
    allocation = serializers.UUIDField(source="allocation.uuid", read_only=True)
    # Empty until known: plain strings, since "" is neither an e-mail address nor a URI.
    billing_email = serializers.CharField(read_only=True)
    hosted_invoice_url = serializers.CharField(read_only=True)

    class Meta:
        model = RenewalOrder
        fields = [
            "id",
            "agency",
            "program",
            "allocation",
            "state",
            "seats",
            "term_starts_at",
            "term_ends_at",
            "price_per_agency",
            "price_per_seat",
            "amount",
            "currency",
            "waived",
            "purchase_order",
            "line_of_accounting",
            "billing_email",
            "requested_at",
            "approved_at",
            "paid_at",
            "fulfilled_at",
            "closed_at",
            "decision_reason",
            "hosted_invoice_url",
        ]
        read_only_fields = fields


def visible_orders(request: Request) -> QuerySet[RenewalOrder]:
    return RenewalOrder.objects.visible_to(request.user).select_related("agency", "program", "allocation")


def renewable_allocations(request: Request) -> QuerySet[Allocation]:
    return admin_scope(request.user).filter_by_agency(Allocation.objects.all())


class RenewalFilters(serializers.Serializer):
    state = serializers.ChoiceField(choices=RenewalOrder.State.choices, required=False)
    agency = serializers.SlugField(required=False)
    open = serializers.BooleanField(required=False, allow_null=True, default=None)


class RenewalOrderListCreateApi(FilteredListMixin, generics.ListAPIView):
    """Renewal orders of the agencies the caller administers; POST asks to renew a pool."""

    permission_classes = allow(IsAdmin)
    serializer_class = RenewalOrderSerializer
    filter_serializer = RenewalFilters

    class InputSerializer(serializers.Serializer):
        allocation = ScopedUUIDRelatedField(queryset=Allocation.objects.all(), scoped=renewable_allocations)
        seats = serializers.IntegerField(min_value=1, max_value=10_000_000)
        purchase_order = serializers.CharField(max_length=140, required=False, default="", allow_blank=True)
        line_of_accounting = serializers.CharField(
            max_length=140, required=False, default="", allow_blank=True
        )
        billing_email = serializers.EmailField(required=False, default="", allow_blank=True)

    def get_queryset(self) -> QuerySet[RenewalOrder]:
        qs = visible_orders(self.request).order_by("-id")
        wanted = self.filters()
        if "state" in wanted:
            qs = qs.filter(state=wanted["state"])
        if "agency" in wanted:
            qs = subtree_filter(qs, self.request, wanted["agency"])
        if wanted.get("open") is not None:
            open_q = {"state__in": RenewalOrder.OPEN_STATES}
            qs = qs.filter(**open_q) if wanted["open"] else qs.exclude(**open_q)
        return qs

    @extend_schema(parameters=[RenewalFilters])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=InputSerializer, responses={201: RenewalOrderSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        order = renewal_request(actor=request.user, **data.validated_data)
        return Response(
            RenewalOrderSerializer(visible_orders(request).get(pk=order.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class RenewalOrderDetailApi(generics.RetrieveAPIView):
    permission_classes = allow(IsAdmin)
    serializer_class = RenewalOrderSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "order_id"

    def get_queryset(self) -> QuerySet[RenewalOrder]:
        return visible_orders(self.request)


class RenewalReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)


def _order(request: Request, order_id: str) -> RenewalOrder:
    return generics.get_object_or_404(visible_orders(request), uuid=order_id)


class RenewalOrderCancelApi(APIView):
    """Withdraw a renewal (an issued invoice is voided at Stripe first)."""

    permission_classes = allow(IsAdmin)
    InputSerializer = RenewalReasonSerializer

    @extend_schema(request=RenewalReasonSerializer, responses={200: RenewalOrderSerializer})
    def post(self, request: Request, order_id: str) -> Response:
        order = _order(request, order_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = renewal_cancel(order=order, actor=request.user, reason=data.validated_data["reason"])
        return Response(RenewalOrderSerializer(visible_orders(request).get(pk=order.pk)).data)


class RenewalOrderApproveApi(APIView):
    """GSA approves: a free renewal takes effect now, a paid one is invoiced through Stripe."""

    permission_classes = allow(IsGsaAdmin)

    class InputSerializer(serializers.Serializer):
        waive = serializers.BooleanField(
            required=False, allow_null=True, default=None, help_text="true: renew free of charge."
        )

    @extend_schema(request=InputSerializer, responses={200: RenewalOrderSerializer})
    def post(self, request: Request, order_id: str) -> Response:
        order = _order(request, order_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = renewal_approve(order=order, actor=request.user, waive=data.validated_data["waive"])
        return Response(RenewalOrderSerializer(visible_orders(request).get(pk=order.pk)).data)


class RenewalOrderDeclineApi(APIView):
    """GSA declines; the pool ends with its term."""

    permission_classes = allow(IsGsaAdmin)

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=255)

    @extend_schema(request=InputSerializer, responses={200: RenewalOrderSerializer})
    def post(self, request: Request, order_id: str) -> Response:
        order = _order(request, order_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = renewal_decline(order=order, actor=request.user, reason=data.validated_data["reason"])
        return Response(RenewalOrderSerializer(visible_orders(request).get(pk=order.pk)).data)
