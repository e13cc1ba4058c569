"""Logs without credentials or phone numbers: gunicorn's access log, URLs and database errors (issue 8)."""

from __future__ import annotations

import io
import logging
import re
import signal
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import DataError, connection, transaction

from mastermobile.api.authentication import issue_token
from mastermobile.observability.access_log import MaskingLogger
from mastermobile.observability.logging import JsonFormatter, RedactionFilter, Redactor
from tests.processes import free_port, http_get, manage, process_env

JWT_SECRET = "log-test-jwt-secret-" + "0123456789abcdef" * 2
PHONE = "+79161234567"
EMAIL = "ivan.petrov@example.com"


def capture(mask_pii: bool = True) -> tuple[logging.Logger, io.StringIO]:
    """A logger whose handler is built like the console handler of settings.LOGGING."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(environment="test"))
    handler.addFilter(RedactionFilter(secrets=("jwt-secret-value-xyz",), mask_pii=mask_pii))
    logger = logging.getLogger(f"tests.logs.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.addHandler(handler)
    return logger, stream


def test_credentials_in_a_query_string_are_replaced_whatever_masking_says():
    jwt = issue_token(subject="s", role="admin", lifetime=timedelta(minutes=5), secret="k" * 32, issuer="mm")
    query = f"access_token={jwt}&auth=opensesame1&token=tok-123&key=k-456&password=pw&secret=s3&x-api-key=a1&page=2"

    masked = Redactor(mask_pii=False).query(query)

    assert masked == ("access_token=***&auth=***&token=***&key=***&password=***&secret=***&x-api-key=***&page=2")


def test_phone_numbers_and_emails_in_a_query_string_are_masked_when_masking_is_on():
    query = "phone=%2B79161234567&q=call+from+%2B7+916+123-45-67&email=ivan.petrov%40example.com&status=new"

    masked = Redactor(mask_pii=True).query(query)

    assert "916" not in masked and "ivan.petrov" not in masked
    assert masked.startswith("phone=+7***&q=call from +7***&email=i***@example.com")
    assert masked.endswith("&status=new")


def test_the_access_log_masks_request_line_query_referer_and_credential_headers():
    logger = MaskingLogger.__new__(MaskingLogger)
    logger.redactor = Redactor(mask_pii=True)

    assert logger.mask("r", "GET /api/v1/returns?token=abc&phone=%2B79161234567 HTTP/1.1") == (
        "GET /api/v1/returns?token=***&phone=+7*** HTTP/1.1"
    )
    assert logger.mask("q", "auth=abc&page=1") == "auth=***&page=1"
    assert (
        logger.mask("f", "https://mm.example/admin/?access_token=abc") == "https://mm.example/admin/?access_token=***"
    )
    assert logger.mask("{authorization}i", "Bearer eyJ.x.y") == "***"
    assert logger.mask("{cookie}i", "sessionid=abc") == "***"
    assert logger.mask("s", "200") == "200"


def test_a_database_error_is_logged_without_the_values_of_the_failed_statement():
    logger, stream = capture()
    message = (
        "unsupported Unicode escape sequence\n"
        "DETAIL:  \\u0000 cannot be converted to text.\n"
        f'CONTEXT:  JSON data, line 1: {{"phone": "{PHONE}", "contact": "{EMAIL}", "note": "a\\u0000...\n'
        f'unnamed portal parameter $7 = \'{{"phone": "{PHONE}"}}\''
    )

    try:
        raise DataError(message)
    except DataError:
        logger.exception("returns.integration_log_failed")

    logged = stream.getvalue()
    assert "DataError: unsupported Unicode escape sequence [details of the statement withheld from the log]" in logged
    assert "CONTEXT" not in logged and "DETAIL" not in logged
    assert "9161234567" not in logged and "ivan.petrov" not in logged


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_failed_postgresql_statement_is_logged_without_its_payload():
    """PostgreSQL itself: a NUL in a jsonb value fails with CONTEXT lines that quote the whole value."""
    logger, stream = capture(mask_pii=False)
    payload = f'{{"phone": "{PHONE}", "email": "{EMAIL}", "comment": "a\\u0000b"}}'

    with pytest.raises(DataError), transaction.atomic(), connection.cursor() as cursor:
        try:
            cursor.execute("SELECT %s::jsonb", [payload])
        except DataError:
            logger.exception("probe.failed")
            raise

    logged = stream.getvalue()
    assert "unsupported Unicode escape sequence" in logged
    assert PHONE not in logged and EMAIL not in logged


# A real server -----------------------------------------------------------------


def database_url(tmp_path: Path) -> str:
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    url = f"sqlite:///{tmp_path / 'logs.sqlite3'}"
    migrated = manage("migrate", "--noinput", env=process_env(DATABASE_URL=url))
    assert migrated.returncode == 0, migrated.stderr
    return url


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_running_server_logs_requests_without_the_credentials_and_phones_they_carried(tmp_path):
    port = free_port()
    env = process_env(
        DATABASE_URL=database_url(tmp_path),
        APP_HOST="127.0.0.1",
        APP_PORT=str(port),
        JWT_SECRET=JWT_SECRET,
        PII_MASKING_ENABLED="true",
        DJANGO_DEBUG="false",
        LOG_LEVEL="INFO",
    )
    token = issue_token(
        subject="log-probe", role="admin", lifetime=timedelta(minutes=5), secret=JWT_SECRET, issuer="mastermobile"
    )
    secrets = {
        "jwt": token,
        "auth": "auth-" + uuid.uuid4().hex,
        "token": "token-" + uuid.uuid4().hex,
        "key": "key-" + uuid.uuid4().hex,
        "password": "password-" + uuid.uuid4().hex,
        "secret": "secret-" + uuid.uuid4().hex,
    }
    base = f"http://127.0.0.1:{port}"
    stdout, stderr = (tmp_path / "server.out").open("w"), (tmp_path / "server.err").open("w")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--no-worker", "--web-workers", "1"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=stdout,
        stderr=stderr,
    )
    try:
        http_get(base + "/health")
        ping = requests.get(
            base + "/api/v1/system/ping",
            params={"access_token": token, "auth": secrets["auth"], "phone": PHONE},
            headers={"Referer": f"{base}/admin/?token={secrets['token']}&phone={PHONE}"},
            timeout=30,
        )
        health = requests.get(
            f"{base}/health?key={secrets['key']}&password={secrets['password']}&secret={secrets['secret']}"
            "&contact=%2B7%20916%20123-45-67",
            timeout=30,
        )
        # A NUL makes PostgreSQL refuse the integration-log row; its error must not print the body either.
        created = requests.post(
            base + "/api/v1/returns",
            data=(
                '{"source": "warehouse", "courier_id": "c-1", "comment": "call ' + PHONE + " " + EMAIL + ' \\u0000",'
                ' "items": [{"sku": "S", "qty": 1, "quality": "new", "reason_code": "wrong_item"}]}'
            ),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Idempotency-Key": str(uuid.uuid4()),
            },
            timeout=30,
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        stdout.close()
        stderr.close()

    logs = (tmp_path / "server.out").read_text() + (tmp_path / "server.err").read_text()
    assert (ping.status_code, health.status_code) == (200, 200)
    assert created.status_code < 500
    assert re.search(r'"GET /api/v1/system/ping\?access_token=\*\*\*&auth=\*\*\*&phone=\+7\*\*\* HTTP/1\.1" 200', logs)
    assert "GET /health?key=***&password=***&secret=***&contact=+7*** HTTP/1.1" in logs
    assert "/admin/?token=***&phone=79***" in logs  # a bare + in a query is a space
    assert '"POST /api/v1/returns HTTP/1.1"' in logs
    leaked = {name: value for name, value in secrets.items() if value in logs}
    assert not leaked, leaked
    assert token.split(".")[1] not in logs
    for phone_digits in ("9161234567", "916 123-45-67", "916%20123"):
        assert phone_digits not in logs
    assert "ivan.petrov" not in logs
