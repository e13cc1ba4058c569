"""gunicorn settings shared by `manage.py serve` and the Docker image.

With several workers, Prometheus counters live in each process; the
multiprocess directory (PROMETHEUS_MULTIPROC_DIR) lets /metrics sum them.
The access log masks credentials and (with PII_MASKING_ENABLED) phone
numbers in request lines, query strings and referrers.
"""

import os

accesslog = "-"
# gunicorn's most (default 4094): a KMP4 cursor may be 512 characters (the schema's maxLength), which
# percent-encoded as UTF-8 is up to 6 KB of request line; below this the client gets gunicorn's 414,
# not the API's answer.
limit_request_line = 8190
logger_class = "mastermobile.observability.access_log.MaskingLogger"
graceful_timeout = 20


def child_exit(server, worker):  # gunicorn hook
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
