"""The one settings module: everything comes from the environment.

With no environment at all the embedded defaults apply (SQLite and a file
cache under `var/`, Celery tasks run in-process); `make run` uses them, with a
Celery worker beside the dev server on the filesystem broker. Production sets
DATABASE_URL, REDIS_URL, CELERY_BROKER_URL, SECRET_KEY and FLAG_SECRET;
`ctfplatform/checks.py` refuses default secrets outside debug.
"""

import contextlib
import ipaddress
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ImproperlyConfigured

from ctfplatform.env import (
    env_bool,
    env_database,
    env_email,
    env_int,
    env_list,
    env_path,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env_path("VAR_DIR", BASE_DIR / "var")

# Placeholders that the system checks refuse outside debug mode.
DEFAULT_SECRET_KEY = "insecure-default-secret-key-set-SECRET_KEY"  # noqa: S105
DEFAULT_FLAG_SECRET = "insecure-default-flag-secret-set-FLAG_SECRET"  # noqa: S105

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", DEFAULT_SECRET_KEY)
# Keys the HMAC that derives per-team flags; rotating it changes every derived flag.
FLAG_SECRET = env_str("FLAG_SECRET", DEFAULT_FLAG_SECRET)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
PORT = env_int("PORT", 8000, minimum=1, maximum=65535)
CATALOG_DIR = env_path("CATALOG_DIR", BASE_DIR / "examples" / "catalog")

# Competition-wide player settings.
CTF_NAME = env_str("CTF_NAME", "CTF")
REGISTRATION_OPEN = env_bool("REGISTRATION_OPEN", True)
# Most members a team may have; 0 means no limit.
TEAM_SIZE_LIMIT = env_int("TEAM_SIZE_LIMIT", 4, minimum=0)

INSTALLED_APPS = [
    # Django's admin with the event dashboard as its index (ctfplatform/admin_site.py).
    "ctfplatform.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served locally (no CDN)
    "django_htmx",
    # The house, bottom floor first (see ARCHITECTURE.md).
    "audit",
    "requirements",
    "accounts",
    "challenges",
    "scoring",
    "nodes",
    "ctfplatform",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "ctfplatform.urls"
WSGI_APPLICATION = "ctfplatform.wsgi.application"

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
                "ctfplatform.context.site",
            ],
        },
    },
]

# Database: PostgreSQL from DATABASE_URL in production and tests, SQLite otherwise.
DATABASES = {"default": env_database("DATABASE_URL", VAR_DIR / "db.sqlite3")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache (also flags and rate limits): Redis when REDIS_URL is set.
REDIS_URL = env_url("REDIS_URL", {"redis", "rediss", "unix"})
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                # Fail fast: callers fall back to the database when Redis is down.
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                # A cache miss, not an error page, when Redis is down.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
else:
    # Files under VAR_DIR, shared by every process of the installation (server,
    # commands, task worker): a revocation made by a command counts at once.
    CACHES = {
        "default": {
            "BACKEND": "ctfplatform.cache.SharedFileCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 20_000},
        }
    }

DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# Mail (password resets): SMTP from EMAIL_URL or EMAIL_HOST & co.; printed to
# the console otherwise, so `make run` shows the mail in its output.
globals().update(env_email())
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ctf@localhost")
EMAIL_TIMEOUT = 10

# Celery: a real broker when CELERY_BROKER_URL is set, tasks in-process otherwise.
# `filesystem://` (what `make run` uses) needs no server: messages are files
# under VAR_DIR/celery, shared by the dev server and the worker beside it.
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL", {"redis", "rediss", "amqp", "memory", "filesystem"}
)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
if CELERY_BROKER_URL.startswith("filesystem:"):
    for _folder in ("queue", "control"):
        (VAR_DIR / "celery" / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "celery" / "queue"),
        "data_folder_out": str(VAR_DIR / "celery" / "queue"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
    }
CELERY_RESULT_BACKEND = env_url("CELERY_RESULT_BACKEND", {"redis", "rediss"}) or None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# Nodes: the health check's period, and how long a task may show no sign of
# life before the sweep re-queues (then fails) it; also a build lock's lease.
NODES_CHECK_INTERVAL = env_int("NODES_CHECK_INTERVAL", 60, minimum=5)
NODES_STALE_AFTER = env_int("NODES_STALE_AFTER", 120, minimum=10)
CELERY_BEAT_SCHEDULE = {
    "nodes-health": {
        "task": "nodes.tasks.check_nodes",
        "schedule": NODES_CHECK_INTERVAL,
    },
    "nodes-sweep-stale-tasks": {"task": "nodes.tasks.sweep_tasks", "schedule": 60.0},
    # Expired instances, the competition's end, stuck starts and lost nodes.
    "nodes-reap-instances": {"task": "nodes.tasks.reap_instances", "schedule": 60.0},
    # Containers the database does not know, rows whose containers vanished.
    "nodes-reconcile-instances": {
        "task": "nodes.tasks.reconcile_instances",
        "schedule": 60.0,
    },
    # Redis copies of flags rotated while Redis was down.
    "scoring-repair-flags": {
        "task": "scoring.tasks.flags_repair_task",
        "schedule": 60.0,
    },
}
# Per-team instances: limits of every container unless the spec says otherwise
# (memory in MiB, CPUs in thousandths), how long a start may take before the
# reaper fails it, and the pool each instance's network takes a /28 from.
INSTANCES_MEMORY_MB = env_int("INSTANCES_MEMORY_MB", 256, minimum=16)
INSTANCES_MILLICPUS = env_int("INSTANCES_MILLICPUS", 500, minimum=10)
INSTANCES_PIDS = env_int("INSTANCES_PIDS", 256, minimum=8)
INSTANCES_START_DEADLINE = env_int("INSTANCES_START_DEADLINE", 300, minimum=30)
# The mark on this installation's containers (default: derived from its
# database), so two installations sharing an engine never remove each other's.
INSTANCES_DEPLOYMENT = env_str("INSTANCES_DEPLOYMENT", "")
# A node offline this long has lost its instances (their teams start again).
INSTANCES_LOST_AFTER = env_int("INSTANCES_LOST_AFTER", 180, minimum=0)
INSTANCES_SUBNETS = env_str("INSTANCES_SUBNETS", "10.250.0.0/16")
try:
    if ipaddress.ip_network(INSTANCES_SUBNETS).prefixlen > 28:
        raise ValueError("smaller than a /28")
except ValueError as _error:
    raise ImproperlyConfigured(
        f"INSTANCES_SUBNETS={INSTANCES_SUBNETS!r} is not an IPv4 network of "
        f"a /28 or more ({_error})"
    ) from None

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
_VALIDATORS = "django.contrib.auth.password_validation."
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": _VALIDATORS + name}
    for name in [
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    ]
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "ctfplatform.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Every list answers {"items", "total", "offset", "limit"}; views need not
    # import it (the apps sit below ctfplatform).
    "DEFAULT_PAGINATION_CLASS": "ctfplatform.pagination.OffsetPagination",
    "DEFAULT_SCHEMA_CLASS": "ctfplatform.schema.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "CTF platform API",
    "DESCRIPTION": (
        "Players' and organizers' routes. Authenticate with "
        "`Authorization: Token <token>` (or `Bearer`); routes under `admin/` "
        'need a staff account. Errors answer `{"error": code, "detail": '
        "message}`, with `fields` naming each bad parameter on a 400."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    # Several apps have a "kind" or a "status": each its own enum's name.
    "ENUM_NAME_OVERRIDES": {
        "TaskKindEnum": "nodes.models.TaskKind",
        "TaskStatusEnum": "nodes.models.TaskStatus",
        "OutcomeStatusEnum": "nodes.models.OutcomeStatus",
        "ImageKindEnum": "nodes.models.ImageKind",
        "NodeStatusEnum": "nodes.models.NodeStatus",
        "InstanceStatusEnum": "nodes.models.InstanceStatus",
        "ImageStatusEnum": "nodes.models.ImageStatus",
        "PrincipalKindEnum": "scoring.models.PrincipalKind",
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
try:
    ZoneInfo(TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(
        f"TIME_ZONE={TIME_ZONE!r} is not a known time zone"
    ) from None
USE_I18N = False
USE_TZ = True
CELERY_TIMEZONE = TIME_ZONE

STATIC_URL = "static/"
STATIC_ROOT = env_path("STATIC_ROOT", VAR_DIR / "static")
# Handouts uploaded in the admin; no URL serves this folder, only the download
# view behind the access check.
MEDIA_ROOT = VAR_DIR / "uploads"
with contextlib.suppress(OSError):  # WhiteNoise warns on every start when it is absent
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves straight from the finders: no collectstatic step to forget.
WHITENOISE_USE_FINDERS = True

# Behind a TLS-terminating proxy set HTTPS=true for secure cookies and HSTS.
HTTPS = env_bool("HTTPS", False)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 3600
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Sessions read from the cache (Redis in production), written through to the
# database: a logged-in page costs no session query.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
