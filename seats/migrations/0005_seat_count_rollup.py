"""The dashboards' rollup of seats, appended to by PostgreSQL statement triggers.

Each INSERT, UPDATE or DELETE statement on seats_seat (one seat or a batch of 10,000, from the
ORM, raw SQL or COPY) appends its net change per (pool, state, expiry, week of claim) to
seats_seatcount in the same transaction. Statement triggers with transition tables cost one
INSERT per statement, not one per row, so the expiry sweep and bulk loads stay set-based; and
appending (never updating a per-key row) means two writers never lock the same count row, so
they cannot deadlock against each other's pool rows. seat_counts_compact folds the rows.
Existing seats are counted once here. SQLite gets the table but no triggers (the selectors
count seats there).
"""

import django.db.models.deletion
from django.db import migrations, models

KEY = "allocation_id, state, expires_at, claimed_week"
WEEK = "(date_trunc('week', claimed_at AT TIME ZONE 'UTC'))::date"
APPEND = f"""
    INSERT INTO seats_seatcount ({KEY}, n)
    SELECT allocation_id, state, expires_at, claimed_week, sum(n)::integer FROM (%s) delta
    GROUP BY {KEY}
    HAVING sum(n) <> 0;
"""
NEW = f"SELECT allocation_id, state, expires_at, {WEEK} AS claimed_week, 1 AS n FROM seat_rows_new"
OLD = f"SELECT allocation_id, state, expires_at, {WEEK} AS claimed_week, -1 AS n FROM seat_rows_old"

CREATE = f"""
CREATE OR REPLACE FUNCTION seats_seatcount_on_insert() RETURNS trigger AS $$
BEGIN
    {APPEND % NEW}
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION seats_seatcount_on_update() RETURNS trigger AS $$
BEGIN
    {APPEND % (NEW + " UNION ALL " + OLD)}
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION seats_seatcount_on_delete() RETURNS trigger AS $$
BEGIN
    {APPEND % OLD}
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER seats_seatcount_insert AFTER INSERT ON seats_seat
    REFERENCING NEW TABLE AS seat_rows_new
    FOR EACH STATEMENT EXECUTE FUNCTION seats_seatcount_on_insert();
CREATE TRIGGER seats_seatcount_update AFTER UPDATE ON seats_seat
    REFERENCING OLD TABLE AS seat_rows_old NEW TABLE AS seat_rows_new
    FOR EACH STATEMENT EXECUTE FUNCTION seats_seatcount_on_update();
CREATE TRIGGER seats_seatcount_delete AFTER DELETE ON seats_seat
    REFERENCING OLD TABLE AS seat_rows_old
    FOR EACH STATEMENT EXECUTE FUNCTION seats_seatcount_on_delete();

INSERT INTO seats_seatcount ({KEY}, n)
SELECT allocation_id, state, expires_at, {WEEK}, count(*) FROM seats_seat GROUP BY 1, 2, 3, 4;
"""

DROP = """
DROP TRIGGER IF EXISTS seats_seatcount_insert ON seats_seat;
DROP TRIGGER IF EXISTS seats_seatcount_update ON seats_seat;
DROP TRIGGER IF EXISTS seats_seatcount_delete ON seats_seat;
DROP FUNCTION IF EXISTS seats_seatcount_on_insert();
DROP FUNCTION IF EXISTS seats_seatcount_on_update();
DROP FUNCTION IF EXISTS seats_seatcount_on_delete();
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):

    dependencies = [
        ('seats', '0004_seat_approval_queue_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='SeatCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('state', models.CharField(choices=[('requested', 'Requested (awaiting approval)'), ('pending', 'Pending at the vendor'), ('active', 'Active'), ('reclaim_notice', 'Inactive: reclaim notice sent'), ('failed', 'Vendor provisioning failed'), ('rejected', 'Rejected'), ('revoked', 'Revoked'), ('expired', 'Expired')], max_length=16)),
                ('expires_at', models.DateTimeField()),
                ('claimed_week', models.DateField(help_text='Monday (UTC) of the week the seats were claimed.')),
                ('n', models.IntegerField(help_text='Seats added (or, negative, taken away) under this key.')),
                ('allocation', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='seats.allocation')),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
