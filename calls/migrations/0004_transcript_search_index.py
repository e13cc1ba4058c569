"""CALL-13/CALL-21: a GIN index on ``to_tsvector('russian', text_full)``, on PostgreSQL only.

SQLite has no full-text configuration of that kind; search falls back to
``icontains`` there, so the index is simply absent.
"""

from django.db import migrations

INDEX = "calls_transcript_text_search"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON calls_transcript USING gin (to_tsvector('russian', text_full))"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("calls", "0003_transcription")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
