"""Django settings: every environment variable is read once, in mastermobile.config."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import environ

from mastermobile.config import ConfigError, load_config
from mastermobile.q import CLUSTER_CACHE, CLUSTER_CACHE_TABLE, HOUSEKEEPING_TASKS, build_q_cluster

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

# Real environment variables win over .env, which wins over .env.example
# (read_env only fills names that are not set yet).  The test suite sees only
# the real environment, so a developer's .env cannot change its outcome.
for env_file in (".env", ".env.example"):
    if (BASE_DIR / env_file).is_file() and "pytest" not in sys.modules:
        environ.Env.read_env(BASE_DIR / env_file, overwrite=False)

try:
    APP_CONFIG = load_config(os.environ)
except ConfigError as error:
    # One clear line instead of a traceback (PLAT-04).
    sys.stderr.write(f"mastermobile: configuration error: {error}\n")
    raise SystemExit(2) from None

SECRET_KEY = APP_CONFIG.secret_key
DEBUG = APP_CONFIG.debug
# Debug pages and error reports hide our secrets too (mastermobile.debug).
DEFAULT_EXCEPTION_REPORTER = "mastermobile.debug.SecretSafeExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "mastermobile.debug.SecretSafeExceptionReporterFilter"
ALLOWED_HOSTS = list(APP_CONFIG.allowed_hosts)
CSRF_TRUSTED_ORIGINS = list(APP_CONFIG.csrf_trusted_origins)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "mastermobile.apps.LoginsConfig",
    "django_prometheus",
    "corsheaders",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "django_q",
    "mastermobile",
    "returns",
    "couriers",
    "calls",
    "integrations",
]

MIDDLEWARE = [
    # HTTP metrics are ours (route-template labels, PLAT-53); django-prometheus keeps the database ones.
    "mastermobile.observability.middleware.RequestIdMiddleware",
    "mastermobile.observability.middleware.HttpMetricsMiddleware",
    "mastermobile.http.NulInPathMiddleware",
    "mastermobile.api.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "mastermobile.i18n.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Turns a locked-out login into the lockout page; last but the metrics, which count that page too.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mastermobile.urls"
WSGI_APPLICATION = "mastermobile.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _databases() -> dict:
    if APP_CONFIG.database_url:
        database = environ.Env.db_url_config(APP_CONFIG.database_url)
        if database["ENGINE"] == "django.db.backends.postgresql":
            database["ENGINE"] = "django_prometheus.db.backends.postgresql"
            database.setdefault("CONN_MAX_AGE", 60)
            database.setdefault("CONN_HEALTH_CHECKS", True)
        elif database["ENGINE"] == "django.db.backends.sqlite3":
            database["ENGINE"] = "django_prometheus.db.backends.sqlite3"
            database["OPTIONS"] = _SQLITE_OPTIONS
        return {"default": database}
    VAR_DIR.mkdir(exist_ok=True)
    return {
        "default": {
            "ENGINE": "django_prometheus.db.backends.sqlite3",
            "NAME": VAR_DIR / "mastermobile.sqlite3",
            "OPTIONS": _SQLITE_OPTIONS,
        }
    }


# The web server and the django-q2 cluster share one SQLite file: WAL lets
# readers run beside the writer, IMMEDIATE transactions and a busy timeout
# make writers queue instead of failing with "database is locked".
_SQLITE_OPTIONS = {
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
DATABASES = _databases()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _caches() -> dict:
    if APP_CONFIG.uses_redis_broker:
        return {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://{APP_CONFIG.redis_host}:{APP_CONFIG.redis_port}/1",
                "KEY_PREFIX": "mastermobile",
            }
        }
    return {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        # The ORM broker keeps its cluster status in a Django cache; it must be
        # one every process sees, or `call_export` in a terminal cannot tell
        # that the worker started by `make run` is up (mastermobile.q).
        CLUSTER_CACHE: {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": CLUSTER_CACHE_TABLE},
    }


CACHES = _caches()

# Login throttling (mastermobile.logins): axes refuses a locked username + address
# pair before ModelBackend checks the password.  Failures are database rows,
# shared by every process; a success forgets that pair's failures.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = APP_CONFIG.login_failure_limit
AXES_COOLOFF_TIME = timedelta(minutes=APP_CONFIG.login_lockout_minutes)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "mastermobile.http.client_address"
AXES_LOCKOUT_CALLABLE = "mastermobile.logins.lockout_response"
# mastermobile.admin registers the attempt and login lists with Russian columns and the Unlock action.
AXES_ENABLE_ADMIN = False
# No start-up banner in every process; lockout log lines name the locked pair (masked).
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Staff work in Russian and in Moscow time: pages follow the browser's
# Accept-Language among LANGUAGES, falling back to LANGUAGE_CODE; datetimes are
# stored in UTC and shown in CALL_EXPORT_TIMEZONE.  The API answers in English
# whatever the client asks (mastermobile.i18n.LocaleMiddleware).
LANGUAGE_CODE = APP_CONFIG.language_code
LANGUAGES = [("ru", "Русский"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["mastermobile.formats"]
TIME_ZONE = APP_CONFIG.call_export_timezone
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on a missing root
STATICFILES_DIRS = [BASE_DIR / "static"]
LOCAL_STORAGE_DIR = Path(APP_CONFIG.local_storage_dir or VAR_DIR / "storage")


def _storages() -> dict:
    if APP_CONFIG.storage_backend == "s3":
        default = {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": APP_CONFIG.s3_bucket,
                "endpoint_url": APP_CONFIG.s3_endpoint_url or None,
                "region_name": APP_CONFIG.s3_region or None,
                "access_key": APP_CONFIG.s3_access_key_id or None,
                "secret_key": APP_CONFIG.s3_secret_access_key or None,
                "default_acl": "private",
                "querystring_auth": True,
                "file_overwrite": True,
                # STT-22: server-side encryption of every stored object.
                "object_parameters": {"ServerSideEncryption": "AES256"},
            },
        }
    else:
        default = {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": LOCAL_STORAGE_DIR, "base_url": None},
        }
    return {
        "default": default,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    }


STORAGES = _storages()

# The JSON limit (PLAT-70) is enforced by BodySizeLimitMiddleware for the
# API; Django's own limit guards forms (admin) with the same number.
DATA_UPLOAD_MAX_MEMORY_SIZE = APP_CONFIG.max_json_body_bytes
MAX_JSON_BODY_BYTES = APP_CONFIG.max_json_body_bytes

CORS_ALLOWED_ORIGINS = list(APP_CONFIG.cors_origins)
CORS_URLS_REGEX = r"^/api/.*$"
CORS_EXPOSE_HEADERS = ["X-Request-Id", "Location", "Idempotent-Replayed", "Retry-After"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "mastermobile.api.authentication.JWTAuthentication",
        "mastermobile.api.authentication.StaffSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["mastermobile.api.permissions.HasRole"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["mastermobile.api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "mastermobile.api.pagination.PagePagination",
    "PAGE_SIZE": 20,
    "DEFAULT_THROTTLE_CLASSES": ["mastermobile.api.throttling.SubjectRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"subject": APP_CONFIG.api_throttle_rate},
    "EXCEPTION_HANDLER": "mastermobile.api.errors.problem_exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "mastermobile.api.errors.ProblemJSONContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "mastermobile.api.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "UNAUTHENTICATED_USER": None,
    # No DATETIME_FORMAT: API date-times go out through mastermobile.api.datetimes.format_rfc3339
    # (UTC, Z, four-digit year); DRF's own field would render TIME_ZONE with a strftime "%Y".
}
MAX_PAGE_SIZE = APP_CONFIG.max_page_size
# Where the API's per-subject throttle counts, shared by every process: the Redis cache
# when the deployment has one, otherwise a TokenBucket row (mastermobile.api.throttling).
API_THROTTLE_STORE = "redis" if APP_CONFIG.uses_redis_broker else "database"

SPECTACULAR_SETTINGS = {
    "TITLE": "MasterMobile API",
    "DESCRIPTION": (
        "Integration API for 1C, Bitrix24 and the Walking Warehouse courier apps. "
        "Authenticate with `Authorization: Bearer <JWT>` (HS256, issued by `manage.py issue_token`); "
        "errors are `application/problem+json`; writes require an `Idempotency-Key` header."
    ),
    "VERSION": __import__("mastermobile").__version__,
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]",
    # Swagger UI and ReDoc from drf-spectacular-sidecar's static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets several components share get one name each.
    "ENUM_NAME_OVERRIDES": {
        "WWOrderStatusEnum": "couriers.models.OrderStatus",
        "WWAssignmentStatusEnum": "couriers.models.Assignment.Status",
    },
}

Q_CLUSTER = build_q_cluster(APP_CONFIG)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "mastermobile.observability.logging.RequestContextFilter"},
        "quiet_tasks": {"()": "mastermobile.observability.logging.QuietTasksFilter", "names": HOUSEKEEPING_TASKS},
        "redact": {
            "()": "mastermobile.observability.logging.RedactionFilter",
            "secrets": APP_CONFIG.secrets,
            "mask_pii": APP_CONFIG.pii_masking_enabled,
        },
    },
    "formatters": {
        "json": {
            "()": "mastermobile.observability.logging.JsonFormatter",
            "service": "mastermobile",
            "environment": APP_CONFIG.app_env,
        },
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": APP_CONFIG.log_format,
            "filters": ["quiet_tasks", "request_context", "redact"],
        },
    },
    "root": {"handlers": ["console"], "level": APP_CONFIG.log_level},
    "loggers": {
        "django.server": {"level": "WARNING"},
        # Request errors are logged by our exception handler with the request id.
        "django.request": {"level": "ERROR"},
        # Failures and lockouts (WARNING) without the per-attempt housekeeping lines.
        "axes": {"level": "WARNING"},
        # With DEBUG, Django logs every SQL statement with its parameters at DEBUG: request data.
        "django.db.backends": {"level": "INFO"},
        # The openai SDK's HTTP client logs every request at INFO; the outbound policy's
        # stt.transcribe lines say the same with the job's context, so only its warnings stay.
        "httpx2": {"level": "WARNING"},
    },
}

SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
if APP_CONFIG.app_env == "production":
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
