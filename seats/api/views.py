"""Programs, seat pools, seats and their commands, and utilization reports.

Reads start from ``visible_to(user)``; commands look their object up in the scope of the roles
that may run them, so a seat the caller cannot act on is a 404 whatever its id.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agencies.api.views import admin_agencies, staff_agencies, subtree_filter, visible_employees
from agencies.models import Agency, Employee
from core.api.fields import ScopedSlugRelatedField, ScopedUUIDRelatedField, TermDateTimeField
from core.api.permissions import IsAdmin, IsGsaAdmin, IsGsaAdminToWrite, IsStaff, allow
from core.api.views import FilteredListMixin
from core.portal import admin_scope, staff_scope
from seats import selectors
from seats.api.serializers import (
    AllocationSerializer,
    ProgramSerializer,
    SeatSerializer,
    UtilizationReportSerializer,
)
from seats.models import Allocation, Program, Seat
from seats.services import (
    allocation_create,
    allocation_resize,
    allocation_split,
    program_create,
    program_update,
    seat_approve,
    seat_claim,
    seat_reassign,
    seat_reject,
    seat_revoke,
)

SEAT_RELATED = ("allocation__agency", "allocation__program", "program", "employee__agency")


# --- programs -------------------------------------------------------------------------------------
class ProgramListCreateApi(generics.ListAPIView):
    """Vendor deals; anyone signed in reads them, GSA administrators create them."""

    permission_classes = allow(IsGsaAdminToWrite)
    serializer_class = ProgramSerializer
    queryset = Program.objects.order_by("-id")

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        vendor = serializers.CharField(max_length=120)
        product = serializers.CharField(max_length=120)
        slug = serializers.SlugField(max_length=80, required=False, default="")
        description = serializers.CharField(required=False, default="", allow_blank=True, max_length=5000)
        term_months = serializers.IntegerField(min_value=1, max_value=120, default=12)
        price_per_agency = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, default=0)
        price_per_seat = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, default=0)
        starts_at = TermDateTimeField(required=False, allow_null=True, default=None)
        ends_at = TermDateTimeField(required=False, allow_null=True, default=None)
        renewal_terms = serializers.CharField(required=False, default="", allow_blank=True, max_length=5000)
        workspace_url = serializers.URLField(required=False, default="", allow_blank=True)

    @extend_schema(request=InputSerializer, responses={201: ProgramSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        program = program_create(actor=request.user, **data.validated_data)
        return Response(ProgramSerializer(program).data, status=status.HTTP_201_CREATED)


class ProgramDetailApi(generics.RetrieveAPIView):
    """One program; GSA administrators PATCH what it says, its last grant day, or close it."""

    permission_classes = allow(IsGsaAdminToWrite)
    serializer_class = ProgramSerializer
    queryset = Program.objects.all()
    lookup_field = "slug"

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200, required=False)
        description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
        workspace_url = serializers.URLField(required=False, allow_blank=True)
        renewal_terms = serializers.CharField(required=False, allow_blank=True, max_length=5000)
        ends_at = TermDateTimeField(required=False, allow_null=True)
        is_active = serializers.BooleanField(required=False)

    @extend_schema(request=InputSerializer, responses={200: ProgramSerializer})
    def patch(self, request: Request, slug: str) -> Response:
        program = self.get_object()
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        program = program_update(program=program, actor=request.user, **data.validated_data)
        return Response(ProgramSerializer(program).data)


# --- pools ----------------------------------------------------------------------------------------
def visible_allocations(request: Request) -> QuerySet[Allocation]:
    return Allocation.objects.visible_to(request.user).select_related("program", "agency", "parent")


def administered_allocations(request: Request) -> QuerySet[Allocation]:
    return admin_scope(request.user).filter_by_agency(
        Allocation.objects.select_related("program", "agency", "parent__agency")
    )


class AllocationFilters(serializers.Serializer):
    program = serializers.SlugField(required=False)
    agency = serializers.SlugField(required=False, help_text="Pools of this agency's subtree.")
    top_level = serializers.BooleanField(required=False, allow_null=True, default=None)


class AllocationListCreateApi(FilteredListMixin, generics.ListAPIView):
    """Seat pools of the caller's agencies; GSA administrators POST a department's pool."""

    permission_classes = allow(IsStaff)
    serializer_class = AllocationSerializer
    filter_serializer = AllocationFilters

    class InputSerializer(serializers.Serializer):
        program = serializers.SlugRelatedField(slug_field="slug", queryset=Program.objects.all())
        agency = serializers.SlugRelatedField(slug_field="slug", queryset=Agency.objects.all())
        quantity = serializers.IntegerField(min_value=1, max_value=10_000_000)
        term_starts_at = TermDateTimeField(required=False, allow_null=True, default=None)

    def get_queryset(self) -> QuerySet[Allocation]:
        qs = visible_allocations(self.request).order_by("-id")
        wanted = self.filters()
        if "program" in wanted:
            qs = qs.filter(program__slug=wanted["program"])
        if "agency" in wanted:
            qs = subtree_filter(qs, self.request, wanted["agency"])
        if wanted.get("top_level") is not None:
            qs = qs.filter(parent__isnull=wanted["top_level"])
        return qs

    @extend_schema(parameters=[AllocationFilters])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=InputSerializer, responses={201: AllocationSerializer})
    def post(self, request: Request) -> Response:
        if not IsGsaAdmin().has_permission(request, self):
            self.permission_denied(request, IsGsaAdmin.message, "not_permitted")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        allocation = allocation_create(actor=request.user, **data.validated_data)
        return Response(
            AllocationSerializer(visible_allocations(request).get(pk=allocation.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class AllocationDetailApi(generics.RetrieveAPIView):
    permission_classes = allow(IsStaff)
    serializer_class = AllocationSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "allocation_id"

    def get_queryset(self) -> QuerySet[Allocation]:
        return visible_allocations(self.request)


class AllocationSplitApi(APIView):
    """Carve a bureau's pool out of this pool's free seats."""

    permission_classes = allow(IsAdmin)

    class InputSerializer(serializers.Serializer):
        agency = ScopedSlugRelatedField(
            slug_field="slug", queryset=Agency.objects.all(), scoped=admin_agencies
        )
        quantity = serializers.IntegerField(min_value=1, max_value=10_000_000)

    @extend_schema(request=InputSerializer, responses={201: AllocationSerializer})
    def post(self, request: Request, allocation_id: str) -> Response:
        parent = generics.get_object_or_404(administered_allocations(request), uuid=allocation_id)
        data = self.InputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        child = allocation_split(parent=parent, actor=request.user, **data.validated_data)
        return Response(
            AllocationSerializer(visible_allocations(request).get(pk=child.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class AllocationResizeApi(APIView):
    """Grow or shrink a pool: GSA sizes departments' pools, an agency the bureau pools under it."""

    permission_classes = allow(IsAdmin)

    class InputSerializer(serializers.Serializer):
        quantity = serializers.IntegerField(min_value=0, max_value=10_000_000)

    @extend_schema(request=InputSerializer, responses={200: AllocationSerializer})
    def post(self, request: Request, allocation_id: str) -> Response:
        allocation = generics.get_object_or_404(administered_allocations(request), uuid=allocation_id)
        scope = admin_scope(request.user)
        sizes_it = scope.is_global or (
            allocation.parent is not None and scope.covers(allocation.parent.agency)
        )
        if not sizes_it:
            raise NotFound("No pool with this id that you size.")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        allocation = allocation_resize(
            allocation=allocation, quantity=data.validated_data["quantity"], actor=request.user
        )
        return Response(AllocationSerializer(visible_allocations(request).get(pk=allocation.pk)).data)


# --- seats ----------------------------------------------------------------------------------------
def visible_seats(request: Request) -> QuerySet[Seat]:
    return Seat.objects.visible_to(request.user, pools_by_id=True).select_related(*SEAT_RELATED)


class SeatFilters(serializers.Serializer):
    state = serializers.ChoiceField(choices=Seat.State.choices, required=False)
    live = serializers.BooleanField(required=False, allow_null=True, default=None)
    program = serializers.SlugField(required=False)
    agency = serializers.SlugField(required=False, help_text="Seats of this agency's subtree's pools.")
    employee = serializers.UUIDField(required=False)
    expires_before = serializers.DateTimeField(required=False)


class SeatListApi(FilteredListMixin, generics.ListAPIView):
    """Seats the caller may see: staff their agencies', an employee their own (cursor-paged)."""

    serializer_class = SeatSerializer
    filter_serializer = SeatFilters
    filter_backends = [OrderingFilter]
    ordering_fields = ["claimed_at", "expires_at", "id"]
    ordering = "-id"

    def get_queryset(self) -> QuerySet[Seat]:
        qs = visible_seats(self.request)
        wanted = self.filters()
        if "state" in wanted:
            qs = qs.filter(state=wanted["state"])
        if wanted.get("live") is not None:
            live = Q(state__in=Seat.LIVE_STATES)
            qs = qs.filter(live if wanted["live"] else ~live)
        if "program" in wanted:
            qs = qs.filter(program__slug=wanted["program"])
        if "agency" in wanted:
            qs = subtree_filter(qs, self.request, wanted["agency"], field="allocation__agency")
        if "employee" in wanted:
            qs = qs.filter(employee__uuid=wanted["employee"])
        if "expires_before" in wanted:
            qs = qs.filter(expires_at__lt=wanted["expires_before"])
        return qs

    @extend_schema(parameters=[SeatFilters])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class SeatDetailApi(generics.RetrieveAPIView):
    serializer_class = SeatSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "seat_id"

    def get_queryset(self) -> QuerySet[Seat]:
        return visible_seats(self.request)


def claimable_allocations(request: Request) -> QuerySet[Allocation]:
    """Staff: their agencies' pools. An employee: the pools of their agency and its ancestors."""
    scope = staff_scope(request.user)
    q = scope.agency_q("agency") if scope.paths or scope.is_global else Q(pk__in=[])
    employee = Employee.objects.filter(user=request.user).select_related("agency").first()
    if employee is not None:
        q |= Q(agency_id__in=employee.agency.ancestor_ids())
    return Allocation.objects.filter(q).select_related("agency", "program")


class SeatClaimApi(APIView):
    """Take a seat from a pool: an employee for themselves, staff for someone on their roster."""

    class InputSerializer(serializers.Serializer):
        allocation = ScopedUUIDRelatedField(queryset=Allocation.objects.all(), scoped=claimable_allocations)
        employee = ScopedUUIDRelatedField(
            queryset=Employee.objects.all(),
            scoped=visible_employees,
            required=False,
            allow_null=True,
            default=None,
            help_text="Whose seat; leave out to claim for yourself.",
        )

    @extend_schema(request=InputSerializer, responses={201: SeatSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        employee = data.validated_data["employee"]
        if employee is None:
            employee = Employee.objects.filter(user=request.user).select_related("agency").first()
            if employee is None:
                raise serializers.ValidationError(
                    {"employee": ["You are not on any roster; name the employee."]}
                )
        seat = seat_claim(allocation=data.validated_data["allocation"], employee=employee, actor=request.user)
        return Response(
            SeatSerializer(visible_seats(request).get(pk=seat.pk)).data, status=status.HTTP_201_CREATED
        )


def _seat_in(scoped: QuerySet[Seat], seat_id: str) -> Seat:
    return generics.get_object_or_404(scoped.select_related(*SEAT_RELATED), uuid=seat_id)


def administered_seats(request: Request) -> QuerySet[Seat]:
    return admin_scope(request.user).filter_by_agency(Seat.objects.all(), "allocation__agency")


def staffed_seats(request: Request) -> QuerySet[Seat]:
    return staff_scope(request.user).filter_by_agency(Seat.objects.all(), "allocation__agency")


class SeatReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)


class SeatApproveApi(APIView):
    """Approve a requested claim (agencies that require approval)."""

    permission_classes = allow(IsAdmin)

    @extend_schema(request=None, responses={200: SeatSerializer})
    def post(self, request: Request, seat_id: str) -> Response:
        seat = seat_approve(seat=_seat_in(administered_seats(request), seat_id), actor=request.user)
        return Response(SeatSerializer(visible_seats(request).get(pk=seat.pk)).data)


class SeatRejectApi(APIView):
    """Turn down a requested claim; its place returns to the pool."""

    permission_classes = allow(IsAdmin)
    InputSerializer = SeatReasonSerializer

    @extend_schema(request=SeatReasonSerializer, responses={200: SeatSerializer})
    def post(self, request: Request, seat_id: str) -> Response:
        seat = _seat_in(administered_seats(request), seat_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        seat = seat_reject(seat=seat, actor=request.user, reason=data.validated_data["reason"])
        return Response(SeatSerializer(visible_seats(request).get(pk=seat.pk)).data)


class SeatRevokeApi(APIView):
    """End a live seat now; the pool gets it back and the vendor user is deactivated."""

    permission_classes = allow(IsStaff)

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=255)

    @extend_schema(request=InputSerializer, responses={200: SeatSerializer})
    def post(self, request: Request, seat_id: str) -> Response:
        seat = _seat_in(staffed_seats(request), seat_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        seat = seat_revoke(seat=seat, actor=request.user, reason=data.validated_data["reason"])
        return Response(SeatSerializer(visible_seats(request).get(pk=seat.pk)).data)


class SeatReassignApi(APIView):
    """Hand a live seat to another employee of the same pool; answers the new seat."""

    permission_classes = allow(IsStaff)

    class InputSerializer(serializers.Serializer):
        employee = ScopedUUIDRelatedField(queryset=Employee.objects.all(), scoped=visible_employees)

    @extend_schema(request=InputSerializer, responses={201: SeatSerializer})
    def post(self, request: Request, seat_id: str) -> Response:
        seat = _seat_in(staffed_seats(request), seat_id)
        data = self.InputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        new_seat = seat_reassign(seat=seat, employee=data.validated_data["employee"], actor=request.user)
        return Response(
            SeatSerializer(visible_seats(request).get(pk=new_seat.pk)).data, status=status.HTTP_201_CREATED
        )


# --- reports --------------------------------------------------------------------------------------
class UtilizationFilters(serializers.Serializer):
    agency = serializers.SlugField(
        required=False, help_text="Report on this agency's pools; leave out for your own top agencies."
    )


class UtilizationReportApi(APIView):
    """Pools and how full they are, each counting the bureau pools carved from it."""

    permission_classes = allow(IsStaff)

    @extend_schema(parameters=[UtilizationFilters], responses={200: UtilizationReportSerializer})
    def get(self, request: Request) -> Response:
        wanted = UtilizationFilters(data=request.query_params)
        wanted.is_valid(raise_exception=True)
        scope = staff_scope(request.user)
        pools = Allocation.objects.visible_to(request.user)
        agency = None
        if wanted.validated_data.get("agency"):
            agency = generics.get_object_or_404(staff_agencies(request), slug=wanted.validated_data["agency"])
            own = pools.filter(agency=agency)
            bureaus = pools.filter(parent__agency=agency)
        elif scope.is_global:
            own, bureaus = pools.filter(parent__isnull=True), pools.none()
        else:
            own, bureaus = pools.filter(agency__path__in=scope.paths), pools.none()
        own_rows = selectors.pool_rows(own.order_by("program__name", "agency__path"))
        bureau_rows = selectors.pool_rows(bureaus.order_by("program__name", "agency__path"))
        body = {
            "agency": agency,
            "totals": selectors.totals(own_rows),
            "pools": own_rows,
            "bureau_pools": bureau_rows,
        }
        return Response(UtilizationReportSerializer(body).data)
