"""Settings for the clinic back office: one module, driven by environment variables.

Every value that differs between a laptop and production is read from the
environment through django-environ (https://django-environ.readthedocs.io/). A
``.env`` file in the project directory is read first when present; ``make run``
and ``make test`` write one with ``DEBUG=true`` for development. Variables set in
the real environment win over the file.

Variables: ``DEBUG`` (bool, default false), ``SECRET_KEY`` (required unless DEBUG),
``DATABASE_URL`` (default: SQLite file ``db.sqlite3`` here), ``ALLOWED_HOSTS``
(comma-separated), ``TIME_ZONE`` (IANA name, default UTC), ``CSRF_TRUSTED_ORIGINS``,
``SECURE_SSL_REDIRECT``, ``SECURE_HSTS_SECONDS``, ``EMAIL_URL``, ``DEFAULT_FROM_EMAIL``.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)

# A development key is only acceptable while DEBUG is on; production must bring
# its own, or sessions and password-reset tokens could be forged.
# An empty value counts as unset.
SECRET_KEY = env.str("SECRET_KEY", default="")
if DEBUG:
    SECRET_KEY = SECRET_KEY or "django-insecure-development-only-key-do-not-deploy"
elif not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. It is required when DEBUG is off; set it in the "
        "environment (or set DEBUG=true for development)."
    )

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
ROOT_URLCONF = "backoffice.urls"
WSGI_APPLICATION = "backoffice.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# DATABASES
# ------------------------------------------------------------------------------
# SQLite is the embedded default so a new user needs nothing installed;
# production uses PostgreSQL: DATABASE_URL=postgres://user:pass@host:5432/name
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for a lock instead of failing at once while another process writes
    # (make run serves while import_synthea may still be writing).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)
    # SQLite ignores SELECT ... FOR UPDATE; BEGIN IMMEDIATE takes the write lock when
    # a transaction starts instead, so patient_save's version check and its write
    # cannot interleave with another writer's (Django 5.1+, see the SQLite notes in
    # Django's database docs).
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")

# APPS
# ------------------------------------------------------------------------------
INSTALLED_APPS = [
    # jazzmin must come before django.contrib.admin: it overrides its templates.
    "jazzmin",
    # Ours first, so templates/admin overrides and app templates win.
    "admin_ext",
    "admin_ext.imports",
    "admin_ext.audit",
    "admin_ext.dashboard",
    "people",
    "clinic",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "import_export",
    "simple_history",
    "guardian",
    "django_filters",
]

MIDDLEWARE = [
    # First: every response, errors included, carries the request's id.
    "admin_ext.audit.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # After it: SAMEORIGIN on the admin's popup pages, for the related-object modal.
    "admin_ext.middleware.PopupFramingMiddleware",
    # Sets the history_user of every historical row written during a request.
    "simple_history.middleware.HistoryRequestMiddleware",
]

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

# AUTHENTICATION
# ------------------------------------------------------------------------------
AUTH_USER_MODEL = "people.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    # Per-object permissions (a doctor's own patients).
    "guardian.backends.ObjectPermissionBackend",
]
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "admin:index"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# guardian: no anonymous user row; anonymous visitors never hold object permissions.
ANONYMOUS_USER_NAME = None
# guardian: a missing object permission answers 404, never 403 (hidden reads as missing).
GUARDIAN_RAISE_403 = False
GUARDIAN_RENDER_403 = False

# STATIC AND MEDIA
# ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            # WhiteNoise's compressed manifest storage, plus a URL for directories
            # (jazzmin issue #684; see backoffice/storage.py).
            else "backoffice.storage.ManifestStaticFilesStorage"
        )
    },
}

# EMAIL
# ------------------------------------------------------------------------------
# Development prints mail (password reset links) to the console.
EMAIL_CONFIG = env.email_url(
    "EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25"
)
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="backoffice@localhost")

# SECURITY
# ------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
# Only the admin's popup pages may be framed, by our own pages (jazzmin's
# related-object modal): admin_ext.middleware.PopupFramingMiddleware.
X_FRAME_OPTIONS = "DENY"

# LOGGING
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# THIRD-PARTY APPS
# ------------------------------------------------------------------------------
# django-import-export: import and export each need their own model permission
# (clinic.import_patient, clinic.export_patient, ...); the library's default lets
# every staff user with admin access import.
# Django's cache: CACHE_URL (django-environ syntax; e.g. redis://127.0.0.1:6379/1 in
# production, which needs the redis package). Local memory by default: per process,
# so with several gunicorn workers the import progress poll needs a shared cache.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
# The admin dashboard (admin_ext.dashboard): its numbers come from this provider and
# are cached in the cache above, invalidated by the services on every write. With the
# per-process default, a write in another process (a command, another worker) shows
# after at most DASHBOARD_CACHE_SECONDS; a shared cache (Redis) shows it at once.
DASHBOARD_PROVIDER = "clinic.dashboard.ClinicDashboard"
DASHBOARD_CACHE_SECONDS = env.int("DASHBOARD_CACHE_SECONDS", default=300)

IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "import"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "export"
IMPORT_EXPORT_USE_TRANSACTIONS = True
# An upload waiting between preview and confirm holds PHI: it is kept in the
# database, owned by the uploader, never in a temporary folder (the library's default
# storage is "for development only"), and deleted when the import ends or, at the
# latest, IMPORT_UPLOAD_EXPIRY (a timedelta or seconds) after upload: purge_imports.
IMPORT_EXPORT_TMP_STORAGE_CLASS = "admin_ext.imports.storage.DatabaseStorage"
IMPORT_UPLOAD_EXPIRY = 60 * 60
# simple-history is the audit trail; one admin LogEntry per imported row would
# double the writes and say less.
IMPORT_EXPORT_SKIP_ADMIN_LOG = True
# Spreadsheet formulas in exported cells are neutralized by admin_ext.exports (a
# leading apostrophe before =, +, -, @, tab or CR, in CSV and XLSX alike). The
# library's own switch stays off: in 4.4.3 it only drops a leading "=" and turns
# every XLSX cell into text (an empty cell becomes "None").
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = False
# A control character in any cell (a pasted name) makes openpyxl refuse the whole
# XLSX export; write U+FFFD in its place instead (the library retries with this on).
IMPORT_EXPORT_ESCAPE_ILLEGAL_CHARS_ON_EXPORT = True
from import_export.formats.base_formats import CSV, XLSX  # noqa: E402

IMPORT_EXPORT_FORMATS = [CSV, XLSX]
# Limits of one admin upload (admin_ext.imports.reading); bigger Synthea files go
# through `python manage.py import_synthea`, which streams them from disk.
# IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES bounds what an XLSX (a ZIP) may unpack to: a
# 310 KB workbook can expand to 300 MB.
IMPORT_MAX_UPLOAD_BYTES = env.int("IMPORT_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024)
# Uploads up to that size stay in memory instead of Django's temporary file: an
# import file holds PHI and must not sit in the temp folder, even for a request.
FILE_UPLOAD_MAX_MEMORY_SIZE = IMPORT_MAX_UPLOAD_BYTES
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=25_000)
IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES = env.int(
    "IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES", default=200 * 1024 * 1024
)
# CSV exports are streamed at any size; an XLSX export is built whole in memory
# (admin_ext.exports), so a longer list is refused with a message pointing to CSV.
# Measured: 100,000 patients took 54 s and 945 MB; 25,000 stay near 300 MB.
EXPORT_MAX_XLSX_ROWS = env.int("EXPORT_MAX_XLSX_ROWS", default=25_000)

# django-simple-history: reverting from history would write without a service
# (no reason, no permission update), so it is off.
SIMPLE_HISTORY_REVERT_DISABLED = True
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True
# No index on history_date alone: the audit trail's (history_date, history_id) index on
# every history table serves those reads (admin_ext/audit/migrations/0002), and each
# index is one more write per history row (imports write them by the thousand).
SIMPLE_HISTORY_DATE_INDEX = False

# Audit (admin_ext.audit, docs/audit.md). Sealed by the SHA-256 hash chain besides every
# simple-history table: the access log and the login events.
AUDIT_SEALED_MODELS = ["audit.AccessLog", "people.LoginEvent"]
# How long (seconds) a seal waits for writers on PostgreSQL before it gives up and
# leaves the rows to the next seal, instead of queueing every writer behind an import.
AUDIT_SEAL_LOCK_TIMEOUT = env.float("AUDIT_SEAL_LOCK_TIMEOUT", default=5.0)

# django-jazzmin
from admin_ext.jazzmin import JAZZMIN_SETTINGS, JAZZMIN_UI_TWEAKS  # noqa: E402,F401
