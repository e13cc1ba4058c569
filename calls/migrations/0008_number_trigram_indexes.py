"""Trigram indexes on the call's numbers, on PostgreSQL only: the admin's search finds a number by any part of it.

``from_number LIKE '%4567%'`` can use no B-tree index; with ``pg_trgm``'s GIN
index it reads only the rows holding the fragment (docs/performance.md: the
call records' "search phone fragment" page).  ``CREATE EXTENSION`` needs a
role allowed to create it (a superuser, or the database's owner on
PostgreSQL 13+ since pg_trgm is a trusted extension).  SQLite has no such
index; its search stays a plain ``LIKE``.
"""

from django.db import migrations

INDEXES = {"callrecord_from_number_trgm": "from_number", "callrecord_to_number_trgm": "to_number"}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON calls_callrecord USING gin ({column} gin_trgm_ops)")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("calls", "0007_admin_list_indexes")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
