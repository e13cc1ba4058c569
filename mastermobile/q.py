"""django-q2 configuration and the schedules every app registers.

Broker choice (PLAT-03):
- ``orm`` (default): tasks are rows in the project's own database.  Nothing
  else to run, which is what ``make run`` on a bare machine needs; it is fine
  for the volumes of one back-office (thousands of tasks a day).
- ``redis`` (``Q_BROKER=redis``): the scale-out path used by docker compose and
  CI.  Lower latency and no polling load on the database when several worker
  containers share the queue.

Results and schedules always live in the database, so the admin shows them
whichever broker carries the messages.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from mastermobile.config import AppConfig

logger = logging.getLogger(__name__)

QUEUE_NAME = "mastermobile"
# The cache alias and table where the ORM broker's clusters publish their status.
CLUSTER_CACHE = "cluster"
CLUSTER_CACHE_TABLE = "mastermobile_cluster_status"
# Schedules that run every few minutes whether or not there is work; django-q2's
# own lines about them are logged at DEBUG (observability.logging.QuietTasksFilter).
HOUSEKEEPING_TASKS = (
    "calls.supervise_runs",
    "calls.tasks.supervise_runs",
    "idempotency.prune_expired",
    "mastermobile.api.idempotency.prune_expired_records",
    "integrations.outbox_sweep",
    "integrations.tasks.outbox_sweep",
)


def build_q_cluster(config: AppConfig) -> dict:
    cluster = {
        "name": QUEUE_NAME,
        "workers": config.q_workers,
        # A task that runs longer than this is killed; retry must be larger
        # so that a slow task is not picked up twice.
        "timeout": 1800,
        "retry": 1860,
        "max_attempts": 3,
        "queue_limit": 50,
        "bulk": 10,
        "catch_up": False,
        "save_limit": 1000,
        # The admin's name of django-q2's app; lazy, so that it follows the staff's language.
        "label": _("Task queue"),
        "ack_failures": True,
        # Cron schedules (CALL_EXPORT_CRON) are UTC, whatever TIME_ZONE shows staff.
        "time_zone": "UTC",
    }
    if config.uses_redis_broker:
        cluster["redis"] = {"host": config.redis_host, "port": config.redis_port, "db": config.redis_db}
    else:
        cluster["orm"] = "default"
        cluster["poll"] = 0.5
        cluster["cache"] = CLUSTER_CACHE
    return cluster


@dataclass(frozen=True)
class ScheduleSpec:
    """A recurring task an app needs; created or updated after every migrate."""

    name: str
    func: str
    minutes: int | None = None
    cron: str | None = None


def ensure_schedules(specs: list[ScheduleSpec]) -> None:
    """Create or update the named schedules (idempotent; run on post_migrate)."""
    from django_q.models import Schedule

    for spec in specs:
        if spec.cron:
            defaults = {"func": spec.func, "schedule_type": Schedule.CRON, "cron": spec.cron, "minutes": None}
        else:
            defaults = {"func": spec.func, "schedule_type": Schedule.MINUTES, "minutes": spec.minutes, "cron": None}
        Schedule.objects.update_or_create(name=spec.name, defaults={**defaults, "repeats": -1})


def cluster_running() -> bool:
    """True when a django-q2 cluster has published its status recently, seen from any process.

    Redis carries the status itself; the ORM broker keeps it in the shared
    database cache (``CLUSTER_CACHE``), so a command in another terminal sees
    the worker that ``make run`` started.
    """
    from django_q.status import Stat

    try:
        return bool(Stat.get_all())
    except Exception:  # broker down or the cache table not migrated: no cluster to hand work to
        logger.debug("q.cluster_status_unavailable", exc_info=True)
        return False


def ping_task(value: str) -> str:
    """A trivial task used by `manage.py q_ping` and tests to prove a worker runs."""
    logger.info("q.ping", extra={"event": "q.ping", "value": value})
    return f"pong:{value}"


def carry_correlation_id(sender: str, task: dict, **kwargs: object) -> None:
    """pre_enqueue: a task started by a request remembers the request id (PLAT-20)."""
    from mastermobile.observability.context import current_request_id

    if not task.get("correlation_id"):
        task["correlation_id"] = current_request_id()


def enter_task_context(sender: str, func: object, task: dict, **kwargs: object) -> None:
    """pre_execute (in the worker): log lines of the task carry its correlation id."""
    from mastermobile.observability.context import request_id_var

    task["_context_token"] = request_id_var.set(task.get("correlation_id") or f"task-{task['id']}")
    task["_monotonic_start"] = time.monotonic()


def leave_task_context(sender: str, func: object, task: dict, **kwargs: object) -> None:
    """post_execute_in_worker: restore the context and record the task's duration."""
    from mastermobile.observability.context import request_id_var
    from mastermobile.observability.metrics import BACKGROUND_TASK_DURATION

    token = task.pop("_context_token", None)
    if token is not None:
        request_id_var.reset(token)
    started = task.pop("_monotonic_start", None)
    if started is not None:
        status = "success" if task.get("success", False) else "failure"
        BACKGROUND_TASK_DURATION.labels(task_name=str(task.get("func")), status=status).observe(
            time.monotonic() - started
        )


def connect_task_signals() -> None:
    from django_q.signals import post_execute_in_worker, pre_enqueue, pre_execute

    pre_enqueue.connect(carry_correlation_id, dispatch_uid="mastermobile.carry_correlation_id")
    pre_execute.connect(enter_task_context, dispatch_uid="mastermobile.enter_task_context")
    post_execute_in_worker.connect(leave_task_context, dispatch_uid="mastermobile.leave_task_context")


def current_correlation_id_task() -> str | None:
    """A task that reports the id its log lines carry (used by tests and `q_ping`)."""
    from mastermobile.observability.context import current_request_id

    return current_request_id()
