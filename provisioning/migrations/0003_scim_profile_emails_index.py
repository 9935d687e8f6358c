"""A GIN index on the addresses an IdP sent, lower-cased, for ``emails eq`` lookups on PostgreSQL.

``provisioning.scim.email_filter`` looks a person up by address with
``lower(emails::text)::jsonb @> '[{"value": ...}]'``, which this index answers; without it the
lookup reads every SCIM profile of the agency (seconds for a department of 400,000 people).
Built CONCURRENTLY so SCIM writes carry on while it builds on a national-scale table. SQLite
has no GIN indexes and its tables are small, so nothing is created there.
"""

from django.db import migrations

NAME = "provisioning_prof_emails_lower"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {NAME} ON provisioning_scimprofile "
        "USING gin (((lower(emails::text))::jsonb) jsonb_path_ops)"
    )
    # The planner needs statistics on the new expression to prefer the index (a sample, seconds).
    schema_editor.execute("ANALYZE provisioning_scimprofile")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("provisioning", "0002_scim_tokens_profiles_groups")]

    operations = [migrations.RunPython(create, drop)]
