"""Structured logs, request ids in log lines, PII masking and secret redaction (PLAT-50…52)."""

import io
import json
import logging

import pytest

from mastermobile.observability.logging import JsonFormatter, RedactionFilter, RequestContextFilter
from tests.processes import manage, process_env


@pytest.fixture
def captured():
    """Attach a handler built like the production one and yield a reader of its JSON lines."""

    def attach(mask_pii: bool, secrets=("jwt-secret-value-xyz",)):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter(service="mastermobile", environment="test"))
        handler.addFilter(RequestContextFilter())
        handler.addFilter(RedactionFilter(secrets=secrets, mask_pii=mask_pii))
        logger = logging.getLogger("tests.capture")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        handlers.append((logger, handler))

        def lines():
            return [json.loads(line) for line in stream.getvalue().splitlines()]

        return logger, lines

    handlers: list[tuple[logging.Logger, logging.Handler]] = []
    yield attach
    for logger, handler in handlers:
        logger.removeHandler(handler)


def test_phone_numbers_and_emails_are_masked_in_messages(captured):
    logger, lines = captured(mask_pii=True)

    logger.info("call from +7 916 123-45-67 for ivan.petrov@example.com")

    message = lines()[0]["message"]
    assert "916" not in message
    assert "+7***" in message
    assert "i***@example.com" in message


def test_sensitive_structured_fields_are_masked_nested_included(captured):
    logger, lines = captured(mask_pii=True)

    logger.info(
        "call.synced",
        extra={"call": {"from": "+79161234567", "to": "84951234567", "duration": 42}, "email": "a.b@example.com"},
    )

    line = lines()[0]
    assert line["call"] == {"from": "+7***", "to": "84***", "duration": 42}
    assert line["email"] == "a***@example.com"


def test_nothing_is_masked_when_the_flag_is_off(captured):
    logger, lines = captured(mask_pii=False)

    logger.info("call from +79161234567", extra={"phone": "+79161234567"})

    line = lines()[0]
    assert "+79161234567" in line["message"]
    assert line["phone"] == "+79161234567"


def test_secrets_are_removed_even_when_masking_is_off(captured):
    logger, lines = captured(mask_pii=False)

    logger.warning(
        "calling https://portal.example/rest/1/abc123token/voximplant.statistic.get.json with %s",
        "jwt-secret-value-xyz",
        extra={"headers": {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig"}, "password": "pw"},
    )

    line = lines()[0]
    assert "abc123token" not in line["message"]
    assert "/rest/1/***/" in line["message"]
    assert "jwt-secret-value-xyz" not in line["message"]
    assert line["headers"]["Authorization"] == "***"
    assert line["password"] == "***"


def test_order_ids_and_timestamps_are_not_mistaken_for_phones(captured):
    logger, lines = captured(mask_pii=True)

    logger.info("order 12345 at 2026-11-25T10:00:00Z, return 3f2b9c2e-1d5e-4f7a-9c1b-0e8d7a6b5c4d")

    assert lines()[0]["message"] == "order 12345 at 2026-11-25T10:00:00Z, return 3f2b9c2e-1d5e-4f7a-9c1b-0e8d7a6b5c4d"


def test_a_json_line_carries_the_contract_fields(captured):
    logger, lines = captured(mask_pii=False)

    logger.info("returns.created", extra={"event": "returns.created", "return_id": "r-1"})

    line = lines()[0]
    assert line["level"] == "INFO"
    assert line["service"] == "mastermobile"
    assert line["environment"] == "test"
    assert line["logger"] == "tests.capture"
    assert line["event"] == "returns.created"
    assert line["timestamp"].endswith("Z")


@pytest.mark.django_db
def test_log_lines_of_a_request_carry_its_request_id(captured, client, monkeypatch):
    logger, lines = captured(mask_pii=False)
    monkeypatch.setattr("mastermobile.system.check_stt", lambda: logger.info("stt.checked") or "disabled")

    client.get("/health?deep=1", HTTP_X_REQUEST_ID="req-abc-123")

    assert lines()[0]["request_id"] == "req-abc-123"


@pytest.mark.slow
def test_the_configured_logging_masks_real_process_output():
    """The settings' own LOGGING, in a real process, with masking on."""
    code = (
        "import logging; logging.getLogger('mastermobile.demo').info("
        "'sms to +79161234567', extra={'event': 'demo', 'token': 'tok-123', 'address': 'Moscow, Tverskaya 1'})"
    )
    env = process_env(
        APP_ENV="staging", PII_MASKING_ENABLED="true", LOG_LEVEL="INFO", DATABASE_URL="sqlite:///:memory:"
    )

    result = manage("shell", "-c", code, env=env)

    assert result.returncode == 0, result.stderr
    line = next(json.loads(text) for text in result.stderr.splitlines() if '"demo"' in text)
    assert line["message"] == "sms to +7***"
    assert line["token"] == "***"
    assert line["address"] == "Mo***"
    assert line["environment"] == "staging"


def test_django_q_lines_about_housekeeping_schedules_are_debug_not_info(caplog):
    import logging

    from mastermobile.observability.logging import QuietTasksFilter
    from mastermobile.q import HOUSEKEEPING_TASKS

    quiet = QuietTasksFilter(HOUSEKEEPING_TASKS)
    logger = logging.getLogger("django-q")

    def passes(message: str) -> bool:
        return quiet.filter(logger.makeRecord("django-q", logging.INFO, __file__, 1, message, (), None))

    with caplog.at_level(logging.INFO, logger="django-q"):
        assert not passes("Enqueued [mastermobile] 1")
        assert not passes("Process-1 created task a-b-c-d from schedule [calls.supervise_runs]")
        assert not passes("Processed 'calls.tasks.supervise_runs' (a-b-c-d)")
        assert passes("Processed 'calls.tasks.list_calls' (e-f-g-h)")
    with caplog.at_level(logging.DEBUG, logger="django-q"):
        assert passes("Processed 'calls.tasks.supervise_runs' (a-b-c-d)")
