"""fbsync settings: one file, driven by environment variables with safe local defaults.

Every variable is listed in `.env.example`. Without any of them the app runs on an embedded
SQLite database against the real Graph host; `DATABASE_URL` and `REDIS_URL` switch to the
production services.
"""

import os
import tempfile
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is a convenience for development; real deployments set the environment.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# The fallback key is only good for local runs; production must set SECRET_KEY.
SECRET_KEY = env.str("SECRET_KEY", default="insecure-local-development-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# daphne serves the app (`daphne fbsync.asgi:application`, see scripts/demo); it is not an
# installed app because that only adds an ASGI `runserver` and costs every command 0.15 s.
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_eventstream",
    "django_tasks_db",
    "pages",
    "conversations",
    "graph_sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "fbsync.urls"

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

WSGI_APPLICATION = "fbsync.wsgi.application"
ASGI_APPLICATION = "fbsync.asgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while a worker writes; the busy timeout makes writers wait
    # for each other instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    # Tests that run the CLI in a subprocess need a file they can both open; one per test
    # session, so two test runs on one machine never share it.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"fbsync-test-{os.getpid()}.sqlite3")
    }
else:
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "pages:list"
LOGOUT_REDIRECT_URL = "login"

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
    }
}

# --- Live progress (design.md §7) ------------------------------------------------------------
# Events are stored (replay through Last-Event-ID); only staff may read a page's channel.
EVENTSTREAM_STORAGE_CLASS = "django_eventstream.storage.DjangoModelStorage"
EVENTSTREAM_CHANNELMANAGER_CLASS = "pages.streams.StaffChannelManager"
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    from redis.connection import parse_url

    # Worker processes reach the browsers connected to daphne through Redis pub/sub.
    EVENTSTREAM_REDIS = {
        **parse_url(REDIS_URL),
        "socket_timeout": 2,
        "socket_connect_timeout": 2,
        "health_check_interval": 10,
    }
# At most this many progress updates a second per page; the final state is always sent.
SYNC_PROGRESS_MAX_PER_SECOND = env.float("SYNC_PROGRESS_MAX_PER_SECOND", default=4.0)
# Without Redis, daphne polls the event counter this often to wake its streams.
SYNC_PROGRESS_POLL_SECONDS = env.float("SYNC_PROGRESS_POLL_SECONDS", default=0.3)

# --- Facebook Graph API -------------------------------------------------------------------
# The base URL has no version in it; the version is sent explicitly on every call.
FACEBOOK_GRAPH_URL = env.str("FACEBOOK_GRAPH_URL", default="https://graph.facebook.com").rstrip("/")
FACEBOOK_GRAPH_VERSION = env.str("FACEBOOK_GRAPH_VERSION", default="v26.0")
FACEBOOK_APP_SECRET = env.str("FACEBOOK_APP_SECRET", default="")
FACEBOOK_WEBHOOK_VERIFY_TOKEN = env.str("FACEBOOK_WEBHOOK_VERIFY_TOKEN", default="")
# Meta allows about 2 Conversations API calls per second per Page (graph-api.md §5.1).
FACEBOOK_CALLS_PER_SECOND = env.float("FACEBOOK_CALLS_PER_SECOND", default=2.0)
FACEBOOK_TIMEOUT_SECONDS = env.float("FACEBOOK_TIMEOUT_SECONDS", default=30.0)
FACEBOOK_MAX_RETRIES = env.int("FACEBOOK_MAX_RETRIES", default=5)

# Tokens are encrypted at rest with Fernet. Several comma-separated keys allow rotation: the
# first encrypts, all decrypt (see README, "Rotating the token key"). The fallback derives a
# key from SECRET_KEY so a local checkout works with no setup.
TOKEN_ENCRYPTION_KEYS = env.list("TOKEN_ENCRYPTION_KEYS", default=[])

# --- Sync engine ----------------------------------------------------------------------------
SYNC_PAGE_SIZE = env.int("SYNC_PAGE_SIZE", default=25)
SYNC_MESSAGES_PER_CONVERSATION = env.int("SYNC_MESSAGES_PER_CONVERSATION", default=25)
# Incremental syncs re-walk this much below the last high-water mark, because Facebook's order
# is not guaranteed and timestamps have one-second resolution (graph-api.md §11).
SYNC_INCREMENTAL_OVERLAP_SECONDS = env.int("SYNC_INCREMENTAL_OVERLAP_SECONDS", default=300)
# A run whose heartbeat is older than this is taken as dead (its worker was killed).
SYNC_HEARTBEAT_TIMEOUT_SECONDS = env.int("SYNC_HEARTBEAT_TIMEOUT_SECONDS", default=60)
# How often workers (and the web server) look for runs whose worker died.
SYNC_REAPER_INTERVAL_SECONDS = env.float("SYNC_REAPER_INTERVAL_SECONDS", default=10.0)
# Runs owned by workers (web, schedule, admin) whose worker died are resumed by a live worker.
SYNC_AUTO_RESUME_REAPED = env.bool("SYNC_AUTO_RESUME_REAPED", default=True)
# Every connected page is synced incrementally this often (0: no schedule; cron can use
# `sync_page --all` instead).
SYNC_SCHEDULE_INTERVAL_SECONDS = env.int("SYNC_SCHEDULE_INTERVAL_SECONDS", default=0)
# A worker waits out shorter rate-limit pauses; longer ones park the run and free the worker.
SYNC_MAX_INLINE_PAUSE_SECONDS = env.float("SYNC_MAX_INLINE_PAUSE_SECONDS", default=15.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "fbsync.redaction.RedactingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}
