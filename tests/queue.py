"""What the tests' django-q2 broker holds, read as a worker would."""

from __future__ import annotations

from django_q.signing import SignedPackage


def queued_tasks(broker) -> list[dict]:
    """Drain the configured broker (the ORM's table or Redis's list) and decode each task package."""
    tasks = []
    while broker.queue_size():
        for _ack, payload in broker.dequeue() or ():
            tasks.append(SignedPackage.loads(payload))
    return tasks
