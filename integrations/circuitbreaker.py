"""The circuit breaker of an outbound integration (PLAT-64), shared by all worker processes.

≥ 50 % failed calls among at least 10 within 60 seconds open the circuit for
30 seconds; meanwhile callers are refused without a request.  Then one
half-open probe goes through: its success closes the circuit, its failure
opens it for another 30 seconds.  The state is a ``CircuitState`` row per key,
changed under ``SELECT … FOR UPDATE``, so every process sees the same circuit.
The common case, a success in a closed circuit that does not tip it, is one
guarded ``UPDATE`` instead, so workers do not queue on the row's lock.

A caller asks :meth:`CircuitBreaker.admit` once before a call and reports
:meth:`CircuitBreaker.record` once after it, retries included: a blip that a
retry absorbs is one successful call.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Case, ExpressionWrapper, F, FloatField, PositiveIntegerField, Q, Value, When
from django.utils import timezone

from integrations.models import CircuitState

logger = logging.getLogger(__name__)

FAILURE_RATIO = 0.5
MIN_CALLS = 10
WINDOW = timedelta(seconds=60)
OPEN_FOR = timedelta(seconds=30)

State = CircuitState.State


class Permit(enum.Enum):
    """The answer of :meth:`CircuitBreaker.admit`."""

    CALL = "call"  # closed: an ordinary call
    PROBE = "probe"  # the half-open probe whose outcome closes or re-opens the circuit
    REFUSED = "refused"  # open: do not call


class CircuitBreaker:
    """One circuit per ``key`` (e.g. ``b24:<portal host>``); ``system`` names it in logs (``integration.<system>.…``)."""

    def __init__(self, *, key: str, system: str, now: Callable[[], datetime] = timezone.now):
        self.key = key
        self.system = system
        self.now = now

    def admit(self) -> Permit:
        """May a call go out now?  A closed circuit costs one read and no lock."""
        row = CircuitState.objects.filter(value=self.key).values_list("state", "probe_at").first()
        if row is None or row[0] == State.CLOSED:
            return Permit.CALL
        now = self.now()
        if row[1] is not None and now < row[1]:
            return Permit.REFUSED
        with transaction.atomic():
            circuit = CircuitState.objects.select_for_update().get(value=self.key)
            if circuit.state == State.CLOSED:
                return Permit.CALL
            if circuit.probe_at is not None and now < circuit.probe_at:
                return Permit.REFUSED
            # The probe slot is leased for OPEN_FOR: a probe that never reports back frees it again.
            circuit.state = State.HALF_OPEN
            circuit.probe_at = now + OPEN_FOR
            circuit.save(update_fields=["state", "probe_at"])
        return Permit.PROBE

    def record(self, *, ok: bool, permit: Permit) -> None:
        """Count the outcome of one admitted call; open or close the circuit when it tips."""
        now = self.now()
        if ok and permit is Permit.CALL and self._count_success(now):
            return
        with transaction.atomic():
            circuit, _ = CircuitState.objects.select_for_update().get_or_create(
                value=self.key, defaults={"window_started": now}
            )
            event: str | None
            if circuit.state == State.HALF_OPEN and permit is Permit.PROBE:
                event = self._close(circuit, now) if ok else self._open(circuit, now)
            elif circuit.state == State.CLOSED:
                event = self._count(circuit, now, ok)
            else:
                # A call admitted before the circuit opened, or a stale probe: it changes nothing.
                return
            circuit.save()
        if event:
            self._log(event, circuit, probe=permit is Permit.PROBE)

    def _count_success(self, now: datetime) -> bool:
        """One success in a closed circuit, counted in one ``UPDATE``; False when that is not the case at hand.

        The ``UPDATE`` applies only when the row exists, the circuit is closed
        and one more success cannot open it (a success can: the tenth call of a
        window with five failures); everything else takes the locked path of
        :meth:`record`.  The database evaluates the condition and the new
        counts on the row as it is when the statement runs, so concurrent
        successes are all counted.
        """
        expired = Q(window_started__lte=now - WINDOW)
        cannot_tip = Q(calls__lt=MIN_CALLS - 1) | Q(
            failures__lt=ExpressionWrapper((F("calls") + 1) * FAILURE_RATIO, output_field=FloatField())
        )
        counted = CircuitState.objects.filter(Q(value=self.key, state=State.CLOSED) & (expired | cannot_tip)).update(
            window_started=Case(When(expired, then=Value(now)), default=F("window_started")),
            calls=Case(When(expired, then=Value(1)), default=F("calls") + 1, output_field=PositiveIntegerField()),
            failures=Case(When(expired, then=Value(0)), default=F("failures"), output_field=PositiveIntegerField()),
        )
        return counted == 1

    def _count(self, circuit: CircuitState, now: datetime, ok: bool) -> str | None:
        if now - circuit.window_started >= WINDOW:
            circuit.window_started, circuit.calls, circuit.failures = now, 0, 0
        circuit.calls += 1
        circuit.failures += 0 if ok else 1
        if circuit.calls >= MIN_CALLS and circuit.failures >= FAILURE_RATIO * circuit.calls:
            return self._open(circuit, now)
        return None

    @staticmethod
    def _open(circuit: CircuitState, now: datetime) -> str:
        circuit.state = State.OPEN
        circuit.probe_at = now + OPEN_FOR
        return "circuit_open"

    @staticmethod
    def _close(circuit: CircuitState, now: datetime) -> str:
        circuit.state = State.CLOSED
        circuit.probe_at = None
        circuit.window_started, circuit.calls, circuit.failures = now, 0, 0
        return "circuit_closed"

    def _log(self, event: str, circuit: CircuitState, *, probe: bool) -> None:
        name = f"integration.{self.system}.{event}"
        logger.log(
            logging.WARNING if event == "circuit_open" else logging.INFO,
            name,
            extra={
                "event": name,
                "key": self.key,
                "probe": probe,
                "calls": circuit.calls,
                "failures": circuit.failures,
                "open_seconds": OPEN_FOR.total_seconds() if event == "circuit_open" else None,
            },
        )
