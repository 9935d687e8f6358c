"""The approvals queue (requested seats, oldest claim first) reads a small partial index in
order instead of sorting every waiting claim of the agency (bench/EXPLAIN.md: 324 ms -> 2 ms)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('seats', '0003_notices_low_pool_alerts_usage_snapshots'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='seat',
            index=models.Index(condition=models.Q(('state', 'requested')), fields=['claimed_at', 'id'], name='seats_seat_approval_queue'),
        ),
    ]
