"""Base views for the API, and the caller's own personal tokens."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_tokens import MAX_LIFETIME_DAYS, api_token_create, api_token_revoke
from core.models import ApiToken


class FilteredListMixin:
    """List views validate their query filters with ``filter_serializer``: bad filters are a 400."""

    filter_serializer: type[serializers.Serializer] | None = None
    request: Request

    def filters(self) -> dict[str, Any]:
        if self.filter_serializer is None:
            return {}
        checked = self.filter_serializer(data=self.request.query_params)
        checked.is_valid(raise_exception=True)
        return {k: v for k, v in checked.validated_data.items() if v not in (None, "")}


class ApiTokenOutput(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "scope", "created_at", "expires_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiTokensApi(generics.ListAPIView):
    """The caller's own personal API tokens (never their secrets, never their hashes); POST makes one."""

    serializer_class = ApiTokenOutput

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        scope = serializers.ChoiceField(choices=ApiToken.Scope.choices, default=ApiToken.Scope.READ)
        expires_in_days = serializers.IntegerField(min_value=1, max_value=MAX_LIFETIME_DAYS, default=90)

    class OutputSerializer(ApiTokenOutput):
        token = serializers.CharField(read_only=True, help_text="The secret, shown this once.")

        class Meta(ApiTokenOutput.Meta):
            fields = [*ApiTokenOutput.Meta.fields, "token"]
            read_only_fields = fields

    def get_queryset(self) -> QuerySet[ApiToken]:
        return ApiToken.objects.filter(user=self.request.user).order_by("-id")

    @extend_schema(operation_id="api_tokens_list")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=InputSerializer, responses={201: OutputSerializer}, operation_id="api_tokens_create"
    )
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, ApiToken):
            # A token must not mint tokens: a leaked one could otherwise outlive its own expiry.
            raise PermissionDenied("Make API tokens from a signed-in session, not with another token.")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = api_token_create(user=request.user, actor=request.user, **data.validated_data)
        issued.token.token = issued.secret  # type: ignore[attr-defined]
        return Response(self.OutputSerializer(issued.token).data, status=status.HTTP_201_CREATED)


class ApiTokenRevokeApi(APIView):
    """Revoke one of the caller's own tokens; it stops working at once."""

    @extend_schema(request=None, responses={204: None}, operation_id="api_tokens_revoke")
    def delete(self, request: Request, pk: int) -> Response:
        token = generics.get_object_or_404(ApiToken.objects.filter(user=request.user), pk=pk)
        api_token_revoke(token=token, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
