"""What the programs, pools and seats API shows."""

from __future__ import annotations

from rest_framework import serializers

from agencies.api.serializers import AgencyRefSerializer
from seats.models import Allocation, Program, Seat


class ProgramSerializer(serializers.ModelSerializer):
    # Blank when the program has none: a plain string, since "" is not a URI.
    workspace_url = serializers.CharField(
        read_only=True, help_text="Where employees reach the vendor, or empty."
    )

    class Meta:
        model = Program
        fields = [
            "slug",
            "name",
            "vendor",
            "product",
            "description",
            "term_months",
            "price_per_agency",
            "price_per_seat",
            "currency",
            "starts_at",
            "ends_at",
            "renewal_terms",
            "connector",
            "workspace_url",
            "is_active",
        ]
        read_only_fields = fields


class ProgramRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Program
        fields = ["slug", "name"]
        read_only_fields = fields


class AllocationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    program = ProgramRefSerializer(read_only=True)
    agency = AgencyRefSerializer(read_only=True)
    parent = serializers.UUIDField(source="parent.uuid", read_only=True, allow_null=True, default=None)
    free = serializers.IntegerField(read_only=True)

    class Meta:
        model = Allocation
        fields = [
            "id",
            "program",
            "agency",
            "parent",
            "quantity",
            "assigned",
            "reserved_for_children",
            "free",
            "term_starts_at",
            "term_ends_at",
        ]
        read_only_fields = fields


class SeatSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    allocation = serializers.UUIDField(source="allocation.uuid", read_only=True)
    program = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    agency = AgencyRefSerializer(source="allocation.agency", read_only=True)
    employee = serializers.UUIDField(source="employee.uuid", read_only=True)
    employee_email = serializers.EmailField(source="employee.email", read_only=True)

    class Meta:
        model = Seat
        fields = [
            "id",
            "allocation",
            "program",
            "agency",
            "employee",
            "employee_email",
            "state",
            "claimed_at",
            "approved_at",
            "activated_at",
            "expires_at",
            "ended_at",
            "reason",
        ]
        read_only_fields = fields


class PoolRowSerializer(serializers.Serializer):
    """One pool with its bureau pools' seats counted in."""

    allocation = AllocationSerializer()
    claimed = serializers.IntegerField()
    active = serializers.IntegerField()
    pending = serializers.IntegerField()
    expiring = serializers.IntegerField(help_text="Live seats expiring within 30 days.")
    bureau_pools = serializers.IntegerField()
    utilization = serializers.FloatField(help_text="Live seats over the pool's size, 0.0 to 1.0.")


class TotalsSerializer(serializers.Serializer):
    allocated = serializers.IntegerField()
    claimed = serializers.IntegerField()
    active = serializers.IntegerField()
    pending = serializers.IntegerField()
    expiring = serializers.IntegerField()
    utilization = serializers.FloatField()


class UtilizationReportSerializer(serializers.Serializer):
    agency = AgencyRefSerializer(allow_null=True)
    totals = TotalsSerializer()
    pools = PoolRowSerializer(many=True)
    bureau_pools = PoolRowSerializer(many=True)
