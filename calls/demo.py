"""Demo call records in every status, with transcripts and costs (``manage.py seed_demo --calls N``).

Records are made as the pipeline makes them: a Bitrix24-shaped statistics
item goes through :func:`calls.mapping.record_fields`, the record then walks
the CALL-11 table one legal move at a time, the transcription job is queued
by :func:`calls.transcription_queue.job_enqueue`, and a completed record's
transcript file is written under its real storage key in the real format.
The cost is ``ceil(seconds / 60) × WHISPER_RATE_PER_MIN_USD``.

Final records (completed, skipped, error, missing audio) belong to a
completed run whose registry and report are built by the real package
writer; open ones (pending, downloading, downloaded, transcribing) to a
cancelled run, because a cancelled run's records keep their state and no
worker picks them up (CALL-19) — so they stay explorable after ``make run``
(the supervisor still releases a ``running`` job after ``STT_STALE_JOB_SECONDS``,
and its record goes back to ``downloaded``).
The audio stored for a demo recording is a one-second placeholder, not the
whole call.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from calls import services, transcription_queue
from calls.mapping import record_fields
from calls.models import (
    JOB_TRANSITIONS,
    MAX_DOWNLOAD_ATTEMPTS,
    RECORD_TRANSITIONS,
    CallExport,
    CallExportStatus,
    CallRecord,
    CallRecordStatus,
    Transcript,
    TranscriptionJob,
    TranscriptionJobStatus,
)
from calls.storage import audio_key, save_stream, save_text, transcript_key
from calls.transcripts import text_preview, transcript_file
from integrations.stt import CLIENT_LABEL, OPERATOR_LABEL, billable_minutes, transcription_cost
from mastermobile.demo import Seeded

S = CallRecordStatus
J = TranscriptionJobStatus
PERIOD_DAYS = 7
# Index i of the demo calls gets STATUSES[i % 8]: any eight consecutive calls show every status.
STATUSES = (S.COMPLETED, S.SKIPPED, S.ERROR, S.MISSING_AUDIO, S.PENDING, S.DOWNLOADING, S.DOWNLOADED, S.TRANSCRIBING)
FINAL = (S.COMPLETED, S.SKIPPED, S.ERROR, S.MISSING_AUDIO)
# The moves from ``pending`` that end in each status (a skipped call never had a recording).
PATHS: dict[str, tuple[str, ...]] = {
    S.PENDING: (),
    S.SKIPPED: (),
    S.DOWNLOADING: (S.DOWNLOADING,),
    S.MISSING_AUDIO: (S.DOWNLOADING, S.MISSING_AUDIO),
    S.DOWNLOADED: (S.DOWNLOADING, S.DOWNLOADED),
    S.TRANSCRIBING: (S.DOWNLOADING, S.DOWNLOADED, S.TRANSCRIBING),
    S.COMPLETED: (S.DOWNLOADING, S.DOWNLOADED, S.TRANSCRIBING, S.COMPLETED),
    S.ERROR: (S.DOWNLOADING, S.DOWNLOADED, S.TRANSCRIBING, S.ERROR),
}
EMPLOYEES = ("101", "102", "105", "108")
PORTAL_NUMBER = "+74951234567"
DIALOGUES = (
    (
        "Добрый день, сервисный центр «МастерМобайл», меня зовут Ольга.",
        "Здравствуйте, у меня разбился дисплей на iPhone 13, сколько стоит замена?",
        "Оригинальный дисплей в сборе стоит восемь с половиной тысяч, установка занимает около часа.",
        "Хорошо, запишите меня на завтра после обеда.",
    ),
    (
        "Здравствуйте, вы оформляли заказ аккумулятора для Samsung Galaxy A51.",
        "Да, когда курьер сможет привезти?",
        "Курьер будет у вас сегодня с шестнадцати до восемнадцати часов, оплата при получении.",
        "Отлично, спасибо, буду ждать.",
    ),
    (
        "Сервисный центр, слушаю вас.",
        "Мне вчера поменяли шлейф зарядки на Redmi Note 10, а телефон снова не заряжается.",
        "Приносите телефон, проверим по гарантии бесплатно, шлейф могли повредить при сборке.",
        "Понял, приеду в субботу утром.",
    ),
    (
        "Добрый вечер, это Иван, курьер, я у подъезда с вашим заказом.",
        "Ой, я задерживаюсь минут на двадцать, сможете подождать?",
        "Подожду пятнадцать минут, потом поеду на следующий адрес и вернусь вечером.",
        "Договорились, извините за ожидание.",
    ),
)


def seed_calls(*, total: int, now: datetime | None = None) -> Seeded:
    """Demo calls ``demo-call-0001`` … up to ``total`` of them; the ones already there are left as they are."""
    if total <= 0:
        return Seeded("call records", created=0, existing=0)
    now = now or timezone.now()
    # Cancelled before the completed run starts: one period has one active run at a time (CALL-04).
    open_run = _run("open", now)
    if open_run.status == CallExportStatus.IN_PROGRESS:
        open_run = services.call_export_cancel(run=open_run)
    done_run = _run("final", now)
    existing = set(CallRecord.objects.filter(call_id__startswith="demo-call-").values_list("call_id", flat=True))
    added = {done_run.pk: 0, open_run.pk: 0}
    for index in range(total):
        if call_id(index) in existing:
            continue
        status = STATUSES[index % len(STATUSES)]
        run = done_run if status in FINAL else open_run
        _record(run, index, status, now)
        added[run.pk] += 1
    _close(done_run, open_run, rebuilt=bool(added[done_run.pk]))
    found = len(existing & {call_id(index) for index in range(total)})
    return Seeded("call records", created=sum(added.values()), existing=found)


def call_id(index: int) -> str:
    return f"demo-call-{index + 1:04d}"


def _run(kind: str, now: datetime) -> CallExport:
    """The demo run of ``kind`` (``final`` or ``open``), found by its option, else started for the last seven days."""
    run = CallExport.objects.filter(options__demo=kind).first()
    if run is not None:
        return run
    today = now.astimezone(ZoneInfo(settings.APP_CONFIG.call_export_timezone)).date()
    period_from, period_to = services.local_day_range(today - timedelta(days=PERIOD_DAYS - 1), today)
    run = CallExport.objects.create(
        period_from=period_from,
        period_to=period_to,
        options={"trigger": "manual", "dry_run": False, "demo": kind},
        checkpoint={"listed": True, "pages": 1, "next": None, "seen": 0, "listed_duration_sec": 0},
    )
    run.transition_to(CallExportStatus.IN_PROGRESS)
    run.save(update_fields=["status", "finished_at", "updated_at"])
    return run


def _close(done_run: CallExport, open_run: CallExport, *, rebuilt: bool) -> None:
    """Counters recounted from the records; the final run completed with its registry and report."""
    for run in (done_run, open_run):
        records = CallRecord.objects.filter(run=run)
        run.checkpoint = {
            **run.checkpoint,
            "seen": records.count(),
            "listed_duration_sec": sum(records.values_list("duration_sec", flat=True)),
        }
        run.save(update_fields=["checkpoint", "updated_at"])
    was_open = done_run.status == CallExportStatus.IN_PROGRESS
    done_run = services.call_export_refresh(run=done_run, package_inline=True)
    if rebuilt and not was_open:
        services.call_export_package_safely(run_id=done_run.pk)
    services.call_export_refresh(run=open_run)


def _item(index: int, started: datetime, has_recording: bool) -> dict[str, Any]:
    """A ``voximplant.statistic.get`` item as the portal answers it."""
    number = index + 1
    duration = 35 + (index * 47) % 420
    inbound = index % 3 != 2
    return {
        "ID": str(900000 + number),
        "CALL_ID": call_id(index),
        "CALL_TYPE": "2" if inbound else "1",
        "CALL_START_DATE": started.isoformat(),
        "CALL_DURATION": str(duration),
        "CALL_FAILED_CODE": "200",
        "PORTAL_USER_ID": EMPLOYEES[index % len(EMPLOYEES)],
        "PORTAL_NUMBER": PORTAL_NUMBER,
        # Moscow landlines (495, 499) and mobiles (916, 926), as the call centre's callers have.
        "PHONE_NUMBER": f"+7{('495', '916', '499', '926')[index % 4]}{(1234567 + index * 7919) % 10_000_000:07d}",
        "CALL_RECORD_URL": f"https://example.bitrix24.ru/disk/recordings/{call_id(index)}.wav" if has_recording else "",
        "RECORD_FILE_ID": str(700000 + number) if has_recording else None,
        "RECORD_DURATION": str(duration) if has_recording else None,
        "CRM_ENTITY_TYPE": "CONTACT",
        "CRM_ENTITY_ID": str(45000 + number),
        "COST": "1.2000",
        "COST_CURRENCY": "RUB",
    }


def _record(run: CallExport, index: int, status: str, now: datetime) -> CallRecord:
    started = _started_at(index, min(now, run.period_to))
    has_recording = status != S.SKIPPED
    record = CallRecord.objects.create(
        run=run,
        **record_fields(_item(index, started, has_recording)),
        status=S.PENDING if has_recording else S.SKIPPED,
        error_code=None if has_recording else "no_recording",
    )
    for step in PATHS[status]:
        _STEPS[step](record, index, now)
        record.refresh_from_db()
    return record


def _started_at(index: int, now: datetime) -> datetime:
    """Within the call centre's hours, 09:00–19:59 Moscow, on one of the seven days up to ``now``, never after it.

    ``now`` is the end of the run's period when that is earlier: calls added to a
    run of last week by a later ``--calls`` still fall inside its period.
    """
    zone = ZoneInfo(settings.APP_CONFIG.call_export_timezone)
    today = now.astimezone(zone).date()
    minute = (index * 53) % (11 * 60)
    for days_back in (index % PERIOD_DAYS, index % (PERIOD_DAYS - 1) + 1):
        day = today - timedelta(days=days_back)
        started = datetime.combine(day, time(9, 0), tzinfo=zone) + timedelta(minutes=minute, seconds=index * 17 % 60)
        if started <= now:
            return started
    return started


def _downloading(record: CallRecord, index: int, now: datetime) -> None:
    _move(record, S.DOWNLOADING, attempts=1, download_attempts=1, last_attempt_at=now)


def _missing_audio(record: CallRecord, index: int, now: datetime) -> None:
    """A 404 on every attempt: only the last of MAX_DOWNLOAD_ATTEMPTS makes the record final (CALL-16)."""
    _move(
        record,
        S.MISSING_AUDIO,
        attempts=MAX_DOWNLOAD_ATTEMPTS,
        download_attempts=MAX_DOWNLOAD_ATTEMPTS,
        error_code="http_404",
        error_message="Bitrix24 answered 404 for the recording",
    )


def _downloaded(record: CallRecord, index: int, now: datetime) -> None:
    key = audio_key(
        call_id=record.call_id,
        record_id=record.record_id,
        recording_url=record.recording_url,
        call_started_at=record.call_started_at,
        extension=".wav",
    )
    stored = save_stream(key, [_placeholder_wav()], content_type="audio/wav")
    _move(
        record,
        S.DOWNLOADED,
        storage_path=key,
        checksum=stored.sha256,
        audio_format="wav",
        audio_codec="pcm_s16le",
        audio_duration_sec=float(record.duration_sec),
    )
    record.refresh_from_db()
    transcription_queue.job_enqueue(record)


def _transcribing(record: CallRecord, index: int, now: datetime) -> None:
    job = TranscriptionJob.objects.get(call_record=record)
    JOB_TRANSITIONS.move(TranscriptionJob, job.pk, J.RUNNING, attempts=1, started_at=now, dispatched_at=now)
    _move(record, S.TRANSCRIBING, attempts=2, stt_attempts=1, last_attempt_at=now)


def _completed(record: CallRecord, index: int, now: datetime) -> None:
    config = settings.APP_CONFIG
    lines = DIALOGUES[index % len(DIALOGUES)]
    text = "\n".join(f"{(OPERATOR_LABEL, CLIENT_LABEL)[turn % 2]}: {line}" for turn, line in enumerate(lines))
    seconds = float(record.duration_sec)
    minutes = billable_minutes(seconds)
    cost = transcription_cost(seconds, config.whisper_rate_per_min_usd)
    key = transcript_key(
        call_id=record.call_id,
        record_id=record.record_id,
        recording_url=record.recording_url,
        call_started_at=record.call_started_at,
    )
    save_text(key, transcript_file(record, text, "ru"))
    model = config.stt_openai_model
    Transcript.objects.create(
        call_record=record,
        text_full=text,
        metadata={
            "engine": "openai-whisper",
            "model": model,
            "language": "ru",
            "audio_seconds": seconds,
            "billable_seconds": seconds,
            "billable_minutes": minutes,
            "demo": True,
        },
    )
    job = TranscriptionJob.objects.get(call_record=record)
    JOB_TRANSITIONS.move(
        TranscriptionJob,
        job.pk,
        J.SUCCEEDED,
        only_from=[J.RUNNING],
        finished_at=now,
        dispatched_at=None,
        duration_seconds=round(2 + seconds / 30, 3),
        audio_seconds=seconds,
        billable_minutes=minutes,
        cost=cost,
        model=model,
    )
    _move(
        record,
        S.COMPLETED,
        transcript_path=key,
        text_preview=text_preview(text),
        language="ru",
        transcription_cost=cost,
    )


def _error(record: CallRecord, index: int, now: datetime) -> None:
    """A transcription that used up its retries on 429s: dead-lettered, the record an error with its audio kept."""
    message = "Rate limit reached for whisper-1; please try again in 20s"
    job = TranscriptionJob.objects.get(call_record=record)
    JOB_TRANSITIONS.move(
        TranscriptionJob,
        job.pk,
        J.DEAD_LETTER,
        only_from=[J.RUNNING],
        attempts=len(settings.APP_CONFIG.stt_retry_delays_s) + 1,
        failed_at=now,
        finished_at=now,
        dispatched_at=None,
        last_status_code=429,
        last_error_code="max_retries",
        last_error_message=message,
        dlq_reason=f"429: {message}",
    )
    retries = len(settings.APP_CONFIG.stt_retry_delays_s) + 1
    _move(
        record,
        S.ERROR,
        error_code="max_retries",
        error_message=f"http_429: {message}",
        attempts=1 + retries,
        stt_attempts=retries,
    )


_STEPS: dict[str, Callable[[CallRecord, int, datetime], None]] = {
    S.DOWNLOADING: _downloading,
    S.MISSING_AUDIO: _missing_audio,
    S.DOWNLOADED: _downloaded,
    S.TRANSCRIBING: _transcribing,
    S.COMPLETED: _completed,
    S.ERROR: _error,
}


def _move(record: CallRecord, target: str, **fields: Any) -> None:
    if not RECORD_TRANSITIONS.move(CallRecord, record.pk, target, only_from=[record.status], **fields):
        raise RuntimeError(f"demo record {record.call_id} did not move {record.status} → {target}")


def _placeholder_wav() -> bytes:
    """One second of quiet 8 kHz mono PCM: a playable stand-in for the recording."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 8000)
    return buffer.getvalue()
