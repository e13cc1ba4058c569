"""Translate between JSON and the call export services (EXP-06) and the transcript search (CALL-21).

The start body is strict: unknown fields are refused, periods lie within
:data:`EARLIEST`…:data:`LATEST` and span at most ``CALL_EXPORT_MAX_PERIOD_DAYS``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from rest_framework import serializers

from calls import services
from calls.models import CallExport
from calls.selectors.search import SEARCH_MAX_LIMIT, SEARCH_MAX_OFFSET, SEARCH_MAX_QUERY_LENGTH
from mastermobile.api.serializers import RFC3339DateTimeField, StrictBooleanField, StrictSerializer

# Calls the portal can have: nothing before 2000, nothing after 2100 (UTC).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def _period_field(help_text: str) -> RFC3339DateTimeField:
    return RFC3339DateTimeField(required=False, earliest=EARLIEST, latest=LATEST, help_text=help_text)


class CallExportStartSerializer(StrictSerializer):
    """``CallExportStart``: the body of ``POST /api/v1/call-exports``; every field is optional."""

    period_from = _period_field(
        "RFC 3339 with a UTC offset, years 2000–2100. Default: today − CALL_EXPORT_DEFAULT_DAYS, 00:00 local time."
    )
    period_to = _period_field(
        "Inclusive; RFC 3339 with a UTC offset, years 2000–2100. Default: today 23:59:59 local time. "
        "The period spans at most CALL_EXPORT_MAX_PERIOD_DAYS days (366 by default)."
    )
    dry_run = StrictBooleanField(default=False)
    generate_summary = StrictBooleanField(required=False)

    def validate(self, data: dict) -> dict:
        """The period, defaults filled in (CALL-17), in order and no longer than the maximum."""
        default_from, default_to = services.default_period()
        data.setdefault("period_from", default_from)
        data.setdefault("period_to", default_to)
        if data["period_to"] < data["period_from"]:
            raise serializers.ValidationError({"period_to": "Must not be before period_from."})
        longest = settings.APP_CONFIG.call_export_max_period_days
        if data["period_to"] - data["period_from"] > timedelta(days=longest):
            raise serializers.ValidationError(
                {"period_to": f"The period may span at most {longest} days (CALL_EXPORT_MAX_PERIOD_DAYS)."}
            )
        return data


RUN_COUNTERS = (
    "listed_total",
    "total_calls",
    "processed_calls",
    "downloaded_calls",
    "error_calls",
    "missing_audio_calls",
    "skipped_calls",
    "total_duration_sec",
    "transcribed_minutes",
)


class CallExportSerializer(serializers.ModelSerializer):
    period_from = RFC3339DateTimeField(read_only=True)
    period_to = RFC3339DateTimeField(read_only=True)
    started_at = RFC3339DateTimeField(read_only=True)
    finished_at = RFC3339DateTimeField(read_only=True, allow_null=True)
    progress_percent = serializers.FloatField(read_only=True)
    actor = serializers.SerializerMethodField()

    class Meta:
        model = CallExport
        fields = [
            "run_id",
            "status",
            "period_from",
            "period_to",
            "actor",
            "options",
            "started_at",
            "finished_at",
            *RUN_COUNTERS[:7],
            "skipped_by_reason",
            "error_message",
            *RUN_COUNTERS[7:],
            "total_cost",
            "currency_code",
            "progress_percent",
        ]

        # Counters are read-only: the database's integer range (which differs between SQLite and
        # PostgreSQL) is no promise to clients, and the schema must not depend on the database.
        extra_kwargs = {name: {"max_value": None} for name in RUN_COUNTERS}

    def get_actor(self, run: CallExport) -> str | None:
        return run.actor.get_username() if run.actor else None


class TranscriptSearchQuerySerializer(serializers.Serializer):
    """The query string of ``GET /api/v1/b24-calls/transcripts/search``; a bad limit or offset is a 422."""

    q = serializers.CharField(required=False, allow_blank=True, default="", max_length=SEARCH_MAX_QUERY_LENGTH)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=SEARCH_MAX_LIMIT)
    offset = serializers.IntegerField(required=False, default=0, min_value=0, max_value=SEARCH_MAX_OFFSET)


class TranscriptHitSerializer(serializers.Serializer):
    record_id = serializers.IntegerField(source="record.pk")
    call_id = serializers.CharField(source="record.call_id")
    call_started_at = RFC3339DateTimeField(source="record.call_started_at", allow_null=True)
    rank = serializers.FloatField(
        allow_null=True, help_text="ts_rank_cd, higher is better; null where the database cannot rank (SQLite)."
    )
    snippet = serializers.CharField(
        help_text="HTML: the text escaped, matches in <mark>…</mark>; one fragment of up to 30 words."
    )
    language = serializers.CharField(source="record.language", help_text="ISO 639-1, empty when unknown.")


class TranscriptSearchPageSerializer(serializers.Serializer):
    items = TranscriptHitSerializer(many=True, source="hits")
    limit = serializers.IntegerField(min_value=1, max_value=SEARCH_MAX_LIMIT)
    offset = serializers.IntegerField(min_value=0, max_value=SEARCH_MAX_OFFSET)
    has_next = serializers.BooleanField()
