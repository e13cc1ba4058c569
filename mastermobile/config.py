"""Typed, validated application configuration read from the environment.

``settings.py`` builds one :class:`AppConfig` at start-up through
:func:`load_config`; everything else reads ``settings.APP_CONFIG`` (or the
plain Django settings derived from it).  Keeping the parsing here, apart from
Django's settings module, lets tests feed any mapping and check every rule
without reloading Django.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from ipaddress import ip_network
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from mastermobile.observability.logging import masked_url

APP_ENVS = ("local", "development", "test", "staging", "production")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
STORAGE_BACKENDS = ("local", "s3")
Q_BROKERS = ("orm", "redis")
STT_ENGINES = ("openai-whisper", "stub")
SUMMARY_ENGINES = ("extractive", "llm")
LANGUAGE_CODES = ("ru", "en")
# The value .env.example ships for secrets; production refuses it.
PLACEHOLDER_SECRET = "changeme"
# HS256 keys shorter than the hash output (32 bytes) are weak (RFC 7518 §3.2).
MIN_PRODUCTION_JWT_SECRET_LENGTH = 32
MIN_METRICS_TOKEN_LENGTH = 16
# METRICS_ALLOWED_IPS: this machine only, unless the operator lists networks (or "none").
DEFAULT_METRICS_ALLOWED_IPS = "127.0.0.1,::1"
# What repr() shows instead of a secret.
REDACTED = "***"
# Field metadata: the value is a secret (never rendered), or a URL whose password is.
SECRET = {"secret": "value"}
SECRET_IN_URL = {"secret": "url-password"}


class ConfigError(ImproperlyConfigured):
    """A variable has a value the service cannot run with.

    The message is one line that names the variable and what is accepted.
    """


@dataclass(frozen=True, repr=False)
class AppConfig:
    """Every setting of the service, parsed and validated by :func:`load_config`.

    Fields marked :data:`SECRET` (and the password inside :data:`SECRET_IN_URL`
    fields) are shown as ``***`` by ``repr()``/``str()``, so the configuration
    can appear on Django's debug page, in a traceback or a log line without
    giving away a credential.
    """

    app_env: str
    app_host: str
    app_port: int
    debug: bool
    secret_key: str = field(metadata=SECRET)
    allowed_hosts: tuple[str, ...]
    csrf_trusted_origins: tuple[str, ...]
    log_level: str
    log_format: str
    language_code: str

    database_url: str | None = field(metadata=SECRET_IN_URL)
    redis_host: str
    redis_port: int
    redis_db: int
    q_broker: str
    q_workers: int

    b24_base_url: str = field(metadata=SECRET_IN_URL)
    b24_webhook_user_id: str
    b24_webhook_token: str = field(metadata=SECRET)
    b24_rate_limit_rps: float
    b24_backoff_seconds: float
    b24_max_attempts: int
    b24_use_batch: bool
    b24_download_rate_rps: float
    b24_download_concurrency: int
    b24_inbound_webhook_secret: str = field(metadata=SECRET)
    export_low_rate_mode: bool
    request_timeout_s: float

    openai_api_key: str = field(metadata=SECRET)
    openai_base_url: str = field(metadata=SECRET_IN_URL)
    chatgpt_proxy_url: str = field(metadata=SECRET_IN_URL)
    stt_openai_model: str
    stt_default_engine: str
    stt_default_language: str
    stt_max_file_minutes: int
    stt_max_file_size_mb: int
    stt_chunk_minutes: int
    stt_request_timeout_s: float
    stt_error_hint_413: str
    stt_error_hint_422: str
    stt_silence_threshold_dbfs: float
    stt_operator_channel: int
    transcribe_concurrency: int
    stt_retry_delays_s: tuple[float, ...]
    stt_stale_job_seconds: int
    whisper_rate_per_min_usd: Decimal
    usd_rub_rate: Decimal
    call_export_budget_usd: Decimal | None
    call_summary_enabled: bool
    call_summary_engine: str
    call_summary_model: str
    call_summary_max_input_chars: int
    call_export_cron: str
    call_export_default_days: int
    call_export_max_period_days: int
    call_export_timezone: str

    storage_backend: str
    local_storage_dir: str
    s3_endpoint_url: str = field(metadata=SECRET_IN_URL)
    s3_region: str
    s3_bucket: str
    s3_access_key_id: str = field(metadata=SECRET)
    s3_secret_access_key: str = field(metadata=SECRET)
    raw_recording_retention_days: int
    transcript_retention_days: int
    summary_retention_days: int
    storage_cleanup_interval_hours: int
    disk_encryption_flag: bool

    worker_metrics_host: str
    worker_metrics_port: int
    metrics_allowed_ips: tuple[str, ...]
    metrics_token: str = field(metadata=SECRET)
    enable_tracing: bool
    pii_masking_enabled: bool

    jwt_secret: str = field(metadata=SECRET)
    jwt_previous_secret: str = field(metadata=SECRET)
    jwt_issuer: str
    jwt_max_lifetime_days_courier: int
    jwt_max_lifetime_days_1c: int
    jwt_max_lifetime_days_admin: int
    cors_origins: tuple[str, ...]
    max_page_size: int
    api_throttle_rate: str
    max_json_body_bytes: int
    login_failure_limit: int
    login_lockout_minutes: int

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={_shown(f, getattr(self, f.name))!r}" for f in fields(self))
        return f"{type(self).__name__}({shown})"

    __str__ = __repr__

    def jwt_max_lifetime(self, role: str) -> timedelta:
        """The longest a token of ``role`` (``courier``, ``1c``, ``admin``) may live, ``exp - iat``."""
        days = {
            "courier": self.jwt_max_lifetime_days_courier,
            "1c": self.jwt_max_lifetime_days_1c,
            "admin": self.jwt_max_lifetime_days_admin,
        }[role]
        return timedelta(days=days)

    @property
    def stt_enabled(self) -> bool:
        """PLAT-05: transcription runs only with a key and a positive limit."""
        return bool(self.openai_api_key) and self.stt_max_file_minutes > 0

    @property
    def uses_redis_broker(self) -> bool:
        return self.q_broker == "redis"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in logs or error bodies (PLAT-52)."""
        candidates = (getattr(self, f.name) for f in fields(self) if f.metadata.get("secret") == "value")
        # Very short values ("1", "x") would mask ordinary words in logs.
        return tuple(s for s in candidates if s and len(s) >= 6)


class _Reader:
    """Reads one variable at a time and turns bad values into ConfigError."""

    def __init__(self, environ_map: Mapping[str, str]):
        self.env = environ.Env()
        self.env.ENVIRON = dict(environ_map)

    def raw(self, name: builtins.str) -> str | None:
        value = self.env.ENVIRON.get(name)
        return None if value is None else value.strip()

    def str(self, name: builtins.str, default: builtins.str = "") -> builtins.str:
        value = self.raw(name)
        return default if value is None else value

    def choice(self, name: builtins.str, default: builtins.str, choices: tuple[builtins.str, ...]) -> builtins.str:
        value = self.str(name, default) or default
        if value not in choices:
            raise ConfigError(f"{name}={value!r} is not valid; accepted values: {', '.join(choices)}")
        return value

    def bool(self, name: builtins.str, default: builtins.bool) -> builtins.bool:
        value = self.raw(name)
        if value is None or value == "":
            return default
        lowered = value.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{name}={value!r} is not a boolean; accepted values: true, false")

    def int(
        self,
        name: builtins.str,
        default: builtins.int,
        *,
        minimum: builtins.int | None = 0,
        maximum: builtins.int | None = None,
    ) -> builtins.int:
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{name}={value!r} is not an integer{_range_hint(minimum, maximum)}") from None
        _check_range(name, value, number, minimum, maximum)
        return number

    def float(
        self,
        name: builtins.str,
        default: builtins.float,
        *,
        minimum: builtins.float | None = 0,
        maximum: builtins.float | None = None,
    ) -> builtins.float:
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{name}={value!r} is not a number{_range_hint(minimum, maximum)}") from None
        if number != number:  # NaN
            raise ConfigError(f"{name}={value!r} is not a number{_range_hint(minimum, maximum)}")
        _check_range(name, value, number, minimum, maximum)
        return number

    def decimal(self, name: builtins.str, default: builtins.str, *, minimum: Decimal = Decimal(0)) -> Decimal:
        number = self.optional_decimal(name, minimum=minimum)
        return Decimal(default) if number is None else number

    def optional_decimal(self, name: builtins.str, *, minimum: Decimal = Decimal(0)) -> Decimal | None:
        value = self.raw(name)
        if value is None or value == "":
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ConfigError(f"{name}={value!r} is not a decimal number (>= {minimum})") from None
        if not number.is_finite() or number < minimum:
            raise ConfigError(f"{name}={value!r} is out of range; accepted: a decimal number >= {minimum}")
        return number

    def list(self, name: builtins.str, default: builtins.str) -> tuple[builtins.str, ...]:
        # An empty value (as .env.example leaves ALLOWED_HOSTS) means "the default", not "none".
        value = self.str(name, default) or default
        return tuple(part.strip() for part in value.split(",") if part.strip())

    def http_url(self, name: builtins.str, default: builtins.str, *, required: builtins.bool = True) -> builtins.str:
        value = self.str(name, default)
        if not value and not required:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"{name}={masked_url(value)!r} is not an http(s) URL; accepted: http://host[:port]/path or https://…"
            )
        return value


def _retry_delays(parts: tuple[str, ...]) -> tuple[float, ...]:
    """STT-06: the waits before retries 1, 2, 3…; a job makes ``len + 1`` calls at most."""
    try:
        delays = tuple(float(part) for part in parts)
    except ValueError:
        delays = ()
    if not delays or any(not 0 <= delay <= 86400 for delay in delays):
        raise ConfigError(
            f"STT_RETRY_DELAYS_S={','.join(parts)!r} is not valid; accepted: seconds between 0 and 86400, "
            "comma-separated, e.g. 10,30,60"
        )
    return delays


def _range_hint(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" (accepted: {minimum}…{maximum})"
    if minimum is not None:
        return f" (accepted: >= {minimum})"
    return ""


def _check_range(name: str, raw: str, number: float, minimum: float | None, maximum: float | None) -> None:
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ConfigError(f"{name}={raw!r} is out of range{_range_hint(minimum, maximum)}")


def _shown(config_field, value):
    """What ``repr(AppConfig)`` shows for one field."""
    kind = config_field.metadata.get("secret")
    if not value or kind is None:
        return value
    return REDACTED if kind == "value" else masked_url(value)


_DATABASE_SCHEMES = ("postgres", "postgresql", "pgsql", "sqlite")


def _database_url(read: _Reader) -> str | None:
    """PLAT-02: DATABASE_URL wins, then DB_* when DB_HOST is set, else None (SQLite)."""
    url = read.str("DATABASE_URL")
    if url:
        scheme = urlsplit(url).scheme
        if scheme not in _DATABASE_SCHEMES:
            raise ConfigError(
                "DATABASE_URL is not a database URL; accepted: postgres://user:pass@host:port/name or sqlite:///path"
            )
        return url
    host = read.str("DB_HOST")
    if not host:
        return None
    port = read.int("DB_PORT", 5432, minimum=1, maximum=65535)
    user = read.str("DB_USER", "postgres")
    password = read.str("DB_PASSWORD", "postgres")
    name = read.str("DB_NAME", "mastermobile")
    return f"postgres://{user}:{password}@{host}:{port}/{name}"


def load_config(environ_map: Mapping[str, str]) -> AppConfig:
    """Parse and validate every variable; raise ConfigError on the first bad one."""
    read = _Reader(environ_map)
    app_env = read.choice("APP_ENV", "local", APP_ENVS)
    production = app_env == "production"

    jwt_secret = read.str("JWT_SECRET", PLACEHOLDER_SECRET)
    if production and (jwt_secret == PLACEHOLDER_SECRET or len(jwt_secret) < MIN_PRODUCTION_JWT_SECRET_LENGTH):
        raise ConfigError(
            f"JWT_SECRET must be a real secret of at least {MIN_PRODUCTION_JWT_SECRET_LENGTH} characters "
            f"when APP_ENV=production (not {PLACEHOLDER_SECRET!r})"
        )
    jwt_previous_secret = read.str("JWT_SECRET_PREVIOUS")
    if production and jwt_previous_secret and len(jwt_previous_secret) < MIN_PRODUCTION_JWT_SECRET_LENGTH:
        raise ConfigError(
            f"JWT_SECRET_PREVIOUS must be empty or at least {MIN_PRODUCTION_JWT_SECRET_LENGTH} characters "
            "when APP_ENV=production"
        )
    secret_key = read.str("DJANGO_SECRET_KEY")
    if not secret_key:
        if production:
            raise ConfigError("DJANGO_SECRET_KEY must be set when APP_ENV=production")
        secret_key = "insecure-local-only-" + "x" * 40

    storage_backend = read.choice("STORAGE_BACKEND", "local", STORAGE_BACKENDS)
    s3_bucket = read.str("S3_BUCKET")
    if storage_backend == "s3" and not s3_bucket:
        raise ConfigError("S3_BUCKET is required when STORAGE_BACKEND=s3")

    redis_host = read.str("REDIS_HOST", "redis")
    q_broker = read.choice("Q_BROKER", "orm", Q_BROKERS)

    call_export_default_days = read.int("CALL_EXPORT_DEFAULT_DAYS", 60, minimum=1, maximum=3650)
    call_export_max_period_days = read.int("CALL_EXPORT_MAX_PERIOD_DAYS", 366, minimum=1, maximum=3660)
    if call_export_default_days >= call_export_max_period_days:
        # The default period (CALL-17) runs over CALL_EXPORT_DEFAULT_DAYS + 1 whole days.
        raise ConfigError(
            f"CALL_EXPORT_DEFAULT_DAYS={call_export_default_days} must be less than "
            f"CALL_EXPORT_MAX_PERIOD_DAYS={call_export_max_period_days}, or the default period is refused"
        )

    debug_default = app_env == "local"
    config = AppConfig(
        app_env=app_env,
        # Only this machine by default; the Docker image sets 0.0.0.0.
        app_host=read.str("APP_HOST", "127.0.0.1") or "127.0.0.1",
        app_port=read.int("APP_PORT", 8000, minimum=1, maximum=65535),
        debug=read.bool("DJANGO_DEBUG", debug_default),
        secret_key=secret_key,
        allowed_hosts=read.list("ALLOWED_HOSTS", "*" if not production else "localhost"),
        csrf_trusted_origins=read.list("CSRF_TRUSTED_ORIGINS", ""),
        log_level=read.choice("LOG_LEVEL", "INFO", LOG_LEVELS),
        log_format=read.choice("LOG_FORMAT", "text" if app_env == "local" else "json", ("json", "text")),
        language_code=read.choice("LANGUAGE_CODE", "ru", LANGUAGE_CODES),
        database_url=_database_url(read),
        redis_host=redis_host,
        redis_port=read.int("REDIS_PORT", 6379, minimum=1, maximum=65535),
        redis_db=read.int("REDIS_DB", 0, minimum=0),
        q_broker=q_broker,
        q_workers=read.int("Q_WORKERS", 2, minimum=1, maximum=64),
        b24_base_url=read.http_url("B24_BASE_URL", "https://example.bitrix24.ru/rest"),
        b24_webhook_user_id=read.str("B24_WEBHOOK_USER_ID", "1"),
        b24_webhook_token=read.str("B24_WEBHOOK_TOKEN", PLACEHOLDER_SECRET),
        b24_rate_limit_rps=read.float("B24_RATE_LIMIT_RPS", 2.0, minimum=0),
        b24_backoff_seconds=read.float("B24_BACKOFF_SECONDS", 5.0, minimum=0),
        b24_max_attempts=read.int("B24_MAX_ATTEMPTS", 5, minimum=1, maximum=20),
        b24_use_batch=read.bool("B24_USE_BATCH", True),
        # Recording downloads are file GETs, not REST methods: their own budget (docs/decisions.md).
        b24_download_rate_rps=read.float("B24_DOWNLOAD_RATE_RPS", 20.0, minimum=0),
        b24_download_concurrency=read.int("B24_DOWNLOAD_CONCURRENCY", 4, minimum=1, maximum=32),
        # BX-02: empty switches the inbound task-event webhook off (every call answers 401).
        b24_inbound_webhook_secret=read.str("B24_INBOUND_WEBHOOK_SECRET"),
        export_low_rate_mode=read.bool("EXPORT_LOW_RATE_MODE", False),
        request_timeout_s=read.float("REQUEST_TIMEOUT_S", 30.0, minimum=0.1),
        openai_api_key=read.str("OPENAI_API_KEY"),
        openai_base_url=read.http_url("OPENAI_BASE_URL", "https://api.openai.com/v1"),
        chatgpt_proxy_url=read.http_url("CHATGPT_PROXY_URL", "", required=False),
        stt_openai_model=read.str("STT_OPENAI_MODEL", "whisper-1") or "whisper-1",
        stt_default_engine=read.choice("STT_DEFAULT_ENGINE", "openai-whisper", STT_ENGINES),
        stt_default_language=_language_hint(read.str("STT_DEFAULT_LANGUAGE")),
        stt_max_file_minutes=read.int("STT_MAX_FILE_MINUTES", 0, minimum=0),
        stt_max_file_size_mb=read.int("STT_MAX_FILE_SIZE_MB", 25, minimum=1),
        stt_chunk_minutes=read.int("STT_CHUNK_MINUTES", 10, minimum=1),
        stt_request_timeout_s=read.float("STT_REQUEST_TIMEOUT_S", 300.0, minimum=1),
        stt_error_hint_413=read.str("STT_ERROR_HINT_413", "file exceeds the allowed limits"),
        stt_error_hint_422=read.str("STT_ERROR_HINT_422", "format not recognised, try WAV/MP3/M4A"),
        stt_silence_threshold_dbfs=read.float("STT_SILENCE_THRESHOLD_DBFS", -45.0, minimum=-96, maximum=0),
        stt_operator_channel=read.int("STT_OPERATOR_CHANNEL", 0, minimum=0, maximum=1),
        transcribe_concurrency=read.int("TRANSCRIBE_CONCURRENCY", 10, minimum=1, maximum=100),
        stt_retry_delays_s=_retry_delays(read.list("STT_RETRY_DELAYS_S", "10,30,60")),
        stt_stale_job_seconds=read.int("STT_STALE_JOB_SECONDS", 1800, minimum=1),
        whisper_rate_per_min_usd=read.decimal("WHISPER_RATE_PER_MIN_USD", "0.006"),
        usd_rub_rate=read.decimal("USD_RUB_RATE", "100"),
        call_export_budget_usd=read.optional_decimal("CALL_EXPORT_BUDGET_USD"),
        call_summary_enabled=read.bool("CALL_SUMMARY_ENABLED", False),
        call_summary_engine=read.choice("CALL_SUMMARY_ENGINE", "extractive", SUMMARY_ENGINES),
        call_summary_model=read.str("CALL_SUMMARY_MODEL", "gpt-4o-mini") or "gpt-4o-mini",
        # Below 1000 characters the model sees too little of a call to summarise it.
        call_summary_max_input_chars=read.int("CALL_SUMMARY_MAX_INPUT_CHARS", 24000, minimum=1000, maximum=1_000_000),
        call_export_cron=_cron(read.str("CALL_EXPORT_CRON", "0 2 * * *") or "0 2 * * *"),
        call_export_default_days=call_export_default_days,
        call_export_max_period_days=call_export_max_period_days,
        call_export_timezone=_timezone(read.str("CALL_EXPORT_TIMEZONE", "Europe/Moscow") or "Europe/Moscow"),
        storage_backend=storage_backend,
        local_storage_dir=read.str("LOCAL_STORAGE_DIR"),
        s3_endpoint_url=read.http_url("S3_ENDPOINT_URL", "", required=False),
        s3_region=read.str("S3_REGION"),
        s3_bucket=s3_bucket,
        s3_access_key_id=read.str("S3_ACCESS_KEY_ID"),
        s3_secret_access_key=read.str("S3_SECRET_ACCESS_KEY"),
        # STT-30: 0 keeps that category for ever (its files and database text are never deleted).
        raw_recording_retention_days=read.int("RAW_RECORDING_RETENTION_DAYS", 90, minimum=0),
        transcript_retention_days=read.int("TRANSCRIPT_RETENTION_DAYS", 180, minimum=0),
        summary_retention_days=read.int("SUMMARY_RETENTION_DAYS", 180, minimum=0),
        storage_cleanup_interval_hours=read.int("STORAGE_CLEANUP_INTERVAL_HOURS", 24, minimum=1),
        disk_encryption_flag=read.bool("DISK_ENCRYPTION_FLAG", False),
        # Loopback like APP_HOST; compose sets 0.0.0.0 for its worker container.
        worker_metrics_host=read.str("WORKER_METRICS_HOST", "127.0.0.1") or "127.0.0.1",
        worker_metrics_port=read.int("WORKER_METRICS_PORT", 9100, minimum=1, maximum=65535),
        metrics_allowed_ips=_networks(read.list("METRICS_ALLOWED_IPS", DEFAULT_METRICS_ALLOWED_IPS)),
        metrics_token=_metrics_token(read.str("METRICS_TOKEN")),
        enable_tracing=read.bool("ENABLE_TRACING", False),
        pii_masking_enabled=read.bool("PII_MASKING_ENABLED", False),
        jwt_secret=jwt_secret,
        jwt_previous_secret=jwt_previous_secret,
        jwt_issuer=read.str("JWT_ISSUER", "mastermobile") or "mastermobile",
        jwt_max_lifetime_days_courier=read.int("JWT_MAX_LIFETIME_DAYS_COURIER", 7, minimum=1, maximum=3650),
        jwt_max_lifetime_days_1c=read.int("JWT_MAX_LIFETIME_DAYS_1C", 365, minimum=1, maximum=3650),
        jwt_max_lifetime_days_admin=read.int("JWT_MAX_LIFETIME_DAYS_ADMIN", 1, minimum=1, maximum=3650),
        cors_origins=read.list("CORS_ORIGINS", "http://localhost:3000"),
        max_page_size=read.int("MAX_PAGE_SIZE", 100, minimum=1, maximum=1000),
        api_throttle_rate=_throttle_rate(read.str("API_THROTTLE_RATE", "600/min") or "600/min"),
        max_json_body_bytes=read.int("MAX_JSON_BODY_BYTES", 2 * 1024 * 1024, minimum=1024),
        login_failure_limit=read.int("LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=100),
        login_lockout_minutes=read.int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1, maximum=7 * 24 * 60),
    )
    if production:
        _refuse_unsafe_production_values(config)
    return config


def _refuse_unsafe_production_values(config: AppConfig) -> None:
    """APP_ENV=production runs without debug pages and without placeholder secrets."""
    if config.debug:
        raise ConfigError(
            "DJANGO_DEBUG=true is refused when APP_ENV=production (debug pages show settings and code); "
            "unset it or set false"
        )
    database_password = urlsplit(config.database_url).password if config.database_url else None
    secrets = {
        "DJANGO_SECRET_KEY": config.secret_key,
        "B24_WEBHOOK_TOKEN": config.b24_webhook_token,
        "B24_INBOUND_WEBHOOK_SECRET": config.b24_inbound_webhook_secret,
        "OPENAI_API_KEY": config.openai_api_key,
        "S3_SECRET_ACCESS_KEY": config.s3_secret_access_key,
        "DB_PASSWORD (or the password in DATABASE_URL)": database_password,
    }
    for name, value in secrets.items():
        if (value or "").lower() == PLACEHOLDER_SECRET:
            raise ConfigError(
                f"{name} is the placeholder {PLACEHOLDER_SECRET!r}; set a real secret for APP_ENV=production"
            )


def _cron(value: str) -> str:
    fields = value.split()
    if len(fields) != 5:
        raise ConfigError(
            f"CALL_EXPORT_CRON={value!r} is not a cron expression; accepted: five fields, e.g. '0 2 * * *'"
        )
    return value


def _timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"CALL_EXPORT_TIMEZONE={value!r} is not an IANA time zone, e.g. Europe/Moscow") from None
    return value


def _networks(values: tuple[str, ...]) -> tuple[str, ...]:
    """METRICS_ALLOWED_IPS: addresses or CIDR networks, normalised; the single word ``none`` allows no address."""
    if tuple(value.lower() for value in values) == ("none",):
        return ()
    networks = []
    for value in values:
        try:
            networks.append(str(ip_network(value, strict=False)))
        except ValueError:
            raise ConfigError(
                f"METRICS_ALLOWED_IPS contains {value!r}, which is not an IP address or network; "
                "accepted: comma-separated addresses or CIDRs (e.g. 127.0.0.1,10.0.0.0/8), or none"
            ) from None
    return tuple(networks)


def _metrics_token(value: str) -> str:
    if value and len(value) < MIN_METRICS_TOKEN_LENGTH:
        raise ConfigError(
            f"METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_LENGTH} characters when set (empty disables it)"
        )
    return value


def _language_hint(value: str) -> str:
    """STT-05: empty (the model detects the language) or an ISO 639-1 code, as the provider expects."""
    code = value.lower()
    if code and not re.fullmatch(r"[a-z]{2}", code):
        raise ConfigError(f"STT_DEFAULT_LANGUAGE={value!r} is not an ISO 639-1 code; accepted: empty, or e.g. ru, en")
    return code


def _throttle_rate(value: str) -> str:
    number, _, period = value.partition("/")
    if not number.isdigit() or int(number) < 1 or period not in ("s", "sec", "m", "min", "h", "hour", "d", "day"):
        raise ConfigError(f"API_THROTTLE_RATE={value!r} is not a rate; accepted: N/s, N/min, N/hour, N/day")
    return value
