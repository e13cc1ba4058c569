"""Trigram indexes on an order's title and customer, on PostgreSQL only: the admin's search by part of either.

Django's ``icontains`` is ``UPPER(col::text) LIKE UPPER('%…%')``, so the
indexes are on that expression (docs/performance.md: the courier orders'
"search customer" page).  ``CREATE EXTENSION`` needs a role allowed to create
it (see calls.0008).  SQLite has no such index; its search stays a plain ``LIKE``.
"""

from django.db import migrations

INDEXES = {"order_title_trgm": "title", "order_customer_name_trgm": "customer_name"}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON couriers_order USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("couriers", "0003_order_1c_index")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
