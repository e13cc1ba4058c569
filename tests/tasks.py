"""Tasks that tests enqueue on a real worker; the application never does."""

from __future__ import annotations

import os
import time

from mastermobile.observability import metrics


def count_pipeline_outcome() -> int:
    """Move every pipeline family the worker exports once, and say which process ran the task."""
    metrics.STT_JOBS.labels(status="success").inc()
    metrics.STT_JOB_DURATION.observe(2.5)
    metrics.CALL_EXPORT_RUNS.labels(status="completed").inc()
    metrics.CALL_EXPORT_SUCCESS.inc()
    metrics.CALL_EXPORT_DURATION.labels(status="completed").observe(120)
    metrics.CALL_TRANSCRIPTS.labels(status="completed").inc()
    metrics.CALL_TRANSCRIPTION_MINUTES.inc(3)
    metrics.CALL_EXPORT_COST.inc(0.25)
    metrics.CALL_EXPORT_RETRY.labels(stage="transcribe").inc()
    metrics.CALL_EXPORT_TRANSCRIBE_FAILURES.labels(code="429").inc()
    metrics.CALL_EXPORT_QA_CHECKED.inc()
    metrics.EVENTS_DLQ.labels(event_type="call_export").inc()
    metrics.INTEGRATION_FAILURES.labels(system="openai", reason="rate_limited", retry_stage="transcribe").inc()
    # Busy long enough that the next task goes to another worker process.
    time.sleep(0.5)
    return os.getpid()
