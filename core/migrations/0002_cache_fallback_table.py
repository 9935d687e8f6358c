"""The database cache that stands in for Redis while it is unreachable (core.shared_cache.CacheOrDatabase).

Made the way ``manage.py createcachetable`` makes it, so that ``migrate`` alone sets a database up.
"""

from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations

TABLE = "core_cache_fallback"


def create(apps, schema_editor):
    command = CreateCacheTable()
    command.verbosity = 0  # what handle() would set from its options
    command.create_table(schema_editor.connection.alias, TABLE, dry_run=False)


def drop(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
