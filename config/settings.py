"""The one settings module. Everything that differs between machines comes from the environment.

Development (``DEBUG=true``) runs on SQLite under ``var/`` and a filesystem Celery broker with
no server to install. Production (``DEBUG`` unset or false) refuses to start without a
``SECRET_KEY`` and turns on every HTTPS and cookie protection that ``check --deploy`` asks for.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import email_config, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR") or BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)

# pytest (8.2+) announces itself in PYTEST_VERSION; tests default to development settings and
# test production settings in subprocesses without it.
TESTING = bool(env_str("PYTEST_VERSION"))
DEBUG = env_bool("DEBUG", default=TESTING)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production refuses to start without it: set SECRET_KEY "
            "(or SECRET_KEY_FILE) to a long random value, or set DEBUG=true for development."
        )
    SECRET_KEY = "django-insecure-development-only-key-never-used-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if TESTING:
    # python3-saml refuses single-label hosts such as "testserver": tests use *.test names.
    ALLOWED_HOSTS += ["testserver", ".test"]
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# The public origin this service answers on (used in e-mails and SAML metadata links).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000") or ""

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.saml",
    "allauth.mfa",
    "core",
    "audit",
    "agencies",
    "seats",
    "provisioning",
    "sso",
    "billing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # After authentication: staff with local accounts must have used a second factor.
    "sso.mfa.StaffMfaMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "core.navigation.portal",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}") or ""
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock up front, so two writers queue instead of
    # one failing with "database is locked" half-way through; WAL lets readers carry on.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if env_bool("DB_PREPARED_STATEMENTS", default=True):
        # Server-side binding lets psycopg prepare a statement after it has run
        # DB_PREPARE_THRESHOLD times on a connection, so PostgreSQL stops planning it anew each
        # time (planning was most of each statement's cost). Connections are persistent
        # (DB_CONN_MAX_AGE); behind a transaction-mode pooler such as PgBouncer, which cannot
        # carry prepared statements between clients, set DB_PREPARED_STATEMENTS=false.
        DATABASES["default"]["OPTIONS"] = {
            "server_side_binding": True,
            "prepare_threshold": env_int("DB_PREPARE_THRESHOLD", 5),
        }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- auth -----------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
# Nobody signs up here: staff accounts are made by GSA, employees come through their IdP.
ACCOUNT_ADAPTER = "core.auth.ClosedAccountAdapter"
ACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_ONLY = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
# Agency SAML sign-in: just-in-time employees, never allauth's local signup form.
SOCIALACCOUNT_ADAPTER = "sso.adapter.AgencySocialAccountAdapter"
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]

# The in-project development IdP signs assertions with a key kept on disk: never in production.
SSO_DEV_IDP = env_bool("SSO_DEV_IDP", default=DEBUG)
if SSO_DEV_IDP and not DEBUG:
    raise ImproperlyConfigured(
        "SSO_DEV_IDP is on but DEBUG is off. The development IdP signs in anyone it is told to; "
        "production refuses it. Unset SSO_DEV_IDP."
    )

# The service's own SAML key pair (PEM files). Its certificate is published in every agency's SP
# metadata for encryption, so an IdP may encrypt its assertions, which the key then decrypts.
# Unset, the service has no key: assertions must come unencrypted. Development makes a pair
# once under SAML_SP_KEY_DIR (var/saml-sp/); production names its files (a secret store's mount).
SAML_SP_KEY_FILE = env_str("SAML_SP_KEY_FILE", "")
SAML_SP_CERT_FILE = env_str("SAML_SP_CERT_FILE", "")
if bool(SAML_SP_KEY_FILE) != bool(SAML_SP_CERT_FILE):
    raise ImproperlyConfigured(
        "Set both SAML_SP_KEY_FILE and SAML_SP_CERT_FILE (the service's SAML key and its certificate), "
        "or neither."
    )
SAML_SP_KEY_DIR = env_str("SAML_SP_KEY_DIR", str(VAR_DIR / "saml-sp") if DEBUG else "")

# Sign-in endpoints anyone can reach, limited per client address in fixed one-minute windows kept
# in the shared cache (CACHE_URL; in-process memory counts per process). Discovery says whether a
# domain is known; the ACS runs XML signature checks, so it also has a ceiling per agency.
# The defaults allow five a second per address: federal networks send a whole agency's people
# out through a few egress (TIC) addresses, and a rollout morning must not lock them out; one
# address can still not make the ACS check more than 300 signatures a minute (about a second of
# CPU). The agency ceiling (100 a second) is far above any agency's sign-in rate.
SSO_DISCOVERY_RATE_LIMIT_PER_MINUTE = env_int("SSO_DISCOVERY_RATE_LIMIT_PER_MINUTE", 300)
SSO_LOGIN_RATE_LIMIT_PER_MINUTE = env_int("SSO_LOGIN_RATE_LIMIT_PER_MINUTE", 300)
SSO_ACS_RATE_LIMIT_PER_MINUTE = env_int("SSO_ACS_RATE_LIMIT_PER_MINUTE", 300)
SSO_ACS_AGENCY_RATE_LIMIT_PER_MINUTE = env_int("SSO_ACS_AGENCY_RATE_LIMIT_PER_MINUTE", 6000)
# How many reverse proxies in front of the app append to X-Forwarded-For. 0: the client is
# REMOTE_ADDR and the header is ignored (anyone can write it). N: the Nth address from the right.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# The daily metadata refresh may fetch from private addresses (an IdP on the agency's network
# reached through a private link, or a test). Off: like the web page, public addresses only.
SSO_METADATA_REFRESH_PRIVATE_URLS = env_bool("SSO_METADATA_REFRESH_PRIVATE_URLS", default=False)

# --- i18n, static ---------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"
# Uploaded roster files wait under MEDIA_ROOT for the worker that imports them.

# --- cache ----------------------------------------------------------------------------------
CACHE_URL = env_str("CACHE_URL", "")
if CACHE_URL and CACHE_URL.startswith("redis"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            # A Redis that stops answering (rather than refusing) fails a call within a second
            # instead of holding the request: callers then fall back (core/shared_cache.py).
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Where allauth's sign-in limits and used-code marks are kept while Redis is unreachable
# (core.shared_cache.CacheOrDatabase); its table is made by migration core 0002.
CACHES["fallback"] = {
    "BACKEND": "django.core.cache.backends.db.DatabaseCache",
    "LOCATION": "core_cache_fallback",
    # Django culls a third of the entries past MAX_ENTRIES (300 by default), which during a long
    # outage would drop limits' histories and used-code marks; expired entries go first anyway.
    "OPTIONS": {"MAX_ENTRIES": 50_000},
}

# --- celery ---------------------------------------------------------------------------------
_celery_dir = VAR_DIR / "celery"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://") or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem"):
    for sub in ("queue", "processed", "control"):
        (_celery_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "processed_folder": str(_celery_dir / "processed"),
        "control_folder": str(_celery_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- portal ---------------------------------------------------------------------------------
CSRF_FAILURE_VIEW = "core.views.csrf_failure"
# People per transaction when a roster is imported; each batch also moves the progress bar.
# 2,000: one COPY and a handful of queries per batch (bench/RESULTS.md: roster_import), and a
# 100,000-row file still moves the bar fifty times.
ROSTER_IMPORT_BATCH_SIZE = env_int("ROSTER_IMPORT_BATCH_SIZE", 2000)
# Who answers "what TXT records does this domain publish?" (tests and closed networks swap it).
DNS_TXT_RESOLVER = env_str("DNS_TXT_RESOLVER", "agencies.dns.dnspython_txt_records")

# --- email ----------------------------------------------------------------------------------
globals().update(email_config(env_str("EMAIL_URL", "console://") or "console://"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "AI Seats <no-reply@seats.gsa.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- stripe ---------------------------------------------------------------------------------
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "")
# Several secrets may be accepted at once while one is being rotated: comma-separated.
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "")
# Webhook deliveries signed longer ago than this are refused (replays of captured requests).
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env_int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", 300)
# The webhook re-reads the invoice while Stripe waits for an answer: keep calls short.
STRIPE_TIMEOUT_SECONDS = env_int("STRIPE_TIMEOUT_SECONDS", 20)
# A renewal request GSA has not decided this many days after its term would start lapses.
BILLING_DECISION_DAYS = env_int("BILLING_DECISION_DAYS", 30)

# --- SCIM ----------------------------------------------------------------------------------
# Requests a minute a new SCIM token may make (each token can be given its own limit).
SCIM_RATE_LIMIT_PER_MINUTE = env_int("SCIM_RATE_LIMIT_PER_MINUTE", 600)

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Tokens first: their WWW-Authenticate header makes a missing credential a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "core.api.permissions.TokenScope",
    ],
    "DEFAULT_PARSER_CLASSES": ["core.api.paging.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "core.api.paging.ApiCursorPagination",
    "DEFAULT_THROTTLE_CLASSES": [
        "core.api.paging.ApiUserRateThrottle",
        "core.api.paging.ApiAnonRateThrottle",
    ],
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}
# Requests a minute per person across their sessions and tokens, and per client address (as the
# sign-in limits see it: TRUSTED_PROXY_COUNT, IPv6 by /64) for what answers without one: the schema.
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "1200/min")
API_ANON_RATE_LIMIT = env_str("API_ANON_RATE_LIMIT", "120/min")
# JSON bodies larger than this are refused with a 413 before they are parsed.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 65_536)
# Rows in one CSV export of the audit trail (narrow it with filters for more).
AUDIT_EXPORT_MAX_ROWS = env_int("AUDIT_EXPORT_MAX_ROWS", 100_000)
SPECTACULAR_SETTINGS = {
    "TITLE": "AI Seats API",
    "DESCRIPTION": (
        "Seat pools, seats, employees and renewals of the government-wide enterprise AI rollout. "
        "Authenticate with a personal API token (`Authorization: Bearer ais_...`) or the portal session. "
        "Every error has the shape `{code, detail, errors}`; an object outside your scope is a 404."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.add_error_responses",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- security -------------------------------------------------------------------------------
# Database sessions, minus the statements that buy nothing (see core/sessions.py).
SESSION_ENGINE = "core.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 60 * 60)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS is empty: production must name the hosts it serves.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- vendor provisioning (the outbox) -------------------------------------------------------
# A job is tried up to MAX_ATTEMPTS times, waiting base * 2^(n-1) seconds (at most CAP, with
# jitter) between tries, or longer when the vendor's Retry-After says so; then the seat is
# marked failed for an administrator to retry. Roughly two hours of retries with the defaults.
PROVISIONING_MAX_ATTEMPTS = env_int("PROVISIONING_MAX_ATTEMPTS", 8)
PROVISIONING_BACKOFF_BASE_SECONDS = env_int("PROVISIONING_BACKOFF_BASE_SECONDS", 30)
PROVISIONING_BACKOFF_CAP_SECONDS = env_int("PROVISIONING_BACKOFF_CAP_SECONDS", 3600)
PROVISIONING_RETRY_AFTER_CAP_SECONDS = env_int("PROVISIONING_RETRY_AFTER_CAP_SECONDS", 6 * 3600)
# How long a worker holds a job while it talks to the vendor; a worker that dies mid-call
# leaves the job to the sweeper after this. Must exceed the HTTP timeout.
PROVISIONING_LEASE_SECONDS = env_int("PROVISIONING_LEASE_SECONDS", 300)
PROVISIONING_TIMEOUT_SECONDS = env_int("PROVISIONING_TIMEOUT_SECONDS", 20)
# The sweeper re-queues jobs due for longer than this (their message was lost, or a worker died).
PROVISIONING_SWEEP_GRACE_SECONDS = env_int("PROVISIONING_SWEEP_GRACE_SECONDS", 60)
PROVISIONING_DISPATCH_CHUNK = env_int("PROVISIONING_DISPATCH_CHUNK", 200)
