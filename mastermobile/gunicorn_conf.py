"""gunicorn settings shared by `manage.py serve` and the Docker image.

With several workers, Prometheus counters live in each process; the
multiprocess directory (PROMETHEUS_MULTIPROC_DIR) lets /metrics sum them.
"""

import os

accesslog = "-"
graceful_timeout = 20


def child_exit(server, worker):  # gunicorn hook
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
