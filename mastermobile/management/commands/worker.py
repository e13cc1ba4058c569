"""The django-q2 cluster plus its Prometheus exporter on WORKER_METRICS_HOST:WORKER_METRICS_PORT.

The exporter answers like the web app's /metrics: GET or HEAD, from
METRICS_ALLOWED_IPS or with the METRICS_TOKEN bearer token.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mastermobile.management.ports import ListenAddress
from mastermobile.observability.collectors import metrics_registry
from mastermobile.observability.metrics import export_documented_series
from mastermobile.observability.metrics_access import MetricsAccess, start_metrics_server
from mastermobile.observability.multiprocess import fresh_directory
from mastermobile.q import QUEUE_NAME


class Command(BaseCommand):
    help = "Run the django-q2 cluster and serve its metrics at http://WORKER_METRICS_HOST:WORKER_METRICS_PORT/metrics."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-metrics", action="store_true", help="run the cluster without the exporter")

    def handle(self, *args, no_metrics: bool, **options) -> None:
        if not no_metrics:
            if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
                # prometheus_client picks multiprocess mode at import time, so
                # restart this command with the directory set from the start.
                # execv keeps the pid, so the directory stays this process's.
                directory = fresh_directory(Path(settings.VAR_DIR) / "prometheus", "worker", owner_pid=os.getpid())
                os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
                os.execv(sys.executable, [sys.executable, *sys.argv])
            config = settings.APP_CONFIG
            export_documented_series()
            try:
                start_metrics_server(
                    host=config.worker_metrics_host,
                    port=config.worker_metrics_port,
                    registry=metrics_registry(QUEUE_NAME),
                    access=MetricsAccess.from_config(config),
                )
            except OSError as error:
                raise CommandError(ListenAddress.worker_metrics(config).failure_message(error)) from None
            self.stdout.write(
                f"worker metrics on http://{config.worker_metrics_host}:{config.worker_metrics_port}/metrics"
            )
        call_command("qcluster")
