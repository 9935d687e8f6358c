"""SCIM tokens of the agencies the caller administers: create (the secret shown once), read, revoke."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from agencies.api.serializers import AgencyRefSerializer
from agencies.api.views import admin_agencies, subtree_filter
from agencies.models import Agency
from core.api.fields import ScopedSlugRelatedField
from core.api.permissions import IsAdmin, allow
from core.api.views import FilteredListMixin
from core.portal import admin_scope
from provisioning.scim.models import ScimToken
from provisioning.scim.tokens import scim_token_create, scim_token_revoke


class ScimTokenSerializer(serializers.ModelSerializer):
    """A token as lists show it: never the secret, never its hash."""

    agency = AgencyRefSerializer(read_only=True)
    usable = serializers.SerializerMethodField()

    class Meta:
        model = ScimToken
        fields = [
            "id",
            "agency",
            "name",
            "prefix",
            "rate_limit_per_minute",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
            "usable",
        ]
        read_only_fields = fields

    def get_usable(self, obj: ScimToken) -> bool:
        return obj.is_usable(timezone.now())


class ScimTokenCreatedSerializer(ScimTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The secret, shown this once.")
    scim_base_url = serializers.CharField(read_only=True)

    class Meta(ScimTokenSerializer.Meta):
        fields = [*ScimTokenSerializer.Meta.fields, "token", "scim_base_url"]
        read_only_fields = fields


def visible_tokens(request: Request) -> QuerySet[ScimToken]:
    return admin_scope(request.user).filter_by_agency(ScimToken.objects.select_related("agency"))


class ScimTokenFilters(serializers.Serializer):
    agency = serializers.SlugField(required=False)
    usable = serializers.BooleanField(required=False, allow_null=True, default=None)


class ScimTokenListCreateApi(FilteredListMixin, generics.ListAPIView):
    """SCIM tokens of the caller's agencies; POST makes one for an agency's IdP."""

    permission_classes = allow(IsAdmin)
    serializer_class = ScimTokenSerializer
    filter_serializer = ScimTokenFilters

    class InputSerializer(serializers.Serializer):
        agency = ScopedSlugRelatedField(
            slug_field="slug", queryset=Agency.objects.all(), scoped=admin_agencies
        )
        name = serializers.CharField(max_length=100)
        rate_limit_per_minute = serializers.IntegerField(
            required=False, allow_null=True, default=None, min_value=1, max_value=100_000
        )

    def get_queryset(self) -> QuerySet[ScimToken]:
        qs = visible_tokens(self.request).order_by("-id")
        wanted = self.filters()
        if "agency" in wanted:
            qs = subtree_filter(qs, self.request, wanted["agency"])
        if wanted.get("usable") is not None:
            usable = ScimToken.objects.usable(timezone.now()).values("pk")
            qs = qs.filter(pk__in=usable) if wanted["usable"] else qs.exclude(pk__in=usable)
        return qs

    @extend_schema(parameters=[ScimTokenFilters])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=InputSerializer, responses={201: ScimTokenCreatedSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        issued = scim_token_create(actor=request.user, **data.validated_data)
        token = visible_tokens(request).get(pk=issued.token.pk)
        token.token = issued.secret  # type: ignore[attr-defined]
        token.scim_base_url = request.build_absolute_uri("/scim/v2/")  # type: ignore[attr-defined]
        return Response(ScimTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)


class ScimTokenDetailApi(generics.RetrieveAPIView):
    """One SCIM token; DELETE revokes it (the IdP's next request is refused)."""

    permission_classes = allow(IsAdmin)
    serializer_class = ScimTokenSerializer

    def get_queryset(self) -> QuerySet[ScimToken]:
        return visible_tokens(self.request)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        scim_token_revoke(token=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
