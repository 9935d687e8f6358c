"""On PostgreSQL, a deferred constraint trigger checks that child pools add up.

The services keep ``reserved_for_children`` equal to the sum of the child pools' quantities,
and the check constraint keeps ``assigned + reserved_for_children <= quantity``. Together they
mean children never exceed their parent. This trigger makes the first half a database
invariant too, checked at commit, so no code path (raw SQL included) can break it.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION seats_allocation_children_within_parent() RETURNS trigger AS $$
DECLARE
    pool_id bigint;
    reserved bigint;
    children_total bigint;
BEGIN
    FOREACH pool_id IN ARRAY ARRAY[NEW.id, NEW.parent_id] LOOP
        CONTINUE WHEN pool_id IS NULL;
        SELECT reserved_for_children INTO reserved FROM seats_allocation WHERE id = pool_id;
        SELECT COALESCE(SUM(quantity), 0) INTO children_total
            FROM seats_allocation WHERE parent_id = pool_id;
        IF children_total <> reserved THEN
            RAISE EXCEPTION 'seats_allocation_children_within_parent: the child pools of allocation % hold % seats but it reserved %',
                pool_id, children_total, reserved
                USING ERRCODE = '23514', CONSTRAINT = 'seats_allocation_children_within_parent';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS seats_allocation_children_within_parent ON seats_allocation;
CREATE CONSTRAINT TRIGGER seats_allocation_children_within_parent
    AFTER INSERT OR UPDATE OF quantity, reserved_for_children, parent_id ON seats_allocation
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION seats_allocation_children_within_parent();
"""

DROP = """
DROP TRIGGER IF EXISTS seats_allocation_children_within_parent ON seats_allocation;
DROP FUNCTION IF EXISTS seats_allocation_children_within_parent();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("seats", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
