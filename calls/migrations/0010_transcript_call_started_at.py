"""The call's start on its transcript, and an index of the newest calls' transcripts.

The transcript search ranks only the newest matching calls
(``calls.selectors.search.SEARCH_RANK_WINDOW``): with the start on the transcript's own
row, PostgreSQL walks ``transcript_newest_calls`` and stops after the window,
where it used to read and rank every match (150 000 of 200 000 for a common
word, 0.3–0.8 s; docs/performance.md).  The backfill copies each record's start
in one ``UPDATE``; about 15 s at 200 000 transcripts.
"""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_call_starts(apps, schema_editor):
    Transcript = apps.get_model("calls", "Transcript")
    CallRecord = apps.get_model("calls", "CallRecord")
    start = CallRecord.objects.filter(pk=OuterRef("call_record_id")).values("call_started_at")[:1]
    Transcript.objects.update(call_started_at=Subquery(start))


INDEX = (
    "CREATE INDEX IF NOT EXISTS transcript_newest_calls"
    " ON calls_transcript (call_started_at DESC NULLS LAST, id DESC)"
)


def create_index(apps, schema_editor):
    # PostgreSQL only: SQLite cannot index NULLS LAST, and it searches with icontains.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INDEX)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS transcript_newest_calls")


class Migration(migrations.Migration):
    dependencies = [("calls", "0009_transcript_search_vector")]

    operations = [
        migrations.AddField(
            model_name="transcript",
            name="call_started_at",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="call started at"),
        ),
        migrations.RunPython(copy_call_starts, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
