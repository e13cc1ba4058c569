from __future__ import annotations

from rest_framework import serializers

from calls.models import CallExport
from mastermobile.api.serializers import RFC3339DateTimeField


class CallExportStartSerializer(serializers.Serializer):
    period_from = serializers.DateTimeField(required=False, help_text="Default: today − CALL_EXPORT_DEFAULT_DAYS.")
    period_to = serializers.DateTimeField(required=False, help_text="Inclusive; default: today 23:59:59 UTC.")
    dry_run = serializers.BooleanField(default=False)
    generate_summary = serializers.BooleanField(required=False)

    def validate(self, data: dict) -> dict:
        if data.get("period_from") and data.get("period_to") and data["period_to"] < data["period_from"]:
            raise serializers.ValidationError({"period_to": "must not be before period_from"})
        return data


class CallExportSerializer(serializers.ModelSerializer):
    period_from = RFC3339DateTimeField(read_only=True)
    period_to = RFC3339DateTimeField(read_only=True)
    started_at = RFC3339DateTimeField(read_only=True)
    finished_at = RFC3339DateTimeField(read_only=True)
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
            "listed_total",
            "total_calls",
            "processed_calls",
            "downloaded_calls",
            "error_calls",
            "missing_audio_calls",
            "skipped_calls",
            "skipped_by_reason",
            "error_message",
            "total_duration_sec",
            "transcribed_minutes",
            "total_cost",
            "currency_code",
            "progress_percent",
        ]

    def get_actor(self, run: CallExport) -> str | None:
        return run.actor.get_username() if run.actor else None
