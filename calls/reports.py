"""The run's export package (EXP-07) and its report ``summary_<period>.md`` (EXP-08).

The report's numbers are computed once, in :func:`report_facts`, from the reads
in :mod:`calls.selectors.reports`; the template ``templates/calls/summary_report.md``
only lays them out.  The report is for staff and written in Russian.

The JSONL stage log is rebuilt from what the database keeps (Bitrix24
integration log rows, each record's download, transcription jobs, summaries),
not written by a logging handler: the pipeline runs in several worker
processes, and the database already holds every stage's time and outcome.
Building the package twice writes the same keys with the same content for the
same database state.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files.storage import Storage
from django.template.loader import render_to_string
from django.utils import translation

from calls.models import CallExport
from calls.registry import registry_csv_chunks
from calls.selectors import reports as report_selectors
from calls.storage import default_storage, save_stream, save_text
from mastermobile.observability.logging import Redactor

CENTS = Decimal("0.01")
PERCENT = Decimal("0.01")
DURATION_TOLERANCE_PERCENT = Decimal("0.5")
BUDGET_TOLERANCE_PERCENT = Decimal("20")
COVERAGE_TARGET_PERCENT = Decimal("99")
MISSING_AUDIO_LIMIT_PERCENT = Decimal("1")
REASON_LIMIT = 200  # characters of an error message a gap row shows


class ReportError(Exception):
    """The run has no report: a dry run."""


@dataclass(frozen=True)
class PackageKeys:
    registry: str
    report: str
    log: str


@dataclass(frozen=True)
class Stage:
    name: str
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return max((self.finished_at - self.started_at).total_seconds(), 0.0)


@dataclass(frozen=True)
class Gap:
    call_id: str
    record_id: str
    status: str
    error_code: str
    reason: str
    attempts: int


@dataclass(frozen=True)
class QaRow:
    call_id: str
    language: str
    preview: str
    verdict: str
    comment: str


@dataclass(frozen=True)
class ReportFacts:
    """Every number and row of one run's report."""

    run_id: str
    time_zone: str
    period_from: datetime
    period_to: datetime
    generated_at: datetime
    actor: str
    trigger: str
    generate_summary: bool
    engine: str
    model: str
    # 2. Totals
    listed_total: int | None
    with_recording: int
    completed: int
    error: int
    missing_audio: int
    skipped: int
    skipped_by_reason: dict[str, int]
    available_audio: int
    coverage_percent: Decimal | None
    duration_minutes: Decimal
    duration_hours: Decimal
    billable_minutes: int
    cost_usd: Decimal
    cost_rub: Decimal
    usd_rub_rate: Decimal
    cost_per_minute_usd: Decimal | None
    # 3. Duration check
    registry_seconds: int
    listed_seconds: int | None
    duration_difference_percent: Decimal | None
    duration_flagged: bool
    # 4. Gaps
    gaps: list[Gap]
    gaps_total: int
    # 5. Costs and budget
    budget_usd: Decimal | None
    budget_deviation_percent: Decimal | None
    budget_flagged: bool
    period_days: int
    covered_days: int
    forecast_usd: Decimal | None
    # 6. Execution
    started_at: datetime
    finished_at: datetime | None
    wall_seconds: float | None
    stages: list[Stage]
    download_retries: int
    stt_retries: int
    dead_letters: int
    b24_throttled: int
    stt_seconds_per_audio_minute: Decimal | None
    # 7. QA sample
    qa_sample: list[QaRow]
    # 8. Recommendations
    recommendations: list[str] = field(default_factory=list)

    @property
    def gaps_left_out(self) -> int:
        return self.gaps_total - len(self.gaps)

    @property
    def missing_audio_percent(self) -> Decimal | None:
        return _percent(self.missing_audio, self.with_recording)


def _percent(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(PERCENT, rounding=ROUND_HALF_UP)


def _local_date(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).date().isoformat()


def period_name(run: CallExport) -> str:
    """``<from>_<to>`` as local dates in CALL_EXPORT_TIMEZONE (STT-20)."""
    zone = ZoneInfo(settings.APP_CONFIG.call_export_timezone)
    return f"{_local_date(run.period_from, zone)}_{_local_date(run.period_to, zone)}"


def package_keys(run: CallExport) -> PackageKeys:
    """The run's three storage keys; the log's timestamp is the run's start, so a rebuild overwrites it."""
    period = period_name(run)
    stamp = run.started_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return PackageKeys(
        registry=f"exports/{period}/registry/calls_{period}.csv",
        report=f"exports/{period}/reports/summary_{period}.md",
        log=f"exports/{period}/logs/call_export_{stamp}.jsonl",
    )


def _redactor() -> Redactor:
    # The report leaves the system (mail, shared folders): reasons are masked whatever PII_MASKING_ENABLED says.
    return Redactor(settings.APP_CONFIG.secrets, mask_pii=True)


def _gaps(run: CallExport, redactor: Redactor) -> tuple[list[Gap], int]:
    rows = report_selectors.run_gaps(run)
    total = rows.count()
    gaps = [
        Gap(
            call_id=row["call_id"],
            record_id=row["record_id"] or "",
            status=row["status"],
            error_code=row["error_code"] or "",
            reason=redactor.text(row["error_message"] or "")[:REASON_LIMIT],
            attempts=row["attempts"],
        )
        for row in rows[: report_selectors.REPORT_GAPS_LIMIT]
    ]
    return gaps, total


def qa_sample(run: CallExport) -> list[QaRow]:
    """Up to 50 completed records drawn with ``random.Random(str(run_id))`` from a stable order (EXP-08 §7)."""
    records = list(report_selectors.run_completed_records(run).select_related("qa_review"))
    # Reproducible on purpose (seeded by run_id), not a secret: S311 does not apply.
    chosen = random.Random(str(run.run_id)).sample(records, min(report_selectors.QA_SAMPLE_SIZE, len(records)))  # noqa: S311
    chosen.sort(key=lambda record: (record.call_id, record.record_id or "", record.id))
    redactor = _redactor()
    rows = []
    for record in chosen:
        review = getattr(record, "qa_review", None)
        rows.append(
            QaRow(
                call_id=record.call_id,
                language=record.language,
                preview=redactor.text(record.text_preview)[:REASON_LIMIT],
                verdict=review.verdict if review else "",
                comment=review.comment if review else "",
            )
        )
    return rows


def _covered_days(run: CallExport, zone: ZoneInfo) -> int:
    days = {
        started.astimezone(zone).date()
        for started in run.records.exclude(call_started_at=None).values_list("call_started_at", flat=True)
        if started is not None  # excluded above; the stubs cannot tell
    }
    return len(days)


def report_facts(run: CallExport, *, now: datetime | None = None) -> ReportFacts:
    """The numbers of EXP-08 for ``run`` as the database holds them now."""
    if run.is_dry_run:
        raise ReportError(f"run {run.run_id} is a dry run; it has no report")
    config = settings.APP_CONFIG
    zone = ZoneInfo(config.call_export_timezone)
    totals = report_selectors.run_record_totals(run)
    execution = report_selectors.run_execution(run)
    redactor = _redactor()
    cost = totals.cost_usd.quantize(CENTS, rounding=ROUND_HALF_UP)
    available = max(totals.with_recording - totals.missing_audio, 0)
    listed_seconds = run.checkpoint.get("listed_duration_sec")
    difference = None
    if listed_seconds:
        difference = (Decimal(abs(totals.duration_sec - listed_seconds)) * 100 / Decimal(listed_seconds)).quantize(
            PERCENT, rounding=ROUND_HALF_UP
        )
    budget = config.call_export_budget_usd
    deviation = _percent(cost - budget, budget) if budget else None
    local_from, local_to = run.period_from.astimezone(zone).date(), run.period_to.astimezone(zone).date()
    period_days = (local_to - local_from).days + 1
    covered = _covered_days(run, zone)
    forecast = (cost / covered * period_days).quantize(CENTS, rounding=ROUND_HALF_UP) if covered else None
    latency = None
    if execution.stt_audio_seconds:
        latency = (
            Decimal(str(execution.stt_busy_seconds)) / (Decimal(str(execution.stt_audio_seconds)) / 60)
        ).quantize(PERCENT, rounding=ROUND_HALF_UP)
    gaps, gaps_total = _gaps(run, redactor)
    wall = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
    listing_done = run.checkpoint.get("listed")
    first_record = run.records.order_by("created_at").values_list("created_at", flat=True).first()
    last_record = run.records.order_by("-created_at").values_list("created_at", flat=True).first()
    facts = ReportFacts(
        run_id=str(run.run_id),
        time_zone=config.call_export_timezone,
        period_from=run.period_from.astimezone(zone),
        period_to=run.period_to.astimezone(zone),
        generated_at=(now or datetime.now(UTC)).astimezone(UTC),
        actor=run.actor.get_username() if run.actor else "",
        trigger=str(run.options.get("trigger", "manual")),
        generate_summary=run.options.get("generate_summary", config.call_summary_enabled) is not False,
        engine=str(run.options.get("engine") or config.stt_default_engine),
        model=str(run.options.get("model") or config.stt_openai_model),
        listed_total=run.listed_total,
        with_recording=totals.with_recording,
        completed=totals.completed,
        error=totals.error,
        missing_audio=totals.missing_audio,
        skipped=totals.skipped,
        skipped_by_reason=report_selectors.run_skipped_by_reason(run),
        available_audio=available,
        coverage_percent=_percent(totals.completed, available),
        duration_minutes=(Decimal(totals.duration_sec) / 60).quantize(PERCENT, rounding=ROUND_HALF_UP),
        duration_hours=(Decimal(totals.duration_sec) / 3600).quantize(PERCENT, rounding=ROUND_HALF_UP),
        billable_minutes=execution.billable_minutes,
        cost_usd=cost,
        cost_rub=(cost * config.usd_rub_rate).quantize(CENTS, rounding=ROUND_HALF_UP),
        usd_rub_rate=config.usd_rub_rate,
        cost_per_minute_usd=(
            (totals.cost_usd / execution.billable_minutes).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
            if execution.billable_minutes
            else None
        ),
        registry_seconds=totals.duration_sec,
        listed_seconds=listed_seconds,
        duration_difference_percent=difference,
        duration_flagged=difference is not None and difference > DURATION_TOLERANCE_PERCENT,
        gaps=gaps,
        gaps_total=gaps_total,
        budget_usd=budget,
        budget_deviation_percent=deviation,
        budget_flagged=deviation is not None and abs(deviation) > BUDGET_TOLERANCE_PERCENT,
        period_days=period_days,
        covered_days=covered,
        forecast_usd=forecast,
        started_at=run.started_at,
        finished_at=run.finished_at,
        wall_seconds=wall,
        stages=[
            Stage("fetch_calls", run.started_at if first_record else None, last_record if listing_done else None),
            Stage("download", execution.download.started_at, execution.download.finished_at),
            Stage("transcribe", execution.transcribe.started_at, execution.transcribe.finished_at),
            Stage("summary", execution.summary.started_at, execution.summary.finished_at),
        ],
        download_retries=execution.download_retries,
        stt_retries=execution.stt_retries,
        dead_letters=execution.dead_letters,
        b24_throttled=execution.b24_throttled,
        stt_seconds_per_audio_minute=latency,
        qa_sample=qa_sample(run),
    )
    facts.recommendations.extend(recommendations(facts))
    return facts


def recommendations(facts: ReportFacts) -> list[str]:
    """EXP-08 §8: one note per threshold the run crossed."""
    notes = []
    if facts.coverage_percent is not None and facts.coverage_percent < COVERAGE_TARGET_PERCENT:
        notes.append(
            f"Покрытие {facts.coverage_percent}% ниже целевых {COVERAGE_TARGET_PERCENT}%: "
            "разберите таблицу пропусков и повторите загрузку или расшифровку."
        )
    if facts.budget_usd is not None and facts.cost_usd > facts.budget_usd:
        notes.append(
            f"Стоимость {facts.cost_usd} USD превышает бюджет {facts.budget_usd} USD: "
            "проверьте объём звонков и CALL_EXPORT_BUDGET_USD."
        )
    missing = facts.missing_audio_percent
    if missing is not None and missing > MISSING_AUDIO_LIMIT_PERCENT:
        notes.append(
            f"Без аудио {missing}% записей (порог {MISSING_AUDIO_LIMIT_PERCENT}%): "
            "проверьте права вебхука Bitrix24 на диск и сроки хранения записей."
        )
    if facts.dead_letters:
        notes.append(
            f"В очереди недоставленных {facts.dead_letters} задач(и) расшифровки: разберите их и перезапустите."
        )
    if facts.duration_flagged:
        notes.append(
            f"Длительность в реестре расходится с выгрузкой Bitrix24 на {facts.duration_difference_percent}% "
            f"(допуск {DURATION_TOLERANCE_PERCENT}%): сверьте записи за период."
        )
    if facts.b24_throttled:
        notes.append(f"Bitrix24 ответил 429 {facts.b24_throttled} раз(а): снизьте частоту запросов.")
    return notes


def render_report(facts: ReportFacts) -> str:
    # The report is a Russian document (docs/decisions.md), whatever the process's language.
    with translation.override("ru"):
        return render_to_string("calls/summary_report.md", {"facts": facts})


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def _line(moment: datetime | None, run_id: str, call_id: str | None, stage: str, event: str, **rest: Any) -> dict:
    return {
        "timestamp": moment.astimezone(UTC).isoformat() if moment else None,
        "run_id": run_id,
        "call_id": call_id,
        "stage": stage,
        "event": event,
        "duration_ms": rest.get("duration_ms"),
        "error_code": rest.get("error_code") or None,
    }


def stage_log_lines(run: CallExport, *, report_key: str, now: datetime) -> Iterator[dict]:
    """EXP-07's JSONL objects in time order: no phone numbers, URLs or messages, only ids, codes and times."""
    run_id = str(run.run_id)
    lines = []
    for row in report_selectors.run_b24_log(run).values("ts", "endpoint", "status", "status_code", "error_code"):
        endpoint = row["endpoint"].rsplit("/", 1)[-1]
        lines.append(
            _line(
                row["ts"],
                run_id,
                None,
                "fetch_calls",
                f"{endpoint} {row['status']}",
                error_code=row["error_code"] or (str(row["status_code"]) if row["status"] != "success" else None),
            )
        )
    for record in run.records.filter(download_attempts__gt=0).order_by("last_attempt_at", "id"):
        event = "stored" if record.storage_path else record.status
        failed = not record.storage_path
        lines.append(
            _line(
                record.last_attempt_at,
                run_id,
                record.call_id,
                "download",
                event,
                error_code=record.error_code if failed else None,
            )
        )
    for job in report_selectors.run_jobs(run):
        lines.append(
            _line(
                job.finished_at or job.failed_at or job.updated_at,
                run_id,
                job.call_id,
                "transcribe",
                job.status,
                duration_ms=_ms(job.duration_seconds),
                error_code=job.last_error_code,
            )
        )
    for summary in report_selectors.run_summaries(run):
        lines.append(_line(summary.created_at, run_id, summary.call_record.call_id, "summary", "created"))
    lines.sort(key=lambda line: line["timestamp"] or "")
    lines.append(_line(now, run_id, None, "report", f"written {report_key}"))
    return iter(lines)


def _write_registry(key: str, run: CallExport, storage: Storage) -> None:
    """The package's registry (EXP-01/02): the run period's calls, masked as ``PII_MASKING_ENABLED`` says."""
    chunks = registry_csv_chunks(period_from=run.period_from, period_to=run.period_to, unmasked=False)
    save_stream(key, chunks, content_type="text/csv", storage=storage)


def build_report(run: CallExport, *, storage: Storage | None = None, now: datetime | None = None) -> str:
    """Render and store the run's report; return its key.  A dry run raises :class:`ReportError`, writing nothing."""
    key = package_keys(run).report
    save_text(key, render_report(report_facts(run, now=now)), storage=storage or default_storage())
    return key


def build_package(run: CallExport, *, storage: Storage | None = None, now: datetime | None = None) -> PackageKeys:
    """Write the registry, the report and the stage log of ``run`` (EXP-07); the same keys every time.

    Everything is rendered before the first write, so a run that has no report (a dry run) gets no file.
    """
    storage = storage or default_storage()
    now = now or datetime.now(UTC)
    keys = package_keys(run)
    report = render_report(report_facts(run, now=now))
    log = "".join(
        json.dumps(line, ensure_ascii=False) + "\n" for line in stage_log_lines(run, report_key=keys.report, now=now)
    )
    _write_registry(keys.registry, run, storage)
    save_text(keys.report, report, storage=storage)
    save_text(keys.log, log, storage=storage)
    return keys
