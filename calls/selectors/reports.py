"""Run report reads (EXP-08): the facts of one run's report.

A module of its own because the report (:mod:`calls.reports`) is their one
reader; they are read here so that it only computes and renders: the record
totals, the gaps and the QA sample's pool, the stages' spans and retries, the
run's Bitrix24 log, jobs and summaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Max, Min, Q, QuerySet, Sum, Value
from django.db.models.functions import Greatest

from calls.models import CallExport, CallRecord, CallRecordStatus, CallSummary, TranscriptionJob, TranscriptionJobStatus
from integrations.models import IntegrationLog

REPORT_GAPS_LIMIT = 500  # a bad run lists its first 500 gaps and counts the rest, not a 50 MB report
QA_SAMPLE_SIZE = 50
_GAP_FIELDS = ("call_id", "record_id", "status", "error_code", "error_message", "attempts")


@dataclass(frozen=True)
class RunRecordTotals:
    records: int
    with_recording: int
    completed: int
    error: int
    missing_audio: int
    skipped: int
    duration_sec: int
    cost_usd: Decimal


@dataclass(frozen=True)
class StageSpan:
    """When a stage of the run did its work: first start and last finish, both None when it did nothing."""

    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class RunExecution:
    download: StageSpan
    transcribe: StageSpan
    summary: StageSpan
    download_retries: int
    stt_retries: int
    dead_letters: int
    b24_throttled: int
    stt_busy_seconds: float
    stt_audio_seconds: float
    billable_minutes: int


def run_record_totals(run: CallExport) -> RunRecordTotals:
    has_recording = Q(record_id__isnull=False) | Q(recording_url__isnull=False) & ~Q(recording_url="")
    counts = run.records.aggregate(
        records=Count("id"),
        with_recording=Count("id", filter=has_recording),
        completed=Count("id", filter=Q(status=CallRecordStatus.COMPLETED)),
        error=Count("id", filter=Q(status=CallRecordStatus.ERROR)),
        missing_audio=Count("id", filter=Q(status=CallRecordStatus.MISSING_AUDIO)),
        skipped=Count("id", filter=Q(status=CallRecordStatus.SKIPPED)),
        duration_sec=Sum("duration_sec"),
        cost=Sum("transcription_cost"),
    )
    return RunRecordTotals(
        records=counts["records"],
        with_recording=counts["with_recording"],
        completed=counts["completed"],
        error=counts["error"],
        missing_audio=counts["missing_audio"],
        skipped=counts["skipped"],
        duration_sec=counts["duration_sec"] or 0,
        cost_usd=Decimal(counts["cost"] or 0),
    )


def run_skipped_by_reason(run: CallExport) -> dict[str, int]:
    rows = run.records.filter(status=CallRecordStatus.SKIPPED).values_list("error_code").annotate(n=Count("id"))
    return {code or "unknown": count for code, count in rows.order_by("error_code")}


def run_gaps(run: CallExport) -> QuerySet[CallRecord, dict[str, Any]]:
    """Every record of the run that is not ``completed``, in a stable order, as dicts of :data:`_GAP_FIELDS`."""
    return (
        run.records.exclude(status=CallRecordStatus.COMPLETED)
        .order_by("call_id", "record_id", "id")
        .values(*_GAP_FIELDS)
    )


def run_completed_records(run: CallExport) -> QuerySet[CallRecord]:
    """The completed records in the stable order the QA sample draws from."""
    return run.records.filter(status=CallRecordStatus.COMPLETED).order_by("call_id", "record_id", "id")


def _span(rows: QuerySet, start: str, finish: str) -> StageSpan:
    bounds = rows.aggregate(started=Min(start), finished=Max(finish))
    return StageSpan(bounds["started"], bounds["finished"])


def run_execution(run: CallExport) -> RunExecution:
    jobs = TranscriptionJob.objects.filter(call_record__run=run)
    job_totals = jobs.aggregate(
        retries=Sum(Greatest(F("attempts") - 1, Value(0))),
        dead=Count("id", filter=Q(status=TranscriptionJobStatus.DEAD_LETTER)),
        busy=Sum("duration_seconds", filter=Q(status=TranscriptionJobStatus.SUCCEEDED)),
        audio=Sum("audio_seconds", filter=Q(status=TranscriptionJobStatus.SUCCEEDED)),
        minutes=Sum("billable_minutes", filter=Q(status=TranscriptionJobStatus.SUCCEEDED)),
    )
    downloads = run.records.filter(download_attempts__gt=0)
    return RunExecution(
        # A record keeps only its last attempt's time; the span ends there and starts at the first listing.
        download=StageSpan(
            downloads.aggregate(first=Min("created_at"))["first"],
            downloads.aggregate(last=Max("last_attempt_at"))["last"],
        ),
        transcribe=_span(jobs.filter(started_at__isnull=False), "started_at", "finished_at"),
        summary=_span(CallSummary.objects.filter(call_record__run=run), "created_at", "created_at"),
        download_retries=downloads.aggregate(n=Sum(Greatest(F("download_attempts") - 1, Value(0))))["n"] or 0,
        stt_retries=job_totals["retries"] or 0,
        dead_letters=job_totals["dead"],
        b24_throttled=run_b24_log(run).filter(status_code=429).count(),
        stt_busy_seconds=job_totals["busy"] or 0.0,
        stt_audio_seconds=job_totals["audio"] or 0.0,
        billable_minutes=job_totals["minutes"] or 0,
    )


def run_b24_log(run: CallExport) -> QuerySet[IntegrationLog]:
    """The run's outbound Bitrix24 calls (listing and downloads), oldest first."""
    return IntegrationLog.objects.filter(
        correlation_id=str(run.run_id), external_system=IntegrationLog.System.BITRIX24
    ).order_by("ts", "id")


def run_jobs(run: CallExport) -> QuerySet[TranscriptionJob]:
    return TranscriptionJob.objects.filter(call_record__run=run).order_by("created_at", "id")


def run_summaries(run: CallExport) -> QuerySet[CallSummary]:
    return CallSummary.objects.filter(call_record__run=run).select_related("call_record").order_by("created_at", "id")
