"""schemathesis against a live server: no input gives a 5xx or an answer the OpenAPI schema does not allow.

The app runs as in production (gunicorn, two workers, DEBUG off) with the demo
data of ``seed_demo`` on a throw-away database of the suite's kind: a SQLite
file, or, when the run's ``DATABASE_URL`` is PostgreSQL, a database named after
the run's with ``_fuzz`` appended, created here and dropped afterwards, failed
or not (``tests.processes.scratch_database``).  PostgreSQL refuses what SQLite
stores: text beyond ``max_length``, NUL characters, integers beyond ``integer``.
schemathesis reads ``/api/schema/`` and runs its coverage, fuzzing and stateful phases over
every operation with every check (but ``use_after_free``, see :func:`fuzz_config`),
sending real JWTs from ``issue_token`` and taking turns between the three roles.  Failures are reported one line each
(operation, check, status, cause, how to reproduce); the cause of a 5xx comes
from the server's own log line for the request id.

Run it alone with ``.venv/bin/python -m pytest -p no:cacheprovider tests/platform/test_fuzzing.py -rw``;
``FUZZ_SEED=<n>`` explores other inputs than CI's fixed seed.  docs/security.md has the numbers.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.conf import settings
from schemathesis.engine import events, from_schema

from tests.processes import GUNICORN, free_port, http_get, manage, process_env, scratch_database

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("FUZZ_SEED", "20261201"))
MAX_EXAMPLES = 25  # generated cases per operation in the fuzzing phase; the whole test takes about 1.5 minutes
MAX_STEPS = 6  # per stateful scenario
JWT_SECRET = "fuzz-secret-" + "0123456789abcdef" * 3
# The demo couriers exist (seed_demo), so the courier token belongs to a real, active courier.
SUBJECTS = {"admin": "fuzz-admin", "1c": "fuzz-1c", "courier": "courier-001"}
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b.*")


@dataclass(frozen=True)
class KnownFailure:
    """A failure already reported and being fixed elsewhere: its operation, check code and a text of its cause."""

    operation: str
    check: str
    cause: str
    reason: str

    def matches(self, finding: Finding) -> bool:
        return (
            finding.operation == self.operation and finding.check.startswith(self.check) and self.cause in finding.cause
        )


# TEMPORARY: failures of issue 8 that other changes fix ("strict call-export input");
# delete each entry when its fix lands, and never add one for a failure nobody is fixing.
KNOWN_FAILURES: tuple[KnownFailure, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One distinct failure: where, which check, what the server answered and why."""

    operation: str
    check: str
    status: int | None
    cause: str
    reproduce: str = field(compare=False)

    def line(self) -> str:
        return f"{self.operation} | {self.check} | {self.status} | {self.cause}\n    {self.reproduce}"


@dataclass
class AppServer:
    url: str
    tokens: dict[str, str]
    log: Path

    def causes(self) -> dict[str, str]:
        """request id -> the last line of the exception the server logged for it."""
        found = {}
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("exception") and record.get("request_id"):
                found[record["request_id"]] = exception_line(record["exception"])
        return found


def exception_line(traceback: str) -> str:
    """``RecursionError: maximum recursion depth exceeded`` out of a logged traceback."""
    lines = [line for line in traceback.splitlines() if EXCEPTION_LINE.match(line)]
    return lines[-1] if lines else traceback.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def database_url(tmp_path_factory, django_db_setup) -> Iterator[str]:
    with scratch_database("fuzz", tmp_path_factory.mktemp("fuzz-database")) as url:
        yield url


@pytest.fixture(scope="module")
def app_server(tmp_path_factory, database_url) -> Iterator[AppServer]:
    directory = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    env = process_env(
        DATABASE_URL=database_url,
        JWT_SECRET=JWT_SECRET,
        DJANGO_DEBUG="false",
        LOG_FORMAT="json",
        LOG_LEVEL="WARNING",
        # The limit has its own tests; here a 429 would only hide what the fuzzer sends.
        API_THROTTLE_RATE="1000000/min",
    )
    for command in (("migrate", "--noinput"), ("seed_demo",)):
        done = manage(*command, env=env)
        assert done.returncode == 0, done.stderr
    tokens = {}
    for role, subject in SUBJECTS.items():
        issued = manage("issue_token", "--role", role, "--subject", subject, "--minutes", "60", env=env)
        assert issued.returncode == 0, issued.stderr
        tokens[role] = issued.stdout.strip()
    log = directory / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [*GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", "2", "--access-logfile", "/dev/null"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=output,
            stderr=output,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        http_get(f"{url}/health")
        yield AppServer(url=url, tokens=tokens, log=log)
    finally:
        server.terminate()
        server.wait(timeout=30)


def fuzz_config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # One thread: schemathesis imports modules lazily, and pytest rewrites them with CPython 3.11's
            # parser, which is not safe from two threads at once ("AST constructor recursion depth mismatch").
            "workers": 1,
            "cache": {"enabled": False},
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "phases": {
                "examples": {"enabled": False},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True, "max-steps": MAX_STEPS},
            },
            "checks": {
                # DELETE cancels a return (RET-16): the cancelled return stays readable, as documented.
                "use_after_free": {"enabled": False},
            },
            "operations": [
                {
                    # period_to before period_from is a rule between two fields, which JSON Schema cannot state.
                    "include-operation-id": "call_exports_start",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "3xx", 400, 401, 403, 404, 409, 422, 429, "5xx"]
                        }
                    },
                },
                *(
                    {
                        # EXP-04/05: an inverted range is 400 `Invalid period range` / `Invalid date range`.
                        "include-operation-id": operation_id,
                        "checks": {
                            "positive_data_acceptance": {"expected-statuses": ["2xx", 400, 401, 403, 422, 429, "5xx"]}
                        },
                    }
                    for operation_id in ("call_registry", "b24_calls_export_csv", "b24_calls_export_json")
                ),
                *(
                    {
                        # Rules between fields or against stored state: the delivery report's date range (400), a
                        # KMP4 cursor only the export gives out (400), an order total not below its lines, a paid
                        # amount only for DONE, a reason to decline, lines for every movement but an unload, a status move
                        # the order's current status does not allow (422).
                        "include-operation-id": operation_id,
                        "checks": {
                            "positive_data_acceptance": {
                                "expected-statuses": ["2xx", 400, 401, 403, 404, 409, 422, 429, "5xx"]
                            }
                        },
                    }
                    for operation_id in (
                        "ww_report_deliveries",
                        "ww_export_kmp4",
                        "ww_orders_create",
                        "ww_orders_update",
                        "ww_orders_status",
                        "ww_orders_assign",
                        "ww_stock_move",
                    )
                ),
            ],
        }
    )


@dataclass
class Run:
    findings: set[Finding] = field(default_factory=set)
    cases: Counter = field(default_factory=Counter)
    operations: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def fuzz(server: AppServer) -> Run:
    schema = schemathesis.openapi.from_url(f"{server.url}/api/schema/", config=fuzz_config())
    roles = itertools.cycle(sorted(server.tokens))

    @schema.auth()
    class TakeTurnsBetweenRoles:
        def get(self, case: Any, context: Any) -> dict[str, str]:
            return server.tokens

        def set(self, case: Any, data: dict[str, str], context: Any) -> None:
            case.headers["Authorization"] = f"Bearer {data[next(roles)]}"

    run = Run()
    started = time.monotonic()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
            run.cases[event.phase.value] += len(event.recorder.cases)
            if event.label:
                run.operations.add(event.label)
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    run.findings.add(finding(event.recorder, case_id, check.failure_info, server))
        elif isinstance(event, events.NonFatalError):
            run.errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            run.errors.append(repr(event.exception))
    run.seconds = time.monotonic() - started
    return run


def finding(recorder: Any, case_id: str, info: Any, server: AppServer) -> Finding:
    failure = info.failure
    interaction = recorder.interactions.get(case_id)
    response = interaction.response if interaction is not None else None
    status = response.status_code if response is not None else None
    cause = failure.message.strip().splitlines()[0] if failure.message.strip() else failure.title
    if status is not None and status >= 500:
        cause = server.causes().get(_request_id(response) or "", "no exception logged for this request id")
    operation = recorder.cases[case_id].value.operation.label
    reproduce = info.code_sample.splitlines()[-1] if info.code_sample else ""
    return Finding(operation, f"{failure.code} {failure.title}", status, cause, reproduce[:600])


def _request_id(response: Any) -> str | None:
    try:
        return json.loads(response.content).get("request_id")
    except (ValueError, AttributeError):
        return response.headers.get("X-Request-Id", [None])[0]


def test_no_input_gives_a_server_error_or_an_answer_the_schema_does_not_allow(app_server):
    run = fuzz(app_server)

    known = sorted((f for f in run.findings if any(k.matches(f) for k in KNOWN_FAILURES)), key=str)
    unknown = sorted((f for f in run.findings if f not in known), key=str)
    summary = (
        f"schemathesis {schemathesis.__version__}, seed {SEED}: {len(run.operations)} operations, "
        f"{sum(run.cases.values())} cases ({', '.join(f'{p} {n}' for p, n in sorted(run.cases.items()))}) "
        f"in {run.seconds:.0f} s; {len(run.findings)} distinct failures, {len(known)} of them known"
    )
    sys.stdout.write(summary + "\n")
    for item in known:
        reason = next(k.reason for k in KNOWN_FAILURES if k.matches(item))
        warnings.warn(f"known failure ({reason}): {item.line()}", stacklevel=1)
    assert not run.errors, "\n".join(run.errors)
    assert len(run.operations) == len(schema_operations(app_server)), summary
    assert not unknown, summary + "\n" + "\n".join(item.line() for item in unknown)


def schema_operations(server: AppServer) -> list[str]:
    schema = json.loads(http_get(f"{server.url}/api/schema/?format=json"))
    return [f"{method.upper()} {path}" for path, item in schema["paths"].items() for method in item]
