"""Indexes for the roster's prefix search on PostgreSQL, whatever the database's collation.

``email LIKE 'abc%'`` and ``UPPER(family_name) LIKE 'SMI%'`` can use a b-tree only with the
pattern operator class (or the C collation). SQLite has no operator classes and its rosters are
small, so nothing is created there.
"""

from django.db import migrations

INDEXES = {
    "agencies_emp_email_prefix": "(email varchar_pattern_ops)",
    "agencies_emp_family_prefix": "(UPPER(family_name::text) text_pattern_ops)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, columns in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON agencies_employee {columns}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("agencies", "0002_roster_imports")]

    operations = [migrations.RunPython(create, drop)]
