"""gunicorn settings shared by `manage.py serve` and the Docker image.

With several workers, Prometheus counters live in each process; the
multiprocess directory (PROMETHEUS_MULTIPROC_DIR) lets /metrics sum them.
The access log masks credentials and (with PII_MASKING_ENABLED) phone
numbers in request lines, query strings and referrers.
"""

import os

accesslog = "-"
logger_class = "mastermobile.observability.access_log.MaskingLogger"
graceful_timeout = 20


def child_exit(server, worker):  # gunicorn hook
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
