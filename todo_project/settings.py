"""Settings for todo-backend, read from the environment (and a .env file in the
working directory when present). See the configuration table in README.md."""

import hashlib
import hmac
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import load_dotenv
from psycopg_pool.base import AttemptWithBackoff

from push import config as push_config
from todo_project.env import (
    ConfigurationError,
    env_bool,
    env_choice,
    env_database,
    env_float,
    env_int,
    env_list,
    env_origins,
    env_rate,
    env_secret,
    env_str,
    env_url,
)
from todo_project.log import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

# The environment wins over .env: values set by the platform are never overridden.
load_dotenv(Path.cwd() / ".env", override=False)

# --- Django core -------------------------------------------------------------

DEBUG = env_bool("DEBUG", False)
BETTER_AUTH_SECRET = env_secret("BETTER_AUTH_SECRET", required=True)
BETTER_AUTH_SECRET_PREVIOUS = env_secret("BETTER_AUTH_SECRET_PREVIOUS")
# Django's own key signs the admin's sessions. Set DJANGO_SECRET_KEY in
# production: otherwise it is derived from BETTER_AUTH_SECRET, which a
# frontend may share. The previous key, while rotating, still verifies.
SECRET_KEY = (
    env_secret("DJANGO_SECRET_KEY")
    or hmac.new(BETTER_AUTH_SECRET.encode(), b"todo-backend django SECRET_KEY", hashlib.sha256).hexdigest()
)
SECRET_KEY_FALLBACKS = [key for key in [env_secret("DJANGO_SECRET_KEY_PREVIOUS")] if key]
# Probes are answered before Django, so a strict list does not break them.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["*"])
PORT = env_int("PORT", 8001, minimum=1, maximum=65535)
RUN_MIGRATIONS = env_bool("RUN_MIGRATIONS", False)

INSTALLED_APPS = [
    "todo_project.apps.TodoAdminConfig",  # django.contrib.admin with sign-in limits
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.postgres",
    "servestatic.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "procrastinate.contrib.django",  # the reminders' job queue (tasks/reminders.py)
    "accounts",
    "tasks",
    "chat",
    "events",  # live changes: the feed, the event stream, task history
    "idempotency",  # safe retries: Idempotency-Key
    "push",  # Web Push: subscriptions, and reminders delivered to them
    "health",
]

# Every entry is async-native: see todo_project/django_middleware.py for why
# Django's own security, session, auth and message middleware are not here.
MIDDLEWARE = [
    "todo_project.django_middleware.SecurityMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "todo_project.django_middleware.AdminSessionMiddleware",
]
# The admin checks look for Django's session, auth and message middleware by
# name; AdminSessionMiddleware runs exactly those for /admin/.
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410"]

ROOT_URLCONF = "todo_project.urls"
ASGI_APPLICATION = "todo_project.asgi.application"
APPEND_SLASH = False
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Files are found in the installed apps too, so /docs and /admin/ have their
# assets with or without a collectstatic step.
SERVESTATIC_USE_FINDERS = True

# One limit for every body, one for the request line and headers; the ASGI
# layer in todo_project/middleware.py enforces both before Django reads the
# request, and the image's HTTP protocol (todo_project/protocol.py) refuses an
# oversized head before buffering it.
MAX_REQUEST_BODY_BYTES = 1024 * 1024
MAX_REQUEST_HEAD_BYTES = 16 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "todo_project.exceptions.csrf_failure"
# Outside DEBUG the admin's cookies go over HTTPS only, and HTTPS answers
# carry HSTS. Behind a TLS ingress the scheme comes from X-Forwarded-Proto,
# which the server takes from FORWARDED_ALLOW_IPS's proxies only.
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = 0 if DEBUG else 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
FORWARDED_ALLOW_IPS = env_str("FORWARDED_ALLOW_IPS", "")
ADMIN_ENABLED = env_bool("ADMIN_ENABLED", True)

# Django's hasher list: PBKDF2 by default. Sign-up checks these validators.
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.validators.PasswordVarietyValidator"},
]

# --- Database ----------------------------------------------------------------

DB_POOL_MIN = env_int("DB_POOL_MIN", 5, minimum=0)
DB_POOL_MAX = env_int("DB_POOL_MAX", 20, minimum=2)
if DB_POOL_MAX < DB_POOL_MIN:
    raise ConfigurationError(f"DB_POOL_MAX ({DB_POOL_MAX}) must be at least DB_POOL_MIN ({DB_POOL_MIN}).")
# Two pools share these numbers: psycopg's async pool for the task routes
# served on the event loop (tasks/asgi.py), Django's for the rest.
ASYNC_POOL_MAX = DB_POOL_MAX // 2
ASYNC_POOL_MIN = DB_POOL_MIN // 2

# CONN_MAX_AGE=0: under ASGI every request runs in its own thread, so
# persistent connections would pile up one per thread; the pool reuses them.
# CONN_HEALTH_CHECKS: a connection that died with a PostgreSQL restart is
# checked and replaced before it is handed out.
DATABASES = {
    "default": env_database(
        "DATABASE_URL",
        pool={
            "min_size": DB_POOL_MIN - ASYNC_POOL_MIN,
            "max_size": DB_POOL_MAX - ASYNC_POOL_MAX,
            "timeout": env_float("DB_POOL_TIMEOUT", 30.0, minimum=0.1),
            "max_idle": env_float("DB_POOL_MAX_IDLE", 300.0, minimum=1),
        },
    )
}

# psycopg_pool retries a failed connection after 1 s, then 2, 4, 8... so
# after an outage of a few seconds the next attempt could be seconds away from
# the database's return. A steady 0.5 s keeps recovery under a second, at the
# cost of two connection attempts a second per missing connection meanwhile.
AttemptWithBackoff.INITIAL_DELAY = 0.5
AttemptWithBackoff.DELAY_BACKOFF = 1.0

# --- Cache: the rate limits' counters -----------------------------------------

# With REDIS_URL, every replica counts in one Redis (atomic INCR), so a limit
# holds across replicas; without it, each process counts in its own memory
# (one process: the quick start). While Redis does not answer, the limits
# count in the process's memory ("fallback", todo_project/throttling.py).
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL and urlsplit(REDIS_URL).scheme not in ("redis", "rediss", "unix"):
    raise ConfigurationError(f"REDIS_URL must be a redis://, rediss:// or unix:// URL, got {REDIS_URL!r}.")
CACHE_KEY_PREFIX = env_str("CACHE_KEY_PREFIX", "todo")
_LOCAL_CACHE = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "KEY_PREFIX": CACHE_KEY_PREFIX}
CACHES = {"default": _LOCAL_CACHE}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            # A Redis that is down or slow costs a request at most this long
            # (and only once per REDIS_RETRY_SECONDS, see throttling.py).
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        },
        "fallback": {**_LOCAL_CACHE, "LOCATION": "fallback"},
    }

# --- Logging -----------------------------------------------------------------

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), upper=True)
LOG_FORMAT = env_choice("LOG_FORMAT", "text", ("text", "json"))
LOGGING = logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)

# --- CORS --------------------------------------------------------------------

CORS_ALLOWED_ORIGINS = env_origins("FRONTEND_URL", required=True)
CORS_ALLOW_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
CORS_ALLOW_HEADERS = [
    "authorization", "content-type", "idempotency-key", "if-match", "if-none-match", "last-event-id",
]  # fmt: skip
CORS_EXPOSE_HEADERS = [
    "Location", "X-Total-Count", "Retry-After", "ETag", "Idempotent-Replayed",
    "x-vercel-ai-ui-message-stream",
]  # fmt: skip
# Browser clients such as axios with withCredentials need it; only the
# origins above ever get it (a wildcard is refused by env_origins).
CORS_ALLOW_CREDENTIALS = True
CORS_PREFLIGHT_MAX_AGE = 86400

# --- REST framework ----------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["todo_project.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.auth.BearerAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
    # Throttles key on the connection's address, never on a client-sent header.
    "NUM_PROXIES": 0,
    "EXCEPTION_HANDLER": "todo_project.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# --- JWT ---------------------------------------------------------------------

# Only HMAC algorithms: tokens are signed with a shared secret. "none" and the
# asymmetric families are refused here, at start-up.
JWT_ALGORITHM = env_choice("JWT_ALGORITHM", "HS256", ("HS256", "HS384", "HS512"), upper=True)
JWT_EXPIRATION_DAYS = env_int("JWT_EXPIRATION_DAYS", 7, minimum=1, maximum=365)
# Better Auth's JWT plugin signs with an asymmetric key (EdDSA by default) and
# publishes the public keys at {its base URL}/api/auth/jwks. With this set,
# such tokens verify against those keys (accounts/jwks.py), next to the
# HMAC tokens of BETTER_AUTH_SECRET. ISSUER and AUDIENCE, when set, must match
# the iss and aud of every token not issued by this API.
BETTER_AUTH_JWKS_URL = env_url("BETTER_AUTH_JWKS_URL", "") if env_str("BETTER_AUTH_JWKS_URL", "") else ""
BETTER_AUTH_ISSUER = env_str("BETTER_AUTH_ISSUER", "")
BETTER_AUTH_AUDIENCE = env_str("BETTER_AUTH_AUDIENCE", "")
AUTH_RATE_LIMIT = env_rate("AUTH_RATE_LIMIT", "20/minute")
AUTH_FAILURE_LIMIT = env_rate("AUTH_FAILURE_LIMIT", "10/hour")

# --- Tasks -------------------------------------------------------------------

MAX_TASKS_PER_USER = env_int("MAX_TASKS_PER_USER", 10_000, minimum=1, maximum=1_000_000)

# Reminders are procrastinate jobs in PostgreSQL, run by `manage.py run_worker`
# (tasks/reminders.py). Its jobs are found here, not in every app's tasks.py.
# The API server runs a worker too unless RUN_WORKER=false (a deployment with
# a worker of its own); any number of workers fire each reminder once.
RUN_WORKER = env_bool("RUN_WORKER", True)
PROCRASTINATE_AUTODISCOVER_MODULE_NAME = "reminders"
PROCRASTINATE_IMPORT_PATHS = ["tasks.reminders", "push.delivery"]

# --- Web Push (push/) ----------------------------------------------------------

# Off unless a VAPID key is set (`python manage.py vapid_key` makes one); a
# subject is then required. Endpoints only on WEB_PUSH_ALLOWED_HOSTS.
VAPID_PRIVATE_KEY = env_str("VAPID_PRIVATE_KEY")
VAPID_SUBJECT = env_str("VAPID_SUBJECT")
WEB_PUSH_ALLOWED_HOSTS = push_config.allowed_hosts(
    env_list("WEB_PUSH_ALLOWED_HOSTS", list(push_config.DEFAULT_ALLOWED_HOSTS))
)
if VAPID_PRIVATE_KEY:
    push_config.load_vapid_key(VAPID_PRIVATE_KEY)
    push_config.check_subject(env_str("VAPID_SUBJECT", required=True))

# --- Live changes (events/) ----------------------------------------------------

# Changes older than this are pruned by the worker; a cursor before them is 410.
EVENTS_RETENTION_DAYS = env_int("EVENTS_RETENTION_DAYS", 30, minimum=1, maximum=3650)
# An open event stream writes ": ping" at least this often, and ends this long
# after its token expired or was revoked at the latest.
EVENTS_HEARTBEAT_SECONDS = env_int("EVENTS_HEARTBEAT_SECONDS", 15, minimum=1, maximum=300)
# Open event streams of one user on one process; the next one is 429.
EVENTS_MAX_STREAMS_PER_USER = env_int("EVENTS_MAX_STREAMS_PER_USER", 10, minimum=1, maximum=1000)

# --- Safe retries (idempotency/) ---------------------------------------------

# The first answer to a write with an Idempotency-Key is replayed this long.
IDEMPOTENCY_TTL_HOURS = env_int("IDEMPOTENCY_TTL_HOURS", 24, minimum=1, maximum=24 * 365)

# --- OpenAPI -----------------------------------------------------------------

SPECTACULAR_SETTINGS = {
    "TITLE": "todo-backend API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "DESCRIPTION": (
        "Multi-user Todo API with an AI assistant. Every /api/... route also answers under /api/v1/... . "
        "Errors are JSON: {detail, code[, errors]}."
    ),
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs themselves need no token; an Authorization header is ignored.
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "PREPROCESSING_HOOKS": ["todo_project.schema.exclude_versioned_twins"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "todo_project.schema.add_probes",
        "todo_project.schema.add_mcp",
        "todo_project.schema.add_event_stream",
        "todo_project.schema.add_retries_and_versions",
    ],
}

# --- Chat assistant ----------------------------------------------------------

LLM_PROVIDER = env_choice("LLM_PROVIDER", "GROQ", ("GROQ", "OPENROUTER", "LOCAL"), upper=True)
GROQ_API_KEY = env_str("GROQ_API_KEY", required=LLM_PROVIDER == "GROQ")
GROQ_BASE_URL = env_url("GROQ_BASE_URL", "https://api.groq.com")
GROQ_MODEL = env_str("GROQ_MODEL", "openai/gpt-oss-20b")
OPENROUTER_API_KEY = env_str("OPENROUTER_API_KEY", required=LLM_PROVIDER == "OPENROUTER")
OPENROUTER_BASE_URL = env_url("OPENROUTER_BASE_URL", "https://openrouter.ai/api/v1")
OPENROUTER_MODEL = env_str("OPENROUTER_MODEL", "openai/gpt-oss-20b")
AGENT_NAME = env_str("AGENT_NAME", "TodoAssistant")
AGENT_INSTRUCTIONS = env_str("AGENT_INSTRUCTIONS")
MAX_TOKENS = env_int("MAX_TOKENS", 2000, minimum=1, maximum=131072)
TEMPERATURE = env_float("TEMPERATURE", 0.7, minimum=0.0, maximum=2.0)
LLM_TIMEOUT_SECONDS = env_float("LLM_TIMEOUT_SECONDS", 8.0, minimum=0.1, maximum=120)
CHAT_HISTORY_LIMIT = env_int("CHAT_HISTORY_LIMIT", 20, minimum=0, maximum=1000)
CHAT_MAX_TOOL_STEPS = env_int("CHAT_MAX_TOOL_STEPS", 5, minimum=1, maximum=20)
CHAT_RATE_LIMIT = env_rate("CHAT_RATE_LIMIT", "30/minute")
