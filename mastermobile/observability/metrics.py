"""Prometheus metric families of the service (PLAT-53, PLAT-54, STT-41).

django-prometheus adds its own ``django_db_*`` and ``django_model_*`` families (its
HTTP middleware is not installed: requests are counted here, once);
the names below are the ones the specification and dashboards use.  States
read at scrape time (queue depth and lag, the oldest running export) are
collectors in :mod:`mastermobile.observability.collectors`, not families here.

gunicorn and the worker run in multiprocess mode: every process writes its
own file and a scrape sums them.  Counters and histograms need nothing more.
A Gauge added here needs a ``multiprocess_mode`` (``max``, ``min``,
``mostrecent``; the ``live*`` modes would need ``mark_process_dead`` for every
django-q2 worker that is recycled, which only gunicorn's hook does).
"""

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests by method, status code and route template.", ["method", "status_code", "path"]
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by method, status code and route template.",
    ["method", "status_code", "path"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BACKGROUND_TASK_DURATION = Histogram(
    "background_tasks_duration_seconds", "Duration of django-q2 tasks.", ["task_name", "status"]
)
INTEGRATION_FAILURES = Counter(
    "integration_failures_total", "Failed calls to external systems.", ["system", "reason", "retry_stage"]
)
# PLAT-54 names the label event_type, STT-41 queue: it stays event_type, which the pipeline counts with call_export.
EVENTS_DLQ = Counter("events_dlq_total", "Events moved to the dead-letter state.", ["event_type"])
# EVT-03: one per subscriber kind (webhook, b24_task) and attempt outcome (success, failure).
EVENTS_DELIVERED = Counter(
    "events_delivered_total", "Outbox deliveries by subscriber kind and result.", ["subscriber", "result"]
)

# Spec 03, STT-41: the call export and transcription pipeline, on the worker exporter.
STT_JOBS = Counter("stt_jobs_total", "Transcription job outcomes and retries.", ["status"])
STT_JOB_DURATION = Histogram("stt_job_duration_seconds", "Time from pick-up to the end of one transcription job.")
CALL_EXPORT_RUNS = Counter("call_export_runs_total", "Finished call export runs by final status.", ["status"])
CALL_EXPORT_SUCCESS = Counter(
    "call_export_success_total", "Records ending completed, or skipped by design (SLO numerator)."
)
CALL_EXPORT_DURATION = Histogram(
    "call_export_duration_seconds",
    "Wall time of finished call export runs.",
    ["status"],
    buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400),
)
CALL_TRANSCRIPTS = Counter("call_transcripts_total", "Call record outcomes.", ["status"])
CALL_TRANSCRIPTION_MINUTES = Counter("call_transcription_minutes_total", "Billable transcription minutes.")
CALL_EXPORT_COST = Counter("call_export_cost_total", "USD spent on transcription.")
CALL_EXPORT_RETRY = Counter("call_export_retry_total", "Retries of the call export by stage.", ["stage"])
CALL_EXPORT_TRANSCRIBE_FAILURES = Counter(
    "call_export_transcribe_failures_total", "Transcription provider failures by code.", ["code"]
)
CALL_EXPORT_QA_CHECKED = Counter("call_export_qa_checked_total", "QA sample items reviewed.")

# Spec 04, WW-05: every order status change asked for; result is "ok" or "refused" (not allowed from there).
WW_ORDER_TRANSITIONS = Counter(
    "ww_order_status_transitions_total", "Walking Warehouse order status changes.", ["from", "to", "result"]
)

# The label values STT-41 documents (runs end completed, error or cancelled).
# Families with open label sets (provider codes, integration failures, task
# names) get a series at their first increment.
DOCUMENTED_LABELS = (
    (STT_JOBS, "status", ("success", "retry", "dlq", "missing_record", "skipped")),
    (CALL_EXPORT_RUNS, "status", ("completed", "error", "cancelled")),
    (CALL_EXPORT_DURATION, "status", ("completed", "error", "cancelled")),
    (CALL_TRANSCRIPTS, "status", ("completed", "error", "missing_audio", "skipped")),
    (CALL_EXPORT_RETRY, "stage", ("fetch_calls", "download", "transcribe")),
    (EVENTS_DLQ, "event_type", ("call_export",)),
)


def export_documented_series() -> None:
    """Create every documented label set, so that each series is exported at 0 before it first moves.

    A series that appears only at its first increment hides that increment
    from ``rate()`` and ``increase()``.  The worker calls this once, before
    django-q2 forks its processes: in multiprocess mode the zeros land in the
    worker's own file, and each forked process counts in a file of its own.
    """
    for family, label, values in DOCUMENTED_LABELS:
        for value in values:
            family.labels(**{label: value})
