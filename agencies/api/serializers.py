"""What the agencies API shows and accepts."""

from __future__ import annotations

from rest_framework import serializers

from agencies.models import Agency, AgencyDomain, Employee, RoleAssignment
from agencies.services import TXT_PREFIX


class AgencySerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Agency
        fields = [
            "slug",
            "name",
            "abbreviation",
            "kind",
            "parent",
            "depth",
            "path",
            "opm_code",
            "headcount",
            "claims_require_approval",
            "inactivity_reclaim_days",
            "reclaim_grace_days",
            "restore_seats_on_reactivation",
        ]
        read_only_fields = fields


class AgencyRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Agency
        fields = ["slug", "name"]
        read_only_fields = fields


class AgencyDomainSerializer(serializers.ModelSerializer):
    agency = AgencyRefSerializer(read_only=True)
    txt_record = serializers.SerializerMethodField(
        help_text="The TXT record to publish at the domain before asking to verify it (empty: none needed)."
    )

    class Meta:
        model = AgencyDomain
        fields = ["id", "domain", "agency", "method", "verified_at", "txt_record", "created_at"]
        read_only_fields = fields

    def get_txt_record(self, obj: AgencyDomain) -> str:
        return f"{TXT_PREFIX}{obj.verification_token}" if obj.verification_token else ""


class EmployeeSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    agency = AgencyRefSerializer(read_only=True)

    class Meta:
        model = Employee
        fields = [
            "id",
            "email",
            "given_name",
            "family_name",
            "agency",
            "status",
            "source",
            "external_id",
            "employee_number",
            "last_seen_at",
            "created_at",
        ]
        read_only_fields = fields


class RoleAssignmentSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    agency = AgencyRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = RoleAssignment
        fields = ["id", "username", "role", "agency", "created_at"]
        read_only_fields = fields
