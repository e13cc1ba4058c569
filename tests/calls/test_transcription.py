"""The transcription stage against the fake Bitrix24 portal and the fake OpenAI API, over HTTP (CALL-15, STT-01…STT-11)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import storages
from django.utils import timezone
from prometheus_client import REGISTRY

from calls import dead_letters, services, transcription, transcription_queue
from calls.models import (
    CallExport,
    CallExportStatus,
    CallRecord,
    CallSummary,
    Transcript,
    TranscriptionJob,
)
from integrations.text import clean_text
from tests.fakes.audio import silence, tone, wav
from tests.fakes.openai import KnownTranscript

pytestmark = pytest.mark.django_db(transaction=True)


def export(**options) -> CallExport:
    run, _ = services.call_export_start(
        period_from=datetime(2000, 1, 1, tzinfo=UTC), period_to=datetime.now(UTC), options=options
    )
    return services.call_export_process(run=run)


def counter(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_an_export_with_stt_on_ends_completed_with_transcripts_summaries_and_costs(stt_config, fake_openai, fake_b24):
    run = export()

    with_audio = run.records.exclude(error_code="no_recording")
    assert run.status == CallExportStatus.COMPLETED
    assert with_audio.count() == 54
    assert set(with_audio.values_list("status", flat=True)) == {"completed"}
    assert Transcript.objects.count() == 54 and CallSummary.objects.count() == 54
    assert len(fake_openai.transcriptions()) == 54
    # STT-10: a quarter-second tone bills one started minute at $0.006; the run sums unrounded, rounds once.
    assert set(with_audio.values_list("transcription_cost", flat=True)) == {Decimal("0.006")}
    assert (run.transcribed_minutes, run.total_cost) == (54, Decimal("0.32"))
    record = with_audio.first()
    assert record is not None
    assert record.text_preview.startswith("тон ") and record.language == "ru"
    assert record.transcript_path is not None and record.summary_path is not None
    transcript_file = storages["default"].open(record.transcript_path).read().decode()
    assert transcript_file.startswith(f"CALL_ID: {record.call_id}\nRECORD_ID: {record.record_id or ''}\nSTART: ")
    assert (
        f"\nDURATION_SEC: {record.duration_sec}\nLANGUAGE: ru\n---\n{record.transcript.text_full}\n" in transcript_file
    )
    summary = storages["default"].open(record.summary_path).read().decode()
    assert summary == "".join(f"- {bullet}\n" for bullet in record.summary.bullets)
    job = TranscriptionJob.objects.get(call_record=record)
    assert (job.status, job.attempts, job.billable_minutes, job.model) == ("succeeded", 1, 1, "whisper-1")


def test_with_stt_off_no_job_is_created_and_no_request_leaves(b24_config, fake_openai, fake_b24):
    run = export()

    assert run.status == CallExportStatus.COMPLETED
    assert run.skipped_by_reason == {"no_recording": 6, "stt_disabled": 54}
    assert not TranscriptionJob.objects.exists()
    assert fake_openai.requests == []


def test_records_skipped_while_stt_was_off_are_transcribed_when_the_period_runs_again(
    b24_config, fake_openai, fake_b24, settings
):
    export()
    settings.APP_CONFIG = dataclasses.replace(
        settings.APP_CONFIG,
        openai_api_key=fake_openai.api_key,
        openai_base_url=fake_openai.base_url,
        stt_max_file_minutes=60,
        stt_retry_delays_s=(0.0,),
    )
    downloads_before = fake_b24.count("recording")

    run = export()

    assert run.status == CallExportStatus.COMPLETED
    assert run.records.filter(status="completed").count() == 54
    # STT-01 "picks these records up again" from the stored audio: nothing is downloaded twice.
    assert fake_b24.count("recording") == downloads_before


def test_a_retryable_failure_is_retried_within_the_export(stt_config, fake_openai, fake_b24):
    fake_openai.fail_next(503, times=2)

    run = export()

    assert run.status == CallExportStatus.COMPLETED
    assert run.records.filter(status="completed").count() == 54
    # The two failures hit the first two jobs; each succeeded on its second call.
    assert sorted(TranscriptionJob.objects.values_list("attempts", flat=True))[-2:] == [2, 2]
    assert len(fake_openai.transcriptions()) == 56


def test_an_export_with_a_dead_letter_still_finishes(stt_config, fake_openai, fake_b24):
    fake_openai.fail_next(400)

    run = export()

    dead = TranscriptionJob.objects.get(status="dead_letter")
    assert (dead.attempts, dead.last_error_code) == (1, "http_400")
    record = dead.call_record
    assert record is not None
    assert (record.status, record.error_code) == ("error", "http_400")
    assert record.is_final and record.transcription_cost == 0
    # A dead letter is a gap of a finished run, not a reason to loop (CALL-03).
    assert run.status == CallExportStatus.COMPLETED
    assert run.error_calls == 1


def test_a_requeued_dead_letter_is_transcribed_and_audited(stt_config, fake_openai, fake_b24, admin_user):
    fake_openai.fail_next(401)
    run = export()
    dead = TranscriptionJob.objects.get(status="dead_letter")

    requeued = dead_letters.job_requeue(dead.pk, actor=admin_user, request_id="req-1")

    assert dead.call_record_id is not None
    record = CallRecord.objects.get(pk=dead.call_record_id)
    assert (requeued.status, requeued.attempts, requeued.dlq_reason) == ("queued", 0, "")
    assert (record.status, record.error_code) == ("downloaded", None)
    entry = requeued.history[-1]
    assert entry["actor"] == admin_user.get_username() and entry["reason"] == "manual_requeue"
    assert (entry["request_id"], entry["call_id"], entry["record_id"]) == ("req-1", dead.call_id, record.pk)
    with pytest.raises(dead_letters.JobNotRequeueable):
        dead_letters.job_requeue(dead.pk, actor=admin_user)

    assert transcription.job_run(str(dead.pk)).status == "succeeded"
    run = services.call_export_refresh(run=run)
    assert run.records.filter(status="completed").count() == 54 and run.error_calls == 0


def test_retry_after_from_the_provider_is_honoured(stt_config, fake_openai, fake_b24):
    export_run, _ = services.call_export_start(
        period_from=datetime(2000, 1, 1, tzinfo=UTC), period_to=datetime.now(UTC)
    )
    services.call_export_list(run=export_run)
    record = export_run.records.filter(status="pending").first()
    assert record is not None
    from calls.downloads import record_download

    record_download(record_id=record.pk)
    job = TranscriptionJob.objects.get(call_record=record)
    fake_openai.fail_next(429, retry_after="7")

    before = timezone.now()
    outcome = transcription.job_run(str(job.pk))

    job.refresh_from_db()
    assert outcome.status == "retry_wait"
    assert job.next_attempt_at is not None and job.next_attempt_at >= before + timedelta(seconds=7)
    assert CallRecord.objects.get(pk=record.pk).status == "downloaded"
    # Not due yet: nobody may start it.
    assert transcription.job_run(str(job.pk)).worked is False


# The stage on recordings made for it ------------------------------------------


def test_a_silent_recording_ends_no_speech_at_zero_cost_and_nothing_is_sent(stored, fake_openai):
    job = stored(wav(silence(3.0)))

    outcome = transcription.job_run(str(job.pk))

    record = CallRecord.objects.get(pk=job.call_record_id)
    assert (outcome.status, record.status, record.error_code) == ("skipped", "skipped", "no_speech")
    assert record.transcription_cost == 0 and not Transcript.objects.exists()
    # Whisper would have invented "Продолжение следует..." for it.
    assert fake_openai.transcriptions() == []


def test_a_nul_character_in_the_providers_text_is_dropped_and_the_job_succeeds(stored, fake_openai):
    # PostgreSQL cannot store NUL in text: the result used to fail to save on every attempt.
    fake_openai.transcripts["тон 440"] = KnownTranscript("Алло\x00, добрый день", "ru")
    job = stored(wav(tone(440, 1.0)))

    assert transcription.job_run(str(job.pk)).status == "succeeded"

    assert Transcript.objects.get().text_full == "Алло, добрый день"
    assert CallRecord.objects.get(pk=job.call_record_id).text_preview == "Алло, добрый день"


def test_a_lone_surrogate_in_a_providers_text_becomes_the_replacement_character():
    assert clean_text(" Алло\ud800 день\x00 ") == "Алло\ufffd день"


def test_a_stereo_call_becomes_a_dialogue_with_speaker_labels(stored, fake_openai):
    operator = tone(440, 1.0) + silence(1.0) + tone(440, 1.0)
    client = silence(1.0) + tone(880, 1.0) + silence(1.0)
    job = stored(wav(operator, client))

    assert transcription.job_run(str(job.pk)).status == "succeeded"

    text = Transcript.objects.get().text_full
    assert text.splitlines() == ["Оператор: тон 440", "Клиент: тон 880", "Оператор: тон 440"]
    assert Transcript.objects.get().metadata["dialogue"] is True


def test_the_stub_engine_sends_nothing_and_bills_nothing(stored, fake_openai, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, stt_default_engine="stub")
    job = stored(wav(tone(300, 2.0)))

    assert transcription.job_run(str(job.pk)).status == "succeeded"

    record = CallRecord.objects.get(pk=job.call_record_id)
    assert record.transcript.text_full.startswith("Transcription placeholder.")
    assert record.transcription_cost == 0 and fake_openai.requests == []


def test_an_attempt_whose_job_was_taken_over_writes_nothing(stored, fake_openai):
    """A worker presumed dead finishes late: the attempt that took over is the only one counted."""
    job = stored(wav(tone(500, 1.0)))

    class TakenOverMidRequest:
        model = "whisper-1"

        def __init__(self):
            self.inner = transcription.transcriber_for_engine(django_settings.APP_CONFIG, "openai-whisper")

        def transcribe(self, audio, *, filename, language=None):
            answer = self.inner.transcribe(audio, filename=filename, language=language)
            # Meanwhile the supervisor released the job and another worker transcribed it.
            TranscriptionJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(hours=1))
            assert transcription_queue.release_stale() == 1
            assert transcription.job_run(str(job.pk)).status == "succeeded"
            return answer

        def close(self):
            self.inner.close()

    late = TakenOverMidRequest()
    outcome = transcription.job_run(str(job.pk), transcriber=late)
    late.close()

    job.refresh_from_db()
    assert (outcome.worked, outcome.error_code) == (False, "superseded")
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert Transcript.objects.count() == 1
    assert CallRecord.objects.get(pk=job.call_record_id).transcription_cost == Decimal("0.006")


def test_retryable_failures_follow_the_ladder_then_end_in_max_retries(stored, fake_openai, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, stt_retry_delays_s=(0.0, 0.0, 0.0))
    job = stored(wav(tone(500, 1.0)))
    retries_before = counter("stt_jobs_total", status="retry")
    fake_openai.fail_next(500, times=10)

    outcomes = [transcription.job_run(str(job.pk)).status for _ in range(5)]

    # STT-06: one job makes at most 4 calls (the first and three retries); a fifth run finds nothing to do.
    assert outcomes == ["retry_wait", "retry_wait", "retry_wait", "dead_letter", "dead_letter"]
    assert len(fake_openai.transcriptions()) == 4
    job.refresh_from_db()
    assert (job.attempts, job.last_error_code, job.last_status_code) == (4, "max_retries", 500)
    assert job.dlq_reason.startswith("500: ") and job.failed_at is not None
    record = CallRecord.objects.get(pk=job.call_record_id)
    assert (record.status, record.error_code, record.stt_attempts) == ("error", "max_retries", 4)
    assert counter("stt_jobs_total", status="retry") - retries_before == 3


@pytest.mark.parametrize(("status", "code"), [(400, "http_400"), (401, "http_401"), (413, "file_too_large")])
def test_a_non_retryable_answer_goes_straight_to_the_dead_letters(stored, fake_openai, status, code):
    job = stored(wav(tone(500, 1.0)))
    fake_openai.fail_next(status)

    assert transcription.job_run(str(job.pk)).status == "dead_letter"

    job.refresh_from_db()
    assert (job.attempts, job.last_error_code, job.last_status_code) == (1, code, status)


def test_the_ladder_waits_the_configured_delays(stored, fake_openai, settings):
    settings.APP_CONFIG = dataclasses.replace(
        settings.APP_CONFIG, stt_retry_delays_s=(10.0, 30.0, 60.0), stt_request_timeout_s=0.3
    )
    job = stored(wav(tone(500, 1.0)))
    fake_openai.slow_seconds = 1.0
    fake_openai.fail_next("timeout")

    before = timezone.now()
    outcome = transcription.job_run(str(job.pk))

    assert (outcome.status, outcome.error_code) == ("retry_wait", "transcription_timeout")
    assert outcome.retry_at is not None
    assert before + timedelta(seconds=10) <= outcome.retry_at <= timezone.now() + timedelta(seconds=10)


def test_dispatch_keeps_to_the_concurrency_and_never_hands_out_a_job_twice(stored, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, transcribe_concurrency=2)
    jobs = [stored(wav(tone(300 + 10 * n, 0.5))) for n in range(5)]
    queued: list[str] = []

    first = transcription_queue.dispatch(enqueue=queued.append)
    again = transcription_queue.dispatch(enqueue=queued.append)
    later = transcription_queue.dispatch(enqueue=queued.append, now=timezone.now() + timedelta(minutes=2))

    assert first == [str(jobs[0].pk), str(jobs[1].pk)]
    assert again == []
    # A hand-out whose task never started (a lost broker message) is handed out again later.
    assert later == first


def test_dispatch_counts_the_jobs_a_dispatch_with_a_later_clock_handed_out_first(stored, settings):
    # Two finishing tasks: the second read the clock first, then waited for the lock the first held.
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, transcribe_concurrency=2)
    jobs = [stored(wav(tone(300 + 10 * n, 0.5))) for n in range(4)]
    queued: list[str] = []
    clock_read = timezone.now()

    first = transcription_queue.dispatch(enqueue=queued.append, now=clock_read + timedelta(milliseconds=50))
    second = transcription_queue.dispatch(enqueue=queued.append, now=clock_read)

    assert first == [str(jobs[0].pk), str(jobs[1].pk)]
    assert second == []


def test_a_job_whose_record_is_gone_is_closed_as_missing_record(stored):
    job = stored(wav(tone(300, 0.5)))
    CallRecord.objects.filter(pk=job.call_record_id).delete()

    outcome = transcription.job_run(str(job.pk))

    job.refresh_from_db()
    assert (outcome.status, job.status, job.last_error_code) == ("skipped", "skipped", "missing_record")


def test_re_transcribing_a_completed_record_replaces_its_transcript(stored, fake_openai, admin_user):
    job = stored(wav(tone(600, 1.0)))
    transcription.job_run(str(job.pk))

    again = dead_letters.record_retranscribe(job.call_record_id, actor=admin_user)
    assert again.pk == job.pk and again.status == "queued"
    assert transcription.job_run(str(job.pk)).status == "succeeded"

    assert Transcript.objects.count() == 1
    assert len(fake_openai.transcriptions()) == 2
    assert TranscriptionJob.objects.get(pk=job.pk).history[-1]["action"] == "retranscribe"


def test_an_open_circuit_gives_the_attempt_back_and_waits_for_the_circuit(stored, fake_openai, settings):
    from urllib.parse import urlsplit

    from integrations.models import CircuitState

    job = stored(wav(tone(500, 1.0)))
    CircuitState.objects.create(
        value=f"openai:{urlsplit(fake_openai.base_url).netloc}",
        state=CircuitState.State.OPEN,
        probe_at=timezone.now() + timedelta(seconds=30),
    )

    before = timezone.now()
    outcomes = [transcription.job_run(str(job.pk)) for _ in range(3)]

    job.refresh_from_db()
    # Refused without a request; the ladder is not spent on refusals (the later runs find it not due).
    assert [o.status for o in outcomes] == ["retry_wait", "retry_wait", "retry_wait"]
    assert [o.worked for o in outcomes] == [True, False, False]
    assert (job.attempts, job.last_error_code) == (0, "integration.unavailable")
    assert job.next_attempt_at >= before + timedelta(seconds=30)
    assert fake_openai.transcriptions() == []


def test_a_task_refused_for_a_full_cap_hands_its_job_back_to_dispatch(stored, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, transcribe_concurrency=1)
    first, second = stored(wav(tone(300, 0.5))), stored(wav(tone(310, 0.5)))
    handed: list[str] = []
    transcription_queue.dispatch(enqueue=handed.append)
    assert handed == [str(first.pk)]
    # A burst: the second job's own task (a due retry, say) arrives while the first job runs.
    TranscriptionJob.objects.filter(pk=first.pk).update(status="running")
    TranscriptionJob.objects.filter(pk=second.pk).update(dispatched_at=timezone.now())

    assert transcription.job_run(str(second.pk)).worked is False
    TranscriptionJob.objects.filter(pk=first.pk).update(status="succeeded")

    assert transcription_queue.dispatch(enqueue=handed.append) == [str(second.pk)]
