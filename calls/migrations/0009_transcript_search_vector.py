"""The transcripts' search vector stored, on PostgreSQL only: ranking reads it instead of parsing every text.

``search_vector`` is a generated column, ``to_tsvector('russian', text_full)``,
kept by PostgreSQL on every write (retention's purge included); the GIN index
of calls.0004 moves onto it under the same name.  ``callrecord_id_started_at``
covers ``(id) INCLUDE (call_started_at)``: ranks that tie are ordered by the
call's start, read from that index alone.  The admin's «Поиск по расшифровкам»
for a word most calls contain went from 7–8 s to about half a second at
200 000 transcripts (docs/performance.md).  The model does not declare the
column (calls.selectors.search names it); SQLite has neither and searches with
``icontains``.  Adding the column rewrites the table: about 30 s at 200 000
transcripts, writes blocked meanwhile.
"""

from django.db import migrations

FORWARD = [
    "ALTER TABLE calls_transcript ADD COLUMN IF NOT EXISTS search_vector tsvector"
    " GENERATED ALWAYS AS (to_tsvector('russian', text_full)) STORED",
    "DROP INDEX IF EXISTS calls_transcript_text_search",
    "CREATE INDEX calls_transcript_text_search ON calls_transcript USING gin (search_vector)",
    "CREATE INDEX IF NOT EXISTS callrecord_id_started_at ON calls_callrecord (id) INCLUDE (call_started_at)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS callrecord_id_started_at",
    "DROP INDEX IF EXISTS calls_transcript_text_search",
    "ALTER TABLE calls_transcript DROP COLUMN IF EXISTS search_vector",
    "CREATE INDEX calls_transcript_text_search ON calls_transcript USING gin (to_tsvector('russian', text_full))",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARD:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("calls", "0008_number_trigram_indexes")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
