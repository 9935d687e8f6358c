"""Agencies (the tree), their email domains with DNS verification, employees and staff roles.

Every view starts from the caller's scoped queryset, so another agency's object is a 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agencies.api.serializers import (
    AgencyDomainSerializer,
    AgencySerializer,
    EmployeeSerializer,
    RoleAssignmentSerializer,
)
from agencies.dns import txt_records
from agencies.models import Agency, AgencyDomain, Employee, RoleAssignment
from agencies.services import (
    agency_domain_add,
    agency_domain_verify,
    agency_update_policy,
    employee_create,
    employee_update,
    role_assign,
    role_revoke,
)
from core.api.fields import ScopedSlugRelatedField
from core.api.permissions import IsAdmin, IsStaff, allow
from core.api.views import FilteredListMixin
from core.errors import NotPermitted
from core.portal import admin_scope, staff_scope


def staff_agencies(request: Request) -> QuerySet[Agency]:
    return staff_scope(request.user).filter_agencies(Agency.objects.all())


def admin_agencies(request: Request) -> QuerySet[Agency]:
    return admin_scope(request.user).filter_agencies(Agency.objects.all())


def _visible_root_path(request: Request, slug: str) -> str | None:
    return Agency.objects.visible_to(request.user).filter(slug=slug).values_list("path", flat=True).first()


def subtree_ids(request: Request, slug: str) -> list[int]:
    """The ids of one visible agency and everything under it; none for an agency the caller cannot see."""
    root = _visible_root_path(request, slug)
    if root is None:
        return []
    return list(Agency.objects.filter(path__startswith=root).values_list("pk", flat=True))


def subtree_filter(qs: QuerySet, request: Request, slug: str, field: str = "agency") -> QuerySet:
    """Narrow to one visible agency's subtree; an agency the caller cannot see matches nothing."""
    root = _visible_root_path(request, slug)
    if root is None:
        return qs.none()
    return qs.filter(**{f"{field}__path__startswith" if field else "path__startswith": root})


# --- agencies -------------------------------------------------------------------------------------
class AgencyFilters(serializers.Serializer):
    parent = serializers.SlugField(required=False, help_text="Only the direct children of this agency.")
    within = serializers.SlugField(required=False, help_text="This agency and everything under it.")
    kind = serializers.ChoiceField(choices=Agency.Kind.choices, required=False)
    top_level = serializers.BooleanField(required=False, allow_null=True, default=None)


class AgencyListApi(FilteredListMixin, generics.ListAPIView):
    """The agency tree as far as the caller may see it, in tree order (``path``)."""

    serializer_class = AgencySerializer
    filter_serializer = AgencyFilters

    def get_queryset(self) -> QuerySet[Agency]:
        qs = Agency.objects.visible_to(self.request.user).select_related("parent").order_by("path")
        wanted = self.filters()
        if "parent" in wanted:
            qs = qs.filter(parent__slug=wanted["parent"])
        if "within" in wanted:
            qs = subtree_filter(qs, self.request, wanted["within"], field="")
        if "kind" in wanted:
            qs = qs.filter(kind=wanted["kind"])
        if wanted.get("top_level") is not None:
            qs = qs.filter(parent__isnull=wanted["top_level"])
        return qs

    @extend_schema(parameters=[AgencyFilters])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class AgencyDetailApi(generics.RetrieveAPIView):
    serializer_class = AgencySerializer
    lookup_field = "slug"

    def get_queryset(self) -> QuerySet[Agency]:
        return Agency.objects.visible_to(self.request.user).select_related("parent")


class AgencyPolicyApi(APIView):
    """Change an agency's seat policy (approval of claims, inactivity reclaim)."""

    permission_classes = allow(IsAdmin)

    class InputSerializer(serializers.Serializer):
        claims_require_approval = serializers.BooleanField(required=False)
        inactivity_reclaim_days = serializers.IntegerField(
            required=False, allow_null=True, min_value=1, max_value=3650
        )
        reclaim_grace_days = serializers.IntegerField(required=False, min_value=0, max_value=365)
        restore_seats_on_reactivation = serializers.BooleanField(required=False)

    @extend_schema(request=InputSerializer, responses={200: AgencySerializer})
    def patch(self, request: Request, slug: str) -> Response:
        agency = generics.get_object_or_404(admin_agencies(request), slug=slug)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agency = agency_update_policy(agency=agency, actor=request.user, **data.validated_data)
        agency = Agency.objects.select_related("parent").get(pk=agency.pk)
        return Response(AgencySerializer(agency).data)


# --- domains --------------------------------------------------------------------------------------
class DomainFilters(serializers.Serializer):
    agency = serializers.SlugField(required=False, help_text="This agency's subtree only.")
    verified = serializers.BooleanField(required=False, allow_null=True, default=None)


def visible_domains(request: Request) -> QuerySet[AgencyDomain]:
    return admin_scope(request.user).filter_by_agency(AgencyDomain.objects.select_related("agency"))


class DomainListCreateApi(FilteredListMixin, generics.ListAPIView):
    """Email domains of the agencies the caller administers; POST claims a new one."""

    permission_classes = allow(IsAdmin)
    serializer_class = AgencyDomainSerializer
    filter_serializer = DomainFilters

    class InputSerializer(serializers.Serializer):
        agency = ScopedSlugRelatedField(
            slug_field="slug", queryset=Agency.objects.all(), scoped=admin_agencies
        )
        domain = serializers.CharField(max_length=253)

    def get_queryset(self) -> QuerySet[AgencyDomain]:
        qs = visible_domains(self.request).order_by("-id")
        wanted = self.filters()
        if "agency" in wanted:
            qs = subtree_filter(qs, self.request, wanted["agency"])
        if wanted.get("verified") is not None:
            qs = qs.filter(verified_at__isnull=not wanted["verified"])
        return qs

    @extend_schema(parameters=[DomainFilters])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=InputSerializer, responses={201: AgencyDomainSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        row = agency_domain_add(
            agency=data.validated_data["agency"], domain=data.validated_data["domain"], actor=request.user
        )
        row = visible_domains(request).get(pk=row.pk)
        return Response(AgencyDomainSerializer(row).data, status=status.HTTP_201_CREATED)


class DomainDetailApi(generics.RetrieveAPIView):
    permission_classes = allow(IsAdmin)
    serializer_class = AgencyDomainSerializer

    def get_queryset(self) -> QuerySet[AgencyDomain]:
        return visible_domains(self.request)


class DomainVerifyApi(APIView):
    """Look up the domain's TXT records now and mark it verified if the token is published."""

    permission_classes = allow(IsAdmin)

    @extend_schema(request=None, responses={200: AgencyDomainSerializer})
    def post(self, request: Request, pk: int) -> Response:
        row = generics.get_object_or_404(visible_domains(request), pk=pk)
        if row.verified_at is None:
            row = agency_domain_verify(
                agency_domain=row, txt_records=txt_records(row.domain), actor=request.user
            )
        return Response(AgencyDomainSerializer(row).data)


# --- employees ------------------------------------------------------------------------------------
class EmployeeFilters(serializers.Serializer):
    agency = serializers.SlugField(required=False, help_text="This agency's subtree only.")
    status = serializers.ChoiceField(choices=Employee.Status.choices, required=False)
    source = serializers.ChoiceField(choices=Employee.Source.choices, required=False)
    email = serializers.CharField(required=False, max_length=254, help_text="Exact address.")
    email_domain = serializers.CharField(required=False, max_length=253)


def visible_employees(request: Request) -> QuerySet[Employee]:
    return staff_scope(request.user).filter_employees(Employee.objects.select_related("agency"))


class EmployeeListCreateApi(FilteredListMixin, generics.ListAPIView):
    """Employees of the caller's agencies (cursor-paged; order by ``email``, ``created_at``, ...)."""

    permission_classes = allow(IsStaff)
    serializer_class = EmployeeSerializer
    filter_serializer = EmployeeFilters
    filter_backends = [OrderingFilter]
    ordering_fields = ["email", "created_at", "family_name", "last_seen_at"]
    ordering = "email"

    class InputSerializer(serializers.Serializer):
        agency = ScopedSlugRelatedField(
            slug_field="slug", queryset=Agency.objects.all(), scoped=staff_agencies
        )
        email = serializers.EmailField(max_length=254)
        given_name = serializers.CharField(max_length=150, required=False, default="", allow_blank=True)
        family_name = serializers.CharField(max_length=150, required=False, default="", allow_blank=True)
        external_id = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)
        employee_number = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)

    def get_queryset(self) -> QuerySet[Employee]:
        qs = visible_employees(self.request)
        wanted = self.filters()
        if "agency" in wanted:
            qs = subtree_filter(qs, self.request, wanted["agency"])
        if "status" in wanted:
            qs = qs.filter(status=wanted["status"])
        if "source" in wanted:
            qs = qs.filter(source=wanted["source"])
        if "email" in wanted:
            qs = qs.filter(email=wanted["email"].strip().lower())
        if "email_domain" in wanted:
            qs = qs.filter(email__endswith="@" + wanted["email_domain"].strip().lower())
        return qs

    @extend_schema(parameters=[EmployeeFilters])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=InputSerializer, responses={201: EmployeeSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        employee = employee_create(source=Employee.Source.MANUAL, actor=request.user, **data.validated_data)
        return Response(
            EmployeeSerializer(visible_employees(request).get(pk=employee.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class EmployeeDetailApi(generics.RetrieveAPIView):
    """One employee; PATCH changes names, ids or their office within the department."""

    permission_classes = allow(IsStaff)
    serializer_class = EmployeeSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "employee_id"

    class InputSerializer(serializers.Serializer):
        agency = ScopedSlugRelatedField(
            slug_field="slug", queryset=Agency.objects.all(), scoped=staff_agencies, required=False
        )
        given_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
        family_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
        external_id = serializers.CharField(max_length=255, required=False, allow_blank=True)
        employee_number = serializers.CharField(max_length=64, required=False, allow_blank=True)

    def get_queryset(self) -> QuerySet[Employee]:
        return visible_employees(self.request)

    @extend_schema(request=InputSerializer, responses={200: EmployeeSerializer})
    def patch(self, request: Request, employee_id: str) -> Response:
        employee = self.get_object()
        data = self.InputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        employee = employee_update(employee=employee, actor=request.user, **data.validated_data)
        return Response(EmployeeSerializer(visible_employees(request).get(pk=employee.pk)).data)


# --- role assignments -----------------------------------------------------------------------------
def visible_assignments(request: Request) -> QuerySet[RoleAssignment]:
    scope = admin_scope(request.user)
    return scope.filter_by_agency(RoleAssignment.objects.select_related("user", "agency"))


class RoleAssignmentListCreateApi(generics.ListAPIView):
    """Staff roles over the agencies the caller administers; POST gives someone a role."""

    permission_classes = allow(IsAdmin)
    serializer_class = RoleAssignmentSerializer

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        role = serializers.ChoiceField(choices=RoleAssignment.Role.choices)
        agency = ScopedSlugRelatedField(
            slug_field="slug",
            queryset=Agency.objects.all(),
            scoped=admin_agencies,
            required=False,
            allow_null=True,
            default=None,
        )

        def validate_username(self, value: str) -> Any:
            user = get_user_model().objects.filter(username=value, is_active=True).first()
            if user is None:
                raise serializers.ValidationError("No active account has this username.")
            return user

    def get_queryset(self) -> QuerySet[RoleAssignment]:
        return visible_assignments(self.request).order_by("-id")

    @extend_schema(request=InputSerializer, responses={201: RoleAssignmentSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        role = data.validated_data["role"]
        if role == RoleAssignment.Role.GSA_ADMIN and not admin_scope(request.user).is_global:
            raise NotPermitted("Only GSA administrators can make someone a GSA administrator.")
        assignment = role_assign(
            user=data.validated_data["username"],
            role=role,
            agency=data.validated_data["agency"],
            actor=request.user,
        )
        assignment = RoleAssignment.objects.select_related("user", "agency").get(pk=assignment.pk)
        return Response(RoleAssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)


class RoleAssignmentDetailApi(generics.RetrieveAPIView):
    """One role assignment; DELETE takes the role away."""

    permission_classes = allow(IsAdmin)
    serializer_class = RoleAssignmentSerializer

    def get_queryset(self) -> QuerySet[RoleAssignment]:
        return visible_assignments(self.request)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        role_revoke(assignment=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
