"""Prometheus metric families of the service (PLAT-53, PLAT-54).

django-prometheus adds its own ``django_http_*`` and ``django_db_*`` families;
the names below are the ones the specification and dashboards use.
"""

from prometheus_client import Counter, Gauge, Histogram

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
QUEUE_LAG = Gauge("queue_lag_seconds", "Age of the oldest queued task.", ["queue_name"])
EVENTS_DLQ = Counter("events_dlq_total", "Events moved to the dead-letter state.", ["event_type"])
