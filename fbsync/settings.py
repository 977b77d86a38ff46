"""fbsync settings: one file, driven by environment variables with safe local defaults.

Every variable is listed in `.env.example`. With DEBUG off (the default) SECRET_KEY and
TOKEN_ENCRYPTION_KEYS are required, and HTTPS-only cookies, HSTS and the https redirect are on;
scripts/setup writes a local .env with random keys and plain-http switches. Otherwise the app
runs on an embedded SQLite database against the real Graph host; `DATABASE_URL` and
`REDIS_URL` switch to the production services.
"""

import os
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.utils.csp import CSP

from fbsync.deployment import (
    DEVELOPMENT_SECRET_KEY,
    parse_proxy_ssl_header,
    require_production_secrets,
)

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is a convenience for development (scripts/setup writes one with random local
# keys); real deployments set the environment. FBSYNC_ENV_FILE= (empty) reads no file.
ENV_FILE = os.environ.get("FBSYNC_ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE:
    environ.Env.read_env(ENV_FILE, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
# Old keys still accepted for sessions and signatures while a new SECRET_KEY rolls out.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
# Tokens are encrypted at rest with Fernet. Several comma-separated keys allow rotation: the
# first encrypts, all decrypt (see README, "Rotating the token key"). Empty is only allowed
# with DEBUG (a key is then derived from SECRET_KEY); `manage.py check` validates each key.
TOKEN_ENCRYPTION_KEYS = env.list("TOKEN_ENCRYPTION_KEYS", default=[])
if DEBUG:
    SECRET_KEY = SECRET_KEY or DEVELOPMENT_SECRET_KEY
else:
    # Fail closed: a published SECRET_KEY would let anyone with a database dump decrypt every
    # Page token, and forge sessions.
    require_production_secrets(SECRET_KEY, TOKEN_ENCRYPTION_KEYS)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS and browser security (README, "Production") ---------------------------------------
# Secure unless DEBUG; a local checkout on plain http turns these off in its .env.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
# Opting in to the browsers' preload list is the operator's decision (it is hard to undo).
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Only for a proxy that always overwrites the header: `HTTP_X_FORWARDED_PROTO,https`.
# (daphne --proxy-headers already takes the scheme from X-Forwarded-Proto.)
SECURE_PROXY_SSL_HEADER = parse_proxy_ssl_header(env.str("SECURE_PROXY_SSL_HEADER", default=""))
# Scripts and styles come from our static files only: no inline script, event handler, hx-on
# or style attribute anywhere (htmx is configured in base.html not to need any).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    # Attachments are shown from Facebook's CDNs until media are stored locally.
    "img-src": [CSP.SELF, "https://*.fbcdn.net", "https://*.fbsbx.com"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

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
    "webhooks",
    "privacy",
    "media",
    "graph_sandbox",
    "fbsync.apps.FbsyncConfig",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (see fbsync/middleware.py) are answered here, before sessions and the rest.
    "fbsync.middleware.StaticFilesMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # The reader's timezone (the `tz` cookie set by static/js/timezone.js) for every time shown.
    "fbsync.timezones.ReaderTimezoneMiddleware",
    "fbsync.middleware.PrivateCacheControlMiddleware",
    # django-axes must come last: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
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
                "fbsync.access.inbox_access",
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

# Login throttling (django-axes) on the app's and the admin's login: after
# LOGIN_FAILURE_LIMIT failures from one IP address, logins from it are refused with 429 for
# LOGIN_COOLOFF_MINUTES (each new attempt restarts the wait). `manage.py axes_reset` unlocks.
# Behind a proxy, daphne --proxy-headers makes the client's address the one counted.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = True
# Failed attempts are what matter; a row per successful login (and per test force_login) not.
AXES_DISABLE_ACCESS_LOG = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

LANGUAGE_CODE = "en-us"
# The timezone of times shown to a reader whose browser has not told us its own (see
# fbsync/timezones.py), and of the worker's live sync card. Any IANA name: "Europe/Lisbon".
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "pages:list"
LOGOUT_REDIRECT_URL = "login"

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves the app's static files from the finders (no collectstatic needed for
# daphne alone); a reverse proxy may still serve STATIC_ROOT itself.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
WHITENOISE_ALLOW_ALL_ORIGINS = False

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        # Syncs run on "default"; webhook deliveries on "webhooks", which every worker also
        # polls in a lane of its own (run_worker), so a long sync never holds a delivery back.
        # Attachment downloads run on "media", in a lane of their own (media/tasks.py).
        "QUEUES": ["default", "webhooks", "media"],
    }
}
# How often a worker's webhook lane looks for a delivery to process (seconds): part of the
# delay between Meta's POST and the message on the screen.
WEBHOOK_POLL_SECONDS = env.float("WEBHOOK_POLL_SECONDS", default=0.2)
# A message a sync finds that was sent at least this long ago while the Page was subscribed,
# and that no webhook had brought, counts as a gap the sync repaired (shown on the Page).
WEBHOOK_GAP_GRACE_SECONDS = env.int("WEBHOOK_GAP_GRACE_SECONDS", default=60)

# --- Live progress (design.md §7) ------------------------------------------------------------
# Events are stored (replay through Last-Event-ID); only staff may read a page's channel.
# Our storage closes the database connection after each read: an open stream holds none.
EVENTSTREAM_STORAGE_CLASS = "pages.streams.StreamStorage"
EVENTSTREAM_CHANNELMANAGER_CLASS = "pages.streams.StaffChannelManager"
# Open streams per user and per daphne process (429 beyond); a closed stream frees its slot.
SSE_MAX_STREAMS_PER_USER = env.int("SSE_MAX_STREAMS_PER_USER", default=20)
SSE_MAX_STREAMS_PER_PROCESS = env.int("SSE_MAX_STREAMS_PER_PROCESS", default=500)
# How often an open stream re-checks that its session still belongs to an active staff user.
SSE_RECHECK_SECONDS = env.float("SSE_RECHECK_SECONDS", default=30.0)
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
FACEBOOK_APP_ID = env.str("FACEBOOK_APP_ID", default="")  # with the secret: debug_token
FACEBOOK_APP_SECRET = env.str("FACEBOOK_APP_SECRET", default="")
FACEBOOK_WEBHOOK_VERIFY_TOKEN = env.str("FACEBOOK_WEBHOOK_VERIFY_TOKEN", default="")
# Webhooks (the `webhooks` app): the largest delivery stored (Meta batches up to 1,000 events);
# how long a delivery may stay unprocessed before housekeeping processes it itself; how often
# each Page's subscription is read back (and renewed when Meta dropped it).
FACEBOOK_WEBHOOK_MAX_BODY_BYTES = env.int("FACEBOOK_WEBHOOK_MAX_BODY_BYTES", default=4 * 2**20)
FACEBOOK_WEBHOOK_RETRY_AFTER_SECONDS = env.int("FACEBOOK_WEBHOOK_RETRY_AFTER_SECONDS", default=60)
FACEBOOK_WEBHOOK_CHECK_SECONDS = env.int("FACEBOOK_WEBHOOK_CHECK_SECONDS", default=3600)
# Facebook Login ("Connect with Facebook", pages/facebook_login.py; needs the app id and secret).
# The dialog's host (the version is appended: /{v}/dialog/oauth); the sandbox in tests and demo.
FACEBOOK_DIALOG_URL = env.str("FACEBOOK_DIALOG_URL", default="https://www.facebook.com").rstrip("/")
# A Login for Business configuration: sent as `config_id` instead of the scopes.
FACEBOOK_LOGIN_CONFIG_ID = env.str("FACEBOOK_LOGIN_CONFIG_ID", default="")
# The exact redirect URI registered with Meta, when the request's own URL is not it (behind a
# proxy); empty: built from the request.
FACEBOOK_LOGIN_REDIRECT_URI = env.str("FACEBOOK_LOGIN_REDIRECT_URI", default="")
# Meta allows about 2 Conversations API calls per second per Page (graph-api.md §5.1).
FACEBOOK_CALLS_PER_SECOND = env.float("FACEBOOK_CALLS_PER_SECOND", default=2.0)
FACEBOOK_TIMEOUT_SECONDS = env.float("FACEBOOK_TIMEOUT_SECONDS", default=30.0)
# One call may take this long in all (a response that trickles in never holds a run forever).
FACEBOOK_CALL_DEADLINE_SECONDS = env.float("FACEBOOK_CALL_DEADLINE_SECONDS", default=120.0)
FACEBOOK_MAX_RETRIES = env.int("FACEBOOK_MAX_RETRIES", default=5)
# The Login picker shows Page pictures from Facebook's CDNs (img-src above); a Graph or dialog
# host that is not Facebook's (the sandbox) serves its pictures itself.
for _url in (FACEBOOK_GRAPH_URL, FACEBOOK_DIALOG_URL):
    _parts = urlsplit(_url)
    _origin = f"{_parts.scheme}://{_parts.netloc}"
    _facebook = (_parts.hostname or "").endswith(".facebook.com")
    if _parts.hostname and not _facebook and _origin not in SECURE_CSP["img-src"]:
        SECURE_CSP["img-src"].append(_origin)

# --- Sync engine ----------------------------------------------------------------------------
SYNC_PAGE_SIZE = env.int("SYNC_PAGE_SIZE", default=25)
# A run asks for more conversations per page after a few full pages, up to this many, while
# Graph accepts them (pages.sync.sizes). Graph documents no maximum; 25 keeps today's pages.
SYNC_MAX_PAGE_SIZE = env.int("SYNC_MAX_PAGE_SIZE", default=25)
# Ids per call of the census that counts a Page's conversations before a first or full sync
# (pages.sync.census; public code lists light fields with limit=400). 0 turns it off.
SYNC_CENSUS_PAGE_SIZE = env.int("SYNC_CENSUS_PAGE_SIZE", default=400)
SYNC_MESSAGES_PER_CONVERSATION = env.int("SYNC_MESSAGES_PER_CONVERSATION", default=25)
# The history backfill (pages.sync.history): older messages per call (graph-api.md §4: 100 is
# what apps use; Graph halves it for a thread too heavy), and how long a backfill running in
# a worker steps aside when a main sync of its Page waits for a worker.
HISTORY_PAGE_SIZE = env.int("HISTORY_PAGE_SIZE", default=100)
HISTORY_YIELD_SECONDS = env.float("HISTORY_YIELD_SECONDS", default=5.0)
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
# A last guard against a run that keeps calling Graph without end (about 14 h at 2 calls/s).
SYNC_MAX_GRAPH_CALLS_PER_RUN = env.int("SYNC_MAX_GRAPH_CALLS_PER_RUN", default=100_000)

# --- Retention (pages/retention.py) ---------------------------------------------------------
# A Page with a retention (days, set on its screen) has its older messages and events deleted
# by housekeeping at most this often, in batches of this many rows (one short transaction each).
RETENTION_INTERVAL_SECONDS = env.int("RETENTION_INTERVAL_SECONDS", default=86_400)
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=1000)

# --- Media kept (media/) ----------------------------------------------------------------------
# Attachments are downloaded into STORAGES["default"]: files under MEDIA_ROOT by default, or an
# S3-compatible bucket (django-storages) with MEDIA_STORAGE=s3 and the MEDIA_S3_* settings
# (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, as boto3 reads them). Files are
# served only through the staff view (media/views.py): MEDIA_URL is never exposed.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media-store")
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="local")  # "local" or "s3"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if MEDIA_STORAGE == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("MEDIA_S3_BUCKET"),
            "endpoint_url": env.str("MEDIA_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("MEDIA_S3_REGION", default="") or None,
            "location": env.str("MEDIA_S3_PREFIX", default="fbsync-media"),
            "default_acl": "private",
            "file_overwrite": True,  # names are content hashes: same name, same bytes
        },
    }
# The largest file kept (bytes), enforced while streaming; a larger one is refused.
MEDIA_MAX_BYTES = env.int("MEDIA_MAX_BYTES", default=25 * 1024 * 1024)
# Types kept, as checked against the bytes (media/sniff.py); anything else is refused.
MEDIA_ALLOWED_TYPES = env.list(
    "MEDIA_ALLOWED_TYPES",
    default=[
        "image/jpeg", "image/png", "image/gif", "image/webp",
        "video/mp4", "video/quicktime", "video/webm",
        "audio/mpeg", "audio/mp4", "audio/ogg", "audio/x-wav", "audio/aac", "audio/amr",
        "application/pdf", "application/zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ],
)  # fmt: skip
MEDIA_CONNECT_TIMEOUT_SECONDS = env.float("MEDIA_CONNECT_TIMEOUT_SECONDS", default=10.0)
MEDIA_READ_TIMEOUT_SECONDS = env.float("MEDIA_READ_TIMEOUT_SECONDS", default=30.0)
# A failed download is tried again after 1, 4, 16… minutes (capped at a day), this many times.
MEDIA_MAX_ATTEMPTS = env.int("MEDIA_MAX_ATTEMPTS", default=8)
MEDIA_RETRY_BASE_SECONDS = env.float("MEDIA_RETRY_BASE_SECONDS", default=60.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "fbsync.redaction.RedactingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        }
    },
    "filters": {"quiet_forbidden": {"()": "fbsync.log_filters.QuietForbidden"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    # A logger's own filter also covers handlers added later (pytest's caplog included).
    "loggers": {"django.request": {"filters": ["quiet_forbidden"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}
