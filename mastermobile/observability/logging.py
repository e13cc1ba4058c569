"""Structured logging: JSON lines, request context and masking (PLAT-50…52)."""

from __future__ import annotations

import json
import logging
import re
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from mastermobile.observability.context import idempotency_key_var, request_id_var, user_role_var


def masked_url(text: str) -> str:
    """``text`` — one URL, or a message, body or exported value holding URLs — with every credential a URL carries as ``***``.

    The one masking rule for URLs, used by logs, ``error_message`` columns,
    command output, the admin and exports: the password of a user part
    (base and proxy URLs), the Bitrix24 webhook token in ``/rest/<user>/<token>/``
    and the value of every query parameter that names a credential
    (``auth``, ``access_token``, ``key``, ``signature``…, see
    :func:`is_secret_parameter`).  Bitrix24 recording and Disk download URLs
    carry an access key as ``&auth=<key>``, which is why the query counts as
    much as the path.  Everything else is kept, so a masked URL still says
    which file and which method it was.
    """
    if not text or ("=" not in text and "@" not in text and "/rest/" not in text):
        # Nothing here can carry a credential; most log fields and listing values end here, unscanned.
        return text
    text = _USERINFO.sub(r"\1***@", text)
    text = _B24_WEBHOOK.sub(r"\1***", text)
    return _QUERY_PARAMETER.sub(_mask_query_parameter, text)


def _mask_query_parameter(match: re.Match[str]) -> str:
    name = unquote_plus(match.group(2))
    return f"{match.group(1)}***" if match.group(3) and is_secret_parameter(name) else match.group(0)


# Attributes every LogRecord has; anything else was passed through `extra=`.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_CONTEXT_FIELDS = ("request_id", "idempotency_key", "user_role")

SENSITIVE_KEYS = frozenset(
    {
        "phone",
        "phone_number",
        "from",
        "to",
        "address",
        "email",
        "token",
        "password",
        "authorization",
        "secret",
        "api_key",
        "access_token",
        "refresh_token",
    }
)
_ALWAYS_SECRET_KEYS = frozenset({"authorization", "password", "token", "secret", "api_key", "access_token"})
# Query parameters whose values never reach a log, whatever they look like (access log, URLs in messages).
SECRET_QUERY_PARAMETERS = _ALWAYS_SECRET_KEYS | {"auth", "key", "refresh_token", "jwt", "signature", "sig"}
_SECRET_PARAMETER_ENDINGS = ("token", "secret", "password", "_key", "apikey")

_EMAIL = re.compile(r"\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")
# International or local phone numbers: an optional +, then 10–15 digits that
# may be split by spaces, dashes, dots or brackets.
_PHONE = re.compile(r"(?<![\w/.-])(\+?\d[\d\s().-]{8,18}\d)(?![\w/-])")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+")
# Bitrix24 webhook URLs carry the token in the path: /rest/<user>/<token>/method
_B24_WEBHOOK = re.compile(r"(/rest/\d+/)([^/\s?]+)")
# user:password@ after a scheme, in a URL or anywhere in a message.
_USERINFO = re.compile(r"(://[^/\s:@]*:)[^/\s@]+@")
# ?name=value / &name=value (also &amp; in HTML and ; separators); the value ends where a query value
# can (&, #, whitespace) or where a message usually closes around a URL (quotes, brackets, <>).
_QUERY_PARAMETER = re.compile(r"([?&;]([A-Za-z0-9_.~%\[\]-]+)=)([^&#;\s'\"<>()\[\]]*)")


def mask_phone(value: str) -> str:
    digits = value.strip()
    return digits[:2] + "***" if len(digits) > 2 else "***"


def mask_email(match: re.Match[str]) -> str:
    return f"{match.group(1)}***@{match.group(2)}"


def _mask_phone_match(match: re.Match[str]) -> str:
    raw = match.group(1)
    digit_count = sum(ch.isdigit() for ch in raw)
    if digit_count < 10 or digit_count > 15:
        return raw
    return mask_phone(raw)


def is_secret_parameter(name: str) -> bool:
    """``access_token``, ``auth``, ``key``, ``x-api-key``, ``token[]``, …: a parameter that carries a credential."""
    lowered = name.strip().rstrip("[]").lower().replace("-", "_")
    return lowered in SECRET_QUERY_PARAMETERS or lowered.endswith(_SECRET_PARAMETER_ENDINGS)


class Redactor:
    """Removes secrets always and personal data when masking is on."""

    def __init__(self, secrets: Iterable[str] = (), mask_pii: bool = False):
        self.secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))
        self.mask_pii = mask_pii

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, "***")
        value = _BEARER.sub(r"\1 ***", value)
        value = _JWT.sub("***", value)
        value = masked_url(value)
        if self.mask_pii:
            value = _EMAIL.sub(mask_email, value)
            value = _PHONE.sub(_mask_phone_match, value)
        return value

    def query(self, query: str) -> str:
        """A query string fit for a log line: credentials replaced by ``***``, other values masked as text.

        Values are compared decoded, so ``%2B79161234567`` is a phone number too;
        parameters that need no masking keep their original spelling.
        """
        if not query:
            return query
        pairs = []
        for pair in query.split("&"):
            name, equals, raw = pair.partition("=")
            decoded_name = unquote_plus(name)
            if equals and is_secret_parameter(decoded_name):
                pairs.append(f"{self.text(name)}=***")
                continue
            value = unquote_plus(raw)
            masked = self.value(value, decoded_name) if equals else self.text(value)
            pairs.append(pair if masked == value else f"{self.text(name)}{equals}{masked}")
        return "&".join(pairs)

    def url(self, target: str) -> str:
        """A URL or request target (``/path?query``) fit for a log line."""
        path, question_mark, query = target.partition("?")
        return self.text(path) + question_mark + self.query(query)

    def value(self, value: Any, key: str | None = None) -> Any:
        lowered = key.lower() if key else None
        if lowered in _ALWAYS_SECRET_KEYS and value not in (None, ""):
            return "***"
        if isinstance(value, dict):
            return {k: self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        if isinstance(value, str):
            if self.mask_pii and lowered in SENSITIVE_KEYS and value:
                return mask_email(email) if (email := _EMAIL.fullmatch(value)) else mask_phone(value)
            return self.text(value)
        return value


class RedactionFilter(logging.Filter):
    """Masks the message, its arguments and every structured field of a record."""

    def __init__(self, secrets: Iterable[str] = (), mask_pii: bool = False):
        super().__init__()
        self.redactor = Redactor(secrets, mask_pii)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = self.redactor.text(message)
        record.args = ()
        for name, value in list(vars(record).items()):
            if name not in _RECORD_ATTRS and name not in _CONTEXT_FIELDS:
                setattr(record, name, self.redactor.value(value, name))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.redactor.text(format_exception(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.redactor.text(record.exc_text)
        return True


def _is_database_error(error: BaseException) -> bool:
    from django.db import Error as DjangoDatabaseError

    if isinstance(error, DjangoDatabaseError):
        return True
    module = type(error).__module__
    return module.split(".")[0] in ("psycopg", "psycopg2", "sqlite3")


def format_exception(exc_info: Any) -> str:
    """The traceback, with database errors cut to their first line.

    PostgreSQL appends ``DETAIL``, ``CONTEXT`` and ``unnamed portal parameter
    $n = '…'`` lines to its messages: the values of the failed statement, i.e.
    the request's data (phones, e-mails) verbatim.  The first line names the
    error; the statement's values stay out of the log.
    """
    _type, error, _tb = exc_info
    text = "".join(traceback.format_exception(*exc_info))
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        message = str(error)
        if _is_database_error(error) and "\n" in message.strip():
            first_line = message.strip().splitlines()[0]
            text = text.replace(message, f"{first_line} [details of the statement withheld from the log]")
        error = error.__cause__ or error.__context__
    return text.rstrip("\n")


class RequestContextFilter(logging.Filter):
    """Adds the current request id, role and idempotency key to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get() or "-"
        if getattr(record, "user_role", None) is None:
            record.user_role = user_role_var.get()
        if getattr(record, "idempotency_key", None) is None:
            record.idempotency_key = idempotency_key_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (PLAT-50)."""

    def __init__(self, service: str = "mastermobile", environment: str = "local"):
        super().__init__()
        self.service = service
        self.environment = environment

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "service": self.service,
            "environment": self.environment,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value not in (None, "-"):
                payload[name] = value
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRS and name not in _CONTEXT_FIELDS:
                payload[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, default=str, ensure_ascii=False)


class QuietTasksFilter(logging.Filter):
    """django-q2's lines about routine schedules become DEBUG: four INFO lines a minute say nothing.

    django-q2 logs every schedule run (created, executing, processed) and
    every enqueue at INFO.  For the housekeeping schedules named in
    ``names`` (schedule names or task functions) those lines are kept only
    when the logger is at DEBUG; the tasks themselves log at INFO what they
    actually did.
    """

    LOGGER = "django-q"

    def __init__(self, names: Iterable[str] = ()):
        super().__init__()
        self.names = tuple(names)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != self.LOGGER or record.levelno != logging.INFO:
            return True
        message = record.getMessage()
        if not (message.startswith("Enqueued") or any(name in message for name in self.names)):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(self.LOGGER).isEnabledFor(logging.DEBUG)
