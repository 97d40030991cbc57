"""Parley settings: one namespace, read from the environment, defaults that run on one machine.

Environment variables (all optional):
    DATABASE_URL      database (default: SQLite in var/parley.sqlite3)
    REDIS_URL         Redis for the Celery broker, cache and channel layer
                      (default: the embedded server the launcher starts on port 6389)
    PARLEY_SECRET_KEY secret key (default: generated once into var/secret.key)
    PARLEY_DEBUG      "1" for debug pages
    PARLEY_ALLOWED_HOSTS  comma-separated host names (default: localhost names)
    PARLEY_AUDIT_RETENTION_DAYS  audit log retention, 90..365 (default 365)
    PARLEY_EMAIL_URL  "console" (default) or "smtp://user:pass@host:port"
    PARLEY_HTTPS      "1" when users reach Parley over HTTPS (a TLS-terminating proxy in
                      front): Secure cookies and HSTS. Off by default (`make run` is plain
                      http://127.0.0.1); on in docker-compose.yml
    PARLEY_HSTS_SECONDS  Strict-Transport-Security max-age with PARLEY_HTTPS (default 1 year)
    PARLEY_S3_BUCKET  an S3-compatible bucket for Django's default storage (uploaded media,
                      encrypted attachments, reports); with PARLEY_S3_ENDPOINT_URL (e.g. MinIO),
                      PARLEY_S3_ACCESS_KEY_ID, PARLEY_S3_SECRET_ACCESS_KEY, PARLEY_S3_REGION,
                      PARLEY_S3_ADDRESSING_STYLE ("path" by default). Unset: local files in
                      var/storage (one machine)
    PARLEY_MEDIA_LINK_ALLOW_PRIVATE  "1" lets media sent by link come from private/loopback
                      addresses (a lab); off by default
    PARLEY_TRUSTED_PROXIES  comma-separated addresses or CIDR networks of the reverse proxies
                      whose X-Forwarded-For / X-Forwarded-Proto are believed (default: none,
                      so nobody can choose the client address rate limits count)
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Any

import dj_database_url
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("PARLEY_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    from_env = os.environ.get("PARLEY_SECRET_KEY")
    if from_env:
        return from_env
    # Generated once per installation so sessions and encrypted fields survive restarts.
    path = VAR_DIR / "secret.key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("PARLEY_DEBUG")
# Under pytest (or with PARLEY_TESTING=1): fast password hashing, and a namespace of its own
# for queues, channel groups and cache keys so a test run never meets a running Parley. A
# pytest-xdist worker is started as `python -c` and told its id in the environment.
_argv0 = Path(sys.argv[0])
_UNDER_PYTEST = (
    _argv0.name in {"pytest", "py.test"}
    or _argv0.parent.name == "pytest"
    or (sys.argv[0] == "-c" and "PYTEST_XDIST_WORKER" in os.environ)
)
TESTING = _env_bool("PARLEY_TESTING") or _UNDER_PYTEST
NAMESPACE = os.environ.get("PARLEY_NAMESPACE") or (
    f"parley-test-{os.getpid()}" if TESTING else "parley"
)
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("PARLEY_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(
        ","
    )
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("PARLEY_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

EMBEDDED_REDIS_PORT = int(os.environ.get("PARLEY_EMBEDDED_REDIS_PORT", "6389"))
REDIS_URL = os.environ.get("REDIS_URL", f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0")

DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'parley.sqlite3'}")
DATABASES: dict[str, Any] = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and _env_bool(
    "PARLEY_DB_POOL"
):
    # The web server (ASGI) runs each request's database work on a thread of its own: a pool
    # per process reuses connections instead of opening one per request (or keeping one per
    # thread until PostgreSQL runs out of them).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            "min_size": 2,
            "max_size": int(os.environ.get("PARLEY_DB_POOL_MAX", "16")),
            "timeout": 10,
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server, worker and beat read while one of them writes.
        # A 64 MB page cache keeps the indexes of bulk billing loads in memory.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "parley.core",
    "parley.accounts",
    "parley.api",
    "parley.relay",
    "parley.messaging",
    "parley.message_templates",
    "parley.media",
    "parley.webhooks",
    "billing",
    "routing",
    "archive",
    "e2ee",
    "e2ee.handsets",
    "frontend",
]

MIDDLEWARE = [
    # First: forwarded headers count only from trusted proxies, for everything after.
    "parley.core.http.ProxyHeadersMiddleware",
    "parley.core.http.SecurityHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "parley.accounts.middleware.TwoFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "parley.urls"
WSGI_APPLICATION = "parley.wsgi.application"
ASGI_APPLICATION = "parley.asgi.application"

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
                "frontend.context.console",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.StaffUser"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 12 * 3600
SESSION_ENGINE = "django.contrib.sessions.backends.db"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Deployments behind HTTPS (PARLEY_HTTPS=1): cookies never travel in clear text (the session,
# CSRF and trusted-device cookies), and browsers are told to use HTTPS only.
HTTPS = _env_bool("PARLEY_HTTPS")
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = int(os.environ.get("PARLEY_HSTS_SECONDS", "31536000")) if HTTPS else 0


# A TLS-terminating proxy says the scheme in X-Forwarded-Proto; believed only from the
# trusted proxies (parley.core.http drops forwarded headers from anyone else).
def _trusted_proxies() -> list[str]:
    import ipaddress

    entries = [e.strip() for e in os.environ.get("PARLEY_TRUSTED_PROXIES", "").split(",")]
    for entry in filter(None, entries):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(
                f"PARLEY_TRUSTED_PROXIES: {entry!r} is not an IP address or network"
            ) from None
    return [e for e in entries if e]


TRUSTED_PROXIES = _trusted_proxies()
if TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Reports and other files Parley writes (the local stand-in for SFTP drops and buckets).
MEDIA_ROOT = VAR_DIR / "storage"
STORAGES: dict[str, Any] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Scaled out, the files every process shares (uploaded media, encrypted attachments, reports)
# live in an S3-compatible bucket: set PARLEY_S3_BUCKET (and the endpoint and keys).
S3_BUCKET = os.environ.get("PARLEY_S3_BUCKET", "")
if S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": os.environ.get("PARLEY_S3_ENDPOINT_URL") or None,
            "access_key": os.environ.get("PARLEY_S3_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("PARLEY_S3_SECRET_ACCESS_KEY") or None,
            "region_name": os.environ.get("PARLEY_S3_REGION") or None,
            "addressing_style": os.environ.get("PARLEY_S3_ADDRESSING_STYLE", "path"),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
WHITENOISE_USE_FINDERS = True
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": NAMESPACE,
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}

CHANNEL_LAYERS = {
    "default": {
        # The pub/sub layer fans out to many sockets faster than the list-based one.
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": NAMESPACE},
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_DEFAULT_QUEUE = NAMESPACE
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
# Celery's Django fixup closes every database connection around each task unless this is
# set (then once every this many tasks); the worker keeps them per CONN_MAX_AGE instead
# (parley.celery.keep_database_connections).
CELERY_DB_REUSE_MAX = 1000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "purge-audit-log": {"task": "parley.accounts.tasks.purge_audit_log", "schedule": 3600.0},
    "purge-login-failures": {
        "task": "parley.accounts.tasks.purge_login_failures",
        "schedule": 3600.0,
    },
    "expire-verification-codes": {
        "task": "parley.accounts.tasks.expire_verification_codes",
        "schedule": 600.0,
    },
    "billing-finalise-events": {"task": "billing.tasks.finalise_events", "schedule": 3600.0},
    "billing-daily-reports": {
        "task": "billing.tasks.write_daily_reports",
        "schedule": crontab(hour=2, minute=0),
    },
    "relay-expire-envelopes": {"task": "parley.relay.tasks.expire_envelopes", "schedule": 300.0},
    "relay-purge-metadata": {"task": "parley.relay.tasks.purge_metadata", "schedule": 3600.0},
    "e2ee-compact-health-counters": {
        "task": "e2ee.tasks.compact_health_counters",
        "schedule": 3600.0,
    },
    # The business endpoints' safety net: a pull of every served number whatever the nudges.
    "messaging-sweep-inboxes": {"task": "parley.messaging.tasks.sweep_inboxes", "schedule": 30.0},
    "messaging-close-windows": {"task": "parley.messaging.tasks.close_windows", "schedule": 60.0},
    # Messaging-limit upgrades (moves of the clock run it too).
    "messaging-upgrade-limits": {
        "task": "parley.messaging.tasks.upgrade_messaging_limits",
        "schedule": 300.0,
    },
    # The event stream: due retries and lost wakes, then compaction of what all consumers passed.
    "stream-sweep": {"task": "parley.core.tasks.sweep_stream", "schedule": 5.0},
    "stream-compact": {"task": "parley.core.tasks.compact_stream", "schedule": 3600.0},
    # The simulated template review approves what fell due (moves of the clock run it too).
    "media-purge-expired": {"task": "parley.media.tasks.purge_expired_media", "schedule": 3600.0},
    "webhooks-purge-log": {"task": "parley.webhooks.tasks.purge_delivery_log", "schedule": 3600.0},
    # Routing: lapsed offers, idle agents, snoozes, priority ageing and SLA breaches.
    "routing-sweep": {"task": "routing.tasks.sweep", "schedule": 5.0},
    "archive-maintain": {"task": "archive.tasks.maintain", "schedule": 30.0},
    "templates-approve-due": {
        "task": "parley.message_templates.tasks.approve_due_templates",
        "schedule": 30.0,
    },
}

_email_url = os.environ.get("PARLEY_EMAIL_URL", "console")
if _email_url == "console":
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    from urllib.parse import urlparse

    _parsed = urlparse(_email_url)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _parsed.hostname or "localhost"
    EMAIL_PORT = _parsed.port or 25
    EMAIL_HOST_USER = _parsed.username or ""
    EMAIL_HOST_PASSWORD = _parsed.password or ""
    EMAIL_USE_TLS = _parsed.scheme == "smtp+tls"
DEFAULT_FROM_EMAIL = os.environ.get("PARLEY_FROM_EMAIL", "parley@localhost")

# Every REST surface derives from parley.api.base.ApiView, which uses these defaults.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["parley.api.auth.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["parley.api.wire.JsonRenderer"],
    "DEFAULT_PARSER_CLASSES": ["parley.api.wire.BoundedJsonParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "parley.api.wire.JsonOnlyNegotiation",
    "EXCEPTION_HANDLER": "parley.api.errors.meta_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "parley.api.schema.ParleyAutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Parley Business API",
    "DESCRIPTION": (
        "WhatsApp Cloud API shapes (`/{version}/…`), Parley's own endpoints (`/parley/v1/…`) "
        "and the Signal relay (`/relay/v1/…`), served by the Parley simulator. Every error "
        'answers Meta\'s envelope `{"error": {"message", "type", "code", '
        '"error_subcode", "fbtrace_id"}}`.'
    ),
    "VERSION": "v23.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}


def _retention_days() -> int:
    days = int(os.environ.get("PARLEY_AUDIT_RETENTION_DAYS", "365"))
    if not 90 <= days <= 365:
        raise ValueError("PARLEY_AUDIT_RETENTION_DAYS must be between 90 and 365")
    return days


PARLEY: dict[str, Any] = {
    "AUDIT_RETENTION_DAYS": _retention_days(),
    # Staff login: lock an account after this many failures inside the window.
    "LOGIN_MAX_FAILURES": int(os.environ.get("PARLEY_LOGIN_MAX_FAILURES", "5")),
    "LOGIN_FAILURE_WINDOW_SECONDS": 15 * 60,
    "LOGIN_LOCKOUT_SECONDS": int(os.environ.get("PARLEY_LOGIN_LOCKOUT_SECONDS", "900")),
    # Per client address, across accounts: attempts per minute on the login endpoints.
    "LOGIN_RATE_PER_MINUTE": int(os.environ.get("PARLEY_LOGIN_RATE_PER_MINUTE", "30")),
    "TRUSTED_DEVICE_DAYS": 30,
    "TRUSTED_DEVICE_COOKIE": "parley_device",
    "TRUSTED_PROXIES": TRUSTED_PROXIES,
    "VERIFICATION_CODE_TTL_SECONDS": 600,
    "VERIFICATION_CODE_MAX_ATTEMPTS": 5,
    "API_VERSION": "v23.0",
    # The Graph API versions the Cloud API paths accept (inclusive); others answer 400, code
    # 2500, as the Graph API answers an unknown version.
    "API_VERSION_MIN": os.environ.get("PARLEY_API_VERSION_MIN", "v20.0"),
    "API_VERSION_MAX": os.environ.get("PARLEY_API_VERSION_MAX", "v26.0"),
    # JSON request bodies nested deeper than this answer 400 (size: DATA_UPLOAD_MAX_MEMORY_SIZE).
    "API_MAX_JSON_DEPTH": 32,
    "HEALTH_TIMEOUT_SECONDS": 1.5,
    # How business endpoints in the workers reach the relay: "inprocess" (its API without a
    # socket, the default) or "http" (the URL each number registered with).
    "MESSAGING_RELAY_TRANSPORT": os.environ.get("PARLEY_MESSAGING_RELAY_TRANSPORT", "inprocess"),
    # The event stream (parley.core.stream): retries back off from BASE, doubling up to MAX,
    # and dead-letter after MAX_ATTEMPTS; entries every consumer passed are compacted after
    # RETENTION_DAYS (simulation clock); one run of the consumers lasts at most RUN_SECONDS.
    "STREAM_RETRY_BASE_SECONDS": float(os.environ.get("PARLEY_STREAM_RETRY_BASE_SECONDS", "2")),
    "STREAM_RETRY_MAX_SECONDS": 3600.0,
    "STREAM_MAX_ATTEMPTS": int(os.environ.get("PARLEY_STREAM_MAX_ATTEMPTS", "8")),
    "STREAM_RETENTION_DAYS": float(os.environ.get("PARLEY_STREAM_RETENTION_DAYS", "7")),
    "STREAM_RUN_SECONDS": 20.0,
    # The workers' rounds through the log at most one per this while each finds less than
    # a full batch: a trickle of events is handled in a few rounds, not a round per event.
    "STREAM_ROUND_SECONDS": float(os.environ.get("PARLEY_STREAM_ROUND_SECONDS", "0.1")),
    # The long-running processes' heap (parley.core.heap): every FREEZE seconds what survives
    # a collection is frozen out of the collector's walk (0: never); every FULL seconds all
    # of it is collected once.
    "HEAP_FREEZE_SECONDS": float(os.environ.get("PARLEY_HEAP_FREEZE_SECONDS", "30")),
    "HEAP_FULL_SECONDS": float(os.environ.get("PARLEY_HEAP_FULL_SECONDS", "600")),
    # Extra modules that register stream consumers (comma-separated import paths).
    "STREAM_CONSUMER_MODULES": [
        m.strip()
        for m in os.environ.get("PARLEY_STREAM_CONSUMER_MODULES", "").split(",")
        if m.strip()
    ],
    # Webhook delivery (parley.webhooks.schedule, simulation clock): retries back off from
    # `base` seconds, doubling up to `max_interval`, with +-`jitter`, until `max_age` after
    # a round's first attempt (then a dead letter); `breaker_threshold` consecutive failures
    # open an app's circuit for `breaker_cooldown` seconds, doubling up to the maximum.
    "WEBHOOK_RETRY": {
        "base": float(os.environ.get("PARLEY_WEBHOOK_RETRY_BASE_SECONDS", "10")),
        "max_interval": float(os.environ.get("PARLEY_WEBHOOK_RETRY_MAX_INTERVAL_SECONDS", "3600")),
        "max_age": float(os.environ.get("PARLEY_WEBHOOK_RETRY_MAX_AGE_SECONDS", str(7 * 86400))),
        "jitter": 0.2,
        "breaker_threshold": int(os.environ.get("PARLEY_WEBHOOK_BREAKER_THRESHOLD", "5")),
        "breaker_cooldown": 30.0,
        "breaker_max_cooldown": 3600.0,
    },
    # A delivery worker's claim lapses after this many real seconds (a killed worker's
    # deliveries are then sent again by another, with the same webhook-id).
    "WEBHOOK_LEASE_SECONDS": float(os.environ.get("PARLEY_WEBHOOK_LEASE_SECONDS", "60")),
    # Settled deliveries (delivered or dead) and their attempts are kept this many days
    # (simulation clock); pending ones stay until they settle.
    "WEBHOOK_LOG_DAYS": float(os.environ.get("PARLEY_WEBHOOK_LOG_DAYS", "30")),
    "WEBHOOK_POLL_SECONDS": float(os.environ.get("PARLEY_WEBHOOK_POLL_SECONDS", "1")),
    "WEBHOOK_MAX_IN_FLIGHT": int(os.environ.get("PARLEY_WEBHOOK_MAX_IN_FLIGHT", "500")),
    # Routing (simulated seconds): no console activity this long makes an agent idle (set
    # away, unanswered conversations back to the queue); no heartbeat this long, offline.
    "ROUTING_IDLE_AFTER_S": int(os.environ.get("PARLEY_ROUTING_IDLE_AFTER_S", "60")),
    "ROUTING_OFFLINE_AFTER_S": int(os.environ.get("PARLEY_ROUTING_OFFLINE_AFTER_S", "120")),
    # least_loaded (by load ratio, ties to the longest since last assignment) or round_robin.
    "ROUTING_STRATEGY": os.environ.get("PARLEY_ROUTING_STRATEGY", "least_loaded"),
    # The installation's simulation clock (parley.core.clock): live processes read it; the
    # pytest process keeps a local clock its tests freeze. Moves reach every process at once
    # over Redis, and at the latest after this many seconds.
    "SHARED_CLOCK": _env_bool("PARLEY_SHARED_CLOCK") or not _UNDER_PYTEST,
    "CLOCK_CACHE_SECONDS": 5.0,
    # Send limits (parley.messaging.limits, simulation clock): a number's messages a second
    # by throughput level (130429 beyond), and one number to one customer at about one
    # message every PAIR_RATE_SECONDS in bursts of PAIR_RATE_BURST (131056 beyond).
    "THROUGHPUT_STANDARD": int(os.environ.get("PARLEY_THROUGHPUT_STANDARD", "80")),
    "THROUGHPUT_HIGH": int(os.environ.get("PARLEY_THROUGHPUT_HIGH", "1000")),
    "PAIR_RATE_SECONDS": float(os.environ.get("PARLEY_PAIR_RATE_SECONDS", "6")),
    "PAIR_RATE_BURST": int(os.environ.get("PARLEY_PAIR_RATE_BURST", "45")),
    # Messaging limits (parley.messaging.tiers): the unique customers a business portfolio
    # reaches with business-initiated messages (a template while the customer's service
    # window is closed) in a moving 24 h of simulated time, by tier (Meta's values; None is
    # unlimited). Beyond it the message fails asynchronously with 131048.
    "MESSAGING_LIMITS": {
        "TIER_250": 250,
        "TIER_2K": 2_000,
        "TIER_10K": 10_000,
        "TIER_100K": 100_000,
        "TIER_UNLIMITED": None,
    },
    # A number's quality rating from its customers' blocks (parley.messaging.quality): a
    # level once both the customers who blocked it in 7 days (simulated) and their share of
    # the customers it reached there reach that level's (count, share).
    "QUALITY_BLOCKS": {"YELLOW": (2, 0.02), "RED": (5, 0.05)},
    # Parley's deterministic stand-in for Meta's adaptive per-user marketing limit: a
    # customer receives at most this many marketing templates (from all businesses) in a
    # moving 24 h of simulated time; beyond it the template fails asynchronously with 131049.
    "MARKETING_PER_USER_LIMIT": int(os.environ.get("PARLEY_MARKETING_PER_USER_LIMIT", "2")),
    # An upgrade to HIGH throughput takes this long (simulated); sends meanwhile get 131057.
    "THROUGHPUT_UPGRADE_SECONDS": float(os.environ.get("PARLEY_THROUGHPUT_UPGRADE_SECONDS", "300")),
    # The simulated review of message templates approves a pending (new or edited) template
    # this many seconds of simulated time after it was submitted; 0 turns that off, so only
    # POST /parley/v1/simulator/templates/{id}/review (or the console) decides.
    "TEMPLATE_AUTO_APPROVE_SECONDS": float(
        os.environ.get("PARLEY_TEMPLATE_AUTO_APPROVE_SECONDS", "300")
    ),
    # Periodic jobs that moving the clock runs at once, one pass each, in this order (after
    # them, the jobs registered with parley.core.due.on_clock_moved).
    "CLOCK_DUE_TASKS": (
        "billing.tasks.finalise_events",
        "billing.tasks.write_daily_reports",
        "parley.relay.tasks.expire_envelopes",
        "parley.relay.tasks.purge_metadata",
        "parley.accounts.tasks.purge_audit_log",
        "parley.accounts.tasks.expire_verification_codes",
        "parley.accounts.tasks.purge_login_failures",
        "parley.media.tasks.purge_expired_media",
        "parley.webhooks.tasks.purge_delivery_log",
        "routing.tasks.sweep",
        "archive.tasks.maintain",
    ),
    # The compliance archive (archive/): WARC files go to the local store under
    # ARCHIVE_ROOT, or to an S3-compatible bucket with Object Lock (ARCHIVE_STORE=s3, the
    # endpoint and keys of PARLEY_S3_*). A file is closed at this size or after this many
    # seconds of simulated time open, whichever comes first, and at the end of its month.
    "ARCHIVE_STORE": os.environ.get("PARLEY_ARCHIVE_STORE", "local"),
    "ARCHIVE_ROOT": os.environ.get("PARLEY_ARCHIVE_ROOT", str(VAR_DIR / "archive")),
    "ARCHIVE_S3_BUCKET": os.environ.get("PARLEY_ARCHIVE_S3_BUCKET", "parley-archive"),
    "ARCHIVE_FILE_MAX_BYTES": int(
        os.environ.get("PARLEY_ARCHIVE_FILE_MAX_BYTES", str(64 * 1024 * 1024))
    ),
    "ARCHIVE_FILE_MAX_AGE_SECONDS": float(
        os.environ.get("PARLEY_ARCHIVE_FILE_MAX_AGE_SECONDS", "3600")
    ),
    # Uploaded media (parley.media): kept this many days (simulation clock), as Meta's 30.
    # Sends by `link` fetch under parley.media.links' policy: public addresses only unless
    # MEDIA_LINK_ALLOW_PRIVATE, within MEDIA_LINK_TIMEOUT_SECONDS and MEDIA_LINK_MAX_REDIRECTS.
    "MEDIA_RETENTION_DAYS": float(os.environ.get("PARLEY_MEDIA_RETENTION_DAYS", "30")),
    "MEDIA_LINK_ALLOW_PRIVATE": _env_bool("PARLEY_MEDIA_LINK_ALLOW_PRIVATE"),
    "MEDIA_LINK_TIMEOUT_SECONDS": float(os.environ.get("PARLEY_MEDIA_LINK_TIMEOUT_SECONDS", "10")),
    "MEDIA_LINK_MAX_REDIRECTS": 3,
    # Plain Cloud API sends are accepted in batches beside Django's request handler
    # (parley.api.send_lane); 0 sends every request through Django.
    "SEND_LANE": os.environ.get("PARLEY_SEND_LANE", "1") != "0",
    # Batches the lane writes at once on PostgreSQL (SQLite writes one at a time). More than
    # one overlaps a batch's commit with the next one's checks, which may pay when the
    # database is on another machine; on one 2-core machine it cost more CPU a message.
    "SEND_LANE_PARALLEL": int(os.environ.get("PARLEY_SEND_LANE_PARALLEL", "1")),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("PARLEY_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
