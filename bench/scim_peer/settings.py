"""A minimal Django project serving SCIM with django-scim2, the common Django peer, for the benchmark.

Runs only inside the peer virtualenv (var/venv-peer), never with the project's dependencies.
"""

import os

SECRET_KEY = "bench-only-not-a-secret"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
ROOT_URLCONF = "bench.scim_peer.urls"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django_scim",
    "bench.scim_peer.peerapp",
]
AUTH_USER_MODEL = "peerapp.User"
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "bench.scim_peer.peerapp.auth.BearerTokenMiddleware",
    "django_scim.middleware.SCIMAuthCheckMiddleware",
]
_url = os.environ["PEER_DATABASE_URL"]  # postgres://user@host:port/name
_user_host, _name = _url.split("://", 1)[1].rsplit("/", 1)
_user, _hostport = _user_host.split("@", 1)
_host, _port = _hostport.split(":", 1)
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _name,
        "USER": _user,
        "HOST": _host,
        "PORT": _port,
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }
}
# The same switch as the platform's settings, so both sides run with the same connection setup.
if os.environ.get("DB_PREPARED_STATEMENTS", "").lower() in {"1", "true", "yes", "on"}:
    DATABASES["default"]["OPTIONS"] = {
        "server_side_binding": True,
        "prepare_threshold": int(os.environ.get("DB_PREPARE_THRESHOLD", "5")),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
SCIM_SERVICE_PROVIDER = {
    "NETLOC": "testserver",
    "AUTHENTICATION_SCHEMES": [
        {"type": "oauthbearertoken", "name": "OAuth Bearer Token", "description": "bearer token"}
    ],
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
