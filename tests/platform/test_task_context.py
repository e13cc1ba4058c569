"""Tasks enqueued during a request carry its id as correlation id (PLAT-20)."""

import pytest
from django_q.tasks import async_task, result

from mastermobile.observability.context import request_id_var

pytestmark = pytest.mark.django_db


def test_a_task_runs_with_the_request_id_that_enqueued_it():
    token = request_id_var.set("req-from-api-7")
    try:
        task_id = async_task("mastermobile.q.current_correlation_id_task", sync=True)
    finally:
        request_id_var.reset(token)

    assert result(task_id) == "req-from-api-7"


def test_a_task_without_a_request_gets_its_own_id():
    task_id = async_task("mastermobile.q.current_correlation_id_task", sync=True)

    assert result(task_id) == f"task-{task_id}"


def test_the_context_is_restored_after_the_task():
    async_task("mastermobile.q.current_correlation_id_task", sync=True)

    assert request_id_var.get() is None
