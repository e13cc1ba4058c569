"""The database cache table where ORM-broker clusters publish their status (mastermobile.q.CLUSTER_CACHE).

Created by migrate rather than by a separate ``createcachetable`` step, so
``make run`` and the test databases always have it, whichever broker the
settings name today.
"""

from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations

TABLE = "mastermobile_cluster_status"


def create_table(apps, schema_editor):
    command = CreateCacheTable()
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, TABLE, dry_run=False)


def drop_table(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):
    dependencies = [("mastermobile", "0001_initial")]

    operations = [migrations.RunPython(create_table, drop_table)]
