"""Settings parsing: defaults, overrides and one clear error per bad value (PLAT-01…05)."""

from decimal import Decimal

import pytest

from mastermobile.config import ConfigError, load_config
from tests.processes import manage, process_env

# What a real production deployment sets; each test below changes one thing.
PRODUCTION = {
    "APP_ENV": "production",
    "JWT_SECRET": "s" * 40,
    "DJANGO_SECRET_KEY": "k" * 50,
    "B24_WEBHOOK_TOKEN": "real-webhook-token",
}


def test_it_applies_the_documented_defaults():
    config = load_config({})

    assert config.app_env == "local"
    assert config.app_host == "127.0.0.1"
    assert config.app_port == 8000
    assert config.database_url is None
    assert config.q_broker == "orm"
    assert config.b24_base_url == "https://example.bitrix24.ru/rest"
    assert config.b24_rate_limit_rps == 2.0
    assert config.b24_backoff_seconds == 5.0
    assert config.whisper_rate_per_min_usd == Decimal("0.006")
    assert config.stt_max_file_minutes == 0
    assert config.stt_default_language == ""
    assert config.stt_silence_threshold_dbfs == -45.0
    assert config.stt_operator_channel == 0
    assert config.storage_backend == "local"
    assert config.jwt_issuer == "mastermobile"
    assert config.cors_origins == ("http://localhost:3000",)
    assert config.max_page_size == 100
    assert config.request_timeout_s == 30.0
    assert config.pii_masking_enabled is False
    assert config.call_export_cron == "0 2 * * *"
    assert config.call_export_default_days == 60
    assert config.call_export_max_period_days == 366
    assert config.raw_recording_retention_days == 90
    assert config.transcript_retention_days == 180
    assert config.summary_retention_days == 180
    assert config.storage_cleanup_interval_hours == 24
    assert config.worker_metrics_port == 9100
    assert (config.call_summary_engine, config.call_summary_model) == ("extractive", "gpt-4o-mini")
    assert config.call_summary_max_input_chars == 24000


def test_it_reads_overrides():
    config = load_config(
        {
            "APP_PORT": "9000",
            "B24_RATE_LIMIT_RPS": "0.5",
            "CORS_ORIGINS": "https://a.example, https://b.example",
            "PII_MASKING_ENABLED": "true",
            "MAX_PAGE_SIZE": "50",
            "Q_BROKER": "redis",
            "REDIS_HOST": "127.0.0.1",
        }
    )

    assert config.app_port == 9000
    assert config.b24_rate_limit_rps == 0.5
    assert config.cors_origins == ("https://a.example", "https://b.example")
    assert config.pii_masking_enabled is True
    assert config.max_page_size == 50
    assert config.uses_redis_broker
    assert config.redis_host == "127.0.0.1"


def test_stt_settings_are_read_and_the_language_hint_is_lower_cased():
    config = load_config(
        {"STT_DEFAULT_LANGUAGE": "RU", "STT_SILENCE_THRESHOLD_DBFS": "-52.5", "STT_OPERATOR_CHANNEL": "1"}
    )

    assert (config.stt_default_language, config.stt_silence_threshold_dbfs, config.stt_operator_channel) == (
        "ru",
        -52.5,
        1,
    )


def test_empty_list_variables_fall_back_to_their_defaults():
    config = load_config({"ALLOWED_HOSTS": "", "CORS_ORIGINS": "", "APP_ENV": "development"})

    assert config.allowed_hosts == ("*",)
    assert config.cors_origins == ("http://localhost:3000",)


def test_production_answers_only_for_the_configured_hosts():
    config = load_config({**PRODUCTION, "ALLOWED_HOSTS": "mm.example.com"})

    assert config.allowed_hosts == ("mm.example.com",)


def test_database_url_wins_over_db_variables():
    config = load_config({"DATABASE_URL": "postgres://u:p@h:5433/x", "DB_HOST": "db"})

    assert config.database_url == "postgres://u:p@h:5433/x"


def test_the_llm_summary_settings_are_read():
    config = load_config(
        {"CALL_SUMMARY_ENGINE": "llm", "CALL_SUMMARY_MODEL": "gpt-4.1-nano", "CALL_SUMMARY_MAX_INPUT_CHARS": "8000"}
    )

    assert (config.call_summary_engine, config.call_summary_model, config.call_summary_max_input_chars) == (
        "llm",
        "gpt-4.1-nano",
        8000,
    )


def test_db_variables_build_a_postgres_dsn_when_db_host_is_set():
    config = load_config({"DB_HOST": "db", "DB_USER": "mm", "DB_PASSWORD": "secret", "DB_NAME": "mmdb"})

    assert config.database_url == "postgres://mm:secret@db:5432/mmdb"


@pytest.mark.parametrize(
    ("environment", "variable"),
    [
        ({"APP_PORT": "eighty"}, "APP_PORT"),
        ({"APP_PORT": "70000"}, "APP_PORT"),
        ({"DB_HOST": "db", "DB_PORT": "x"}, "DB_PORT"),
        ({"STORAGE_BACKEND": "ftp"}, "STORAGE_BACKEND"),
        ({"STORAGE_BACKEND": "s3"}, "S3_BUCKET"),
        ({"B24_RATE_LIMIT_RPS": "-1"}, "B24_RATE_LIMIT_RPS"),
        ({"B24_RATE_LIMIT_RPS": "fast"}, "B24_RATE_LIMIT_RPS"),
        ({"B24_BASE_URL": "ftp://portal.example"}, "B24_BASE_URL"),
        ({"B24_BASE_URL": "portal.example"}, "B24_BASE_URL"),
        ({"STT_MAX_FILE_MINUTES": "-5"}, "STT_MAX_FILE_MINUTES"),
        ({"STT_DEFAULT_LANGUAGE": "russian"}, "STT_DEFAULT_LANGUAGE"),
        ({"STT_DEFAULT_LANGUAGE": "ru-RU"}, "STT_DEFAULT_LANGUAGE"),
        ({"STT_SILENCE_THRESHOLD_DBFS": "5"}, "STT_SILENCE_THRESHOLD_DBFS"),
        ({"STT_SILENCE_THRESHOLD_DBFS": "quiet"}, "STT_SILENCE_THRESHOLD_DBFS"),
        ({"STT_OPERATOR_CHANNEL": "2"}, "STT_OPERATOR_CHANNEL"),
        ({"MAX_PAGE_SIZE": "0"}, "MAX_PAGE_SIZE"),
        ({"RAW_RECORDING_RETENTION_DAYS": "-1"}, "RAW_RECORDING_RETENTION_DAYS"),
        ({"TRANSCRIPT_RETENTION_DAYS": "forever"}, "TRANSCRIPT_RETENTION_DAYS"),
        ({"STORAGE_CLEANUP_INTERVAL_HOURS": "0"}, "STORAGE_CLEANUP_INTERVAL_HOURS"),
        ({"PII_MASKING_ENABLED": "maybe"}, "PII_MASKING_ENABLED"),
        ({"WHISPER_RATE_PER_MIN_USD": "cheap"}, "WHISPER_RATE_PER_MIN_USD"),
        ({"Q_BROKER": "rabbit"}, "Q_BROKER"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"CALL_EXPORT_CRON": "daily"}, "CALL_EXPORT_CRON"),
        ({"CALL_SUMMARY_ENGINE": "gpt"}, "CALL_SUMMARY_ENGINE"),
        ({"CALL_SUMMARY_MAX_INPUT_CHARS": "100"}, "CALL_SUMMARY_MAX_INPUT_CHARS"),
        ({"CALL_EXPORT_TIMEZONE": "Mars/Olympus"}, "CALL_EXPORT_TIMEZONE"),
        ({"DATABASE_URL": "nonsense"}, "DATABASE_URL"),
        ({"APP_ENV": "production", "DJANGO_SECRET_KEY": "k" * 50}, "JWT_SECRET"),
        ({"APP_ENV": "production", "JWT_SECRET": "changeme", "DJANGO_SECRET_KEY": "k" * 50}, "JWT_SECRET"),
        ({"APP_ENV": "production", "JWT_SECRET": "short-secret", "DJANGO_SECRET_KEY": "k" * 50}, "JWT_SECRET"),
    ],
)
def test_each_invalid_value_is_refused_naming_the_variable(environment, variable):
    with pytest.raises(ConfigError) as error:
        load_config(environment)

    message = str(error.value)
    assert variable in message
    assert "\n" not in message


def test_a_retention_of_zero_days_is_accepted_as_keep_for_ever():
    config = load_config(
        {"RAW_RECORDING_RETENTION_DAYS": "0", "TRANSCRIPT_RETENTION_DAYS": "0", "SUMMARY_RETENTION_DAYS": "0"}
    )

    assert config.raw_recording_retention_days == 0
    assert config.transcript_retention_days == 0
    assert config.summary_retention_days == 0


def test_s3_backend_with_a_bucket_is_accepted():
    config = load_config({"STORAGE_BACKEND": "s3", "S3_BUCKET": "recordings"})

    assert config.storage_backend == "s3"
    assert config.s3_bucket == "recordings"


def test_production_with_real_secrets_starts():
    config = load_config(PRODUCTION)

    assert config.debug is False


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"DJANGO_DEBUG": "true"}, "DJANGO_DEBUG"),
        ({"B24_WEBHOOK_TOKEN": "changeme"}, "B24_WEBHOOK_TOKEN"),
        ({"DJANGO_SECRET_KEY": "changeme"}, "DJANGO_SECRET_KEY"),
        ({"OPENAI_API_KEY": "CHANGEME"}, "OPENAI_API_KEY"),
        ({"S3_SECRET_ACCESS_KEY": "changeme"}, "S3_SECRET_ACCESS_KEY"),
        ({"DB_HOST": "db", "DB_PASSWORD": "changeme"}, "DB_PASSWORD"),
        ({"DATABASE_URL": "postgres://mm:changeme@db:5432/mm"}, "DATABASE_URL"),
    ],
)
def test_production_refuses_debug_and_placeholder_secrets_naming_the_variable(change, variable):
    with pytest.raises(ConfigError) as error:
        load_config({**PRODUCTION, **change})

    message = str(error.value)
    assert variable in message
    assert "\n" not in message


def test_production_refuses_the_default_webhook_token():
    environment = {key: value for key, value in PRODUCTION.items() if key != "B24_WEBHOOK_TOKEN"}

    with pytest.raises(ConfigError, match="B24_WEBHOOK_TOKEN is the placeholder 'changeme'"):
        load_config(environment)


def test_debug_and_placeholder_secrets_are_fine_outside_production():
    config = load_config({"APP_ENV": "development", "DJANGO_DEBUG": "true", "B24_WEBHOOK_TOKEN": "changeme"})

    assert config.debug is True


@pytest.mark.parametrize(
    ("environment", "enabled"),
    [
        ({}, False),
        ({"OPENAI_API_KEY": "sk-test"}, False),
        ({"OPENAI_API_KEY": "sk-test", "STT_MAX_FILE_MINUTES": "0"}, False),
        ({"OPENAI_API_KEY": "", "STT_MAX_FILE_MINUTES": "30"}, False),
        ({"OPENAI_API_KEY": "sk-test", "STT_MAX_FILE_MINUTES": "30"}, True),
    ],
)
def test_stt_is_enabled_only_with_a_key_and_a_positive_limit(environment, enabled):
    assert load_config(environment).stt_enabled is enabled


def test_a_default_export_window_longer_than_the_maximum_period_is_refused_naming_both():
    with pytest.raises(ConfigError) as error:
        load_config({"CALL_EXPORT_DEFAULT_DAYS": "400"})

    assert "CALL_EXPORT_DEFAULT_DAYS=400" in str(error.value)
    assert "CALL_EXPORT_MAX_PERIOD_DAYS=366" in str(error.value)


def test_secrets_are_collected_for_redaction():
    config = load_config(
        {"JWT_SECRET": "jwt-secret-value", "OPENAI_API_KEY": "sk-live-123456", "B24_WEBHOOK_TOKEN": "abcdef123"}
    )

    assert {"jwt-secret-value", "sk-live-123456", "abcdef123"} <= set(config.secrets)


@pytest.mark.slow
def test_production_with_debug_on_stops_manage_py_with_one_line():
    result = manage("check", env=process_env(**PRODUCTION, DJANGO_DEBUG="true"))

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]]
    assert lines[0].startswith("mastermobile: configuration error: DJANGO_DEBUG=true is refused")


@pytest.mark.slow
def test_a_bad_value_stops_manage_py_with_one_line():
    result = manage("check", env=process_env(APP_PORT="eighty"))

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "APP_PORT" in lines[0]
