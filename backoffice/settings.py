"""Settings for the clinic back office: one module, driven by environment variables.

Every value that differs between a laptop and production is read from the
environment through django-environ (https://django-environ.readthedocs.io/). A
``.env`` file in the project directory is read first when present; ``make run``
and ``make test`` write one with ``DEBUG=true`` for development. Variables set in
the real environment win over the file.

Variables: ``DEBUG`` (bool, default false), ``SECRET_KEY`` (required unless DEBUG),
``DATABASE_URL`` (default: SQLite file ``db.sqlite3`` here), ``ALLOWED_HOSTS``
(comma-separated), ``TIME_ZONE`` (IANA name, default UTC), ``CSRF_TRUSTED_ORIGINS``,
``SECURE_SSL_REDIRECT``, ``SECURE_HSTS_SECONDS``, ``EMAIL_URL``, ``DEFAULT_FROM_EMAIL``,
``SECRET_KEY_FALLBACKS`` (comma-separated old keys while rotating).
Operations (see OPERATIONS below): ``DB_CONN_MAX_AGE``, ``ADMINS``, ``SERVER_EMAIL``,
``EMAIL_SUBJECT_PREFIX``, ``LOG_LEVEL``, ``LOG_FORMAT`` (json or text).
Accounts and transport (docs/security.md): ``SESSION_IDLE_TIMEOUT``,
``AXES_FAILURE_LIMIT``, ``AXES_COOLOFF_MINUTES``, ``TRUSTED_PROXY_COUNT``,
``PASSWORD_RESET_TIMEOUT``, ``OTP_TOTP_ISSUER``, ``UPLOAD_MAX_REQUEST_BYTES``.
"""

import re
from datetime import timedelta
from email.utils import getaddresses
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

# Rotating the key (docs/security.md): the new key in SECRET_KEY, the old one(s) here,
# comma-separated, until sessions and password-reset or invitation links signed
# with them have expired; then drop them.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

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
    # Two-factor sign-in (people.two_factor): ahead of "people", so people/admin.py,
    # imported after their admin modules, can unregister their device admins.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
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
    # Content-Security-Policy (django-csp; its system checks flag pre-4.0 CSP_* settings).
    "csp",
    # Sign-in lockout after repeated failures (accounts hardening; see AXES_* below).
    "axes",
]

MIDDLEWARE = [
    # First: every response, errors included, carries the request's id.
    "admin_ext.audit.middleware.RequestIdMiddleware",
    # Then one JSON access line per request, with that id and the actor (OPERATIONS).
    "backoffice.logs.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, so static files carry them too (TRANSPORT AND HEADERS below).
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified() (django-otp), then the two-factor gate: until the
    # second factor is given, only the 2FA pages and sign-out answer (people.two_factor).
    "django_otp.middleware.OTPMiddleware",
    "people.two_factor.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # After it: SAMEORIGIN on the admin's popup pages, for the related-object modal.
    "admin_ext.middleware.PopupFramingMiddleware",
    # Sets the history_user of every historical row written during a request.
    "simple_history.middleware.HistoryRequestMiddleware",
    # django-axes: turns a locked-out sign-in into the lockout page (AXES_LOCKOUT_CALLABLE).
    # Last, as its docs ask: it reads what the login view left on the request.
    "axes.middleware.AxesMiddleware",
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
    # django-axes first: refuses a locked-out account or IP before any password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Per-object permissions (a doctor's own patients).
    "guardian.backends.ObjectPermissionBackend",
]
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "admin:index"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # NIST SP 800-63B 3.1.1.2 asks for at least 8; ours is 12 (accounts hardening).
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# guardian: no anonymous user row; anonymous visitors never hold object permissions.
ANONYMOUS_USER_NAME = None
# guardian: a missing object permission answers 404, never 403 (hidden reads as missing).
GUARDIAN_RAISE_403 = False
GUARDIAN_RENDER_403 = False

# ACCOUNTS HARDENING (passwords, lockout, sessions; docs/security.md)
# ------------------------------------------------------------------------------
# Argon2id first (OWASP Password Storage Cheat Sheet; needs argon2-cffi). PBKDF2 stays
# after it so hashes made before still verify; Django re-hashes them with Argon2 at
# the user's next sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# django-axes: lockout after AXES_FAILURE_LIMIT failed sign-ins in a row for one
# account (the email, lower-cased) or from one IP, each counted on its own, for
# AXES_COOLOFF_MINUTES (OWASP ASVS 4.0 V2.2.1; NIST SP 800-63B 5.2.2). An
# administrator unlocks earlier (Administration > Access attempts > "Unlock selected").
# Failures are counted in the database (axes.AccessAttempt); every sign-in is already
# logged twice (people.LoginEvent, audit.AccessLog), so axes' own log is off.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_MINUTES = env.int("AXES_COOLOFF_MINUTES", default=30)
if AXES_FAILURE_LIMIT < 1 or AXES_COOLOFF_MINUTES < 1:
    raise ImproperlyConfigured("AXES_FAILURE_LIMIT and AXES_COOLOFF_MINUTES must be at least 1.")
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES)
# "Forgotten your password?": reset emails per address and requests per client IP,
# as django-ratelimit rates ("<count>/<s|m|h|d>", fixed windows counted in CACHES
# above; per process with the local-memory default). Beyond either, nothing is sent
# and the page answers as usual (people.services.password_reset_request).
PASSWORD_RESET_RATE_PER_EMAIL = env.str("PASSWORD_RESET_RATE_PER_EMAIL", default="3/h")
PASSWORD_RESET_RATE_PER_IP = env.str("PASSWORD_RESET_RATE_PER_IP", default="20/h")
for _rate in (PASSWORD_RESET_RATE_PER_EMAIL, PASSWORD_RESET_RATE_PER_IP):
    if not re.fullmatch(r"[1-9]\d*/\d*[smhd]", _rate):
        raise ImproperlyConfigured(
            f"PASSWORD_RESET_RATE_PER_* must look like 3/h or 10/15m, not {_rate!r}."
        )
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each alone, not combined
# The admin login form's email field is named "username" (AuthenticationForm).
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "people.lockouts.normalized_username"
AXES_CLIENT_IP_CALLABLE = "people.lockouts.request_ip"
AXES_LOCKOUT_CALLABLE = "people.lockouts.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# A success must not clear the IP's count: an attacker with one working account
# would otherwise reset it between guesses at other accounts.
AXES_RESET_ON_SUCCESS = False
AXES_DISABLE_ACCESS_LOG = True
AXES_ENABLE_ACCESS_FAILURE_LOG = False
# people.lockout_admin registers the attempts page with our permissions and actions.
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False
# Sessions end after SESSION_IDLE_TIMEOUT seconds without a request (each request
# renews the cookie: idle, not absolute) and when the browser closes (HIPAA
# 164.312(a)(2)(iii), automatic logoff; OWASP ASVS V3.3.2). The import progress poll
# (admin_ext.imports.views.import_progress) counts as activity: the upload page polls
# only while the user's own import request is running, and stops when it ends.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_TIMEOUT", default=30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Password reset and invitation links stay valid this long (seconds, default 3 days).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 24 * 60 * 60)

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
# How many reverse proxies in front of the app append to X-Forwarded-For (0: none,
# the client is REMOTE_ADDR). The access log and the sign-in lockout take the client
# address from it (admin_ext.audit.services.client_ip); behind a proxy, leaving it at
# 0 makes every user share the proxy's address, and five failures lock out everyone.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
# Only the admin's popup pages may be framed, by our own pages (jazzmin's
# related-object modal): admin_ext.middleware.PopupFramingMiddleware.
X_FRAME_OPTIONS = "DENY"

# TRANSPORT AND HEADERS (docs/security.md; OWASP ASVS 4.0 V14.4, V3.4)
# ------------------------------------------------------------------------------
# Cookies: Lax, not Strict: a password-reset or invitation link clicked in a mail
# client is a cross-site navigation, and Strict would arrive without the session and
# CSRF cookies. No script reads the CSRF cookie (Django's admin and jazzmin post the
# form's token), so it is HttpOnly too.
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
# Other sites get no Referer (admin URLs hold patient ids); our own pages keep it.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# django-permissions-policy: powerful browser features, all off for every origin.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}
# django-csp 4: enforced, in development too, so a violation shows early. Scripts only
# from our origin or inline with this response's nonce (templates write
# nonce="{{ request.csp_nonce }}"); no 'unsafe-inline', no 'unsafe-eval'.
# Styles keep 'unsafe-inline': jazzmin's, Django admin's and our templates put
# style="" attributes on elements, and Bootstrap, select2 and jazzmin's scripts set
# element styles, which no nonce can cover. CSS cannot run script; a nonce in
# style-src would switch 'unsafe-inline' off.
# frame-ancestors 'none' matches X_FRAME_OPTIONS; the admin's popups answer 'self'
# (admin_ext.middleware.PopupFramingMiddleware).
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        # data: for Bootstrap's and select2's inline SVG icons (checkboxes, arrows).
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}

# OPERATIONS: health, database connections, logs, error reports (docs/operations.md)
# ------------------------------------------------------------------------------
# Health endpoints (backoffice.health): /health/live/ and /health/ready/, anonymous.
# Load balancers probe over plain HTTP, so they are not redirected to HTTPS. Django
# still checks the Host header (ALLOWED_HOSTS): a probe must send an allowed host,
# or the instance's own address must be listed.
SECURE_REDIRECT_EXEMPT = [r"^health/"]

# Database connections are kept for DB_CONN_MAX_AGE seconds (default 60 in production,
# 0 = one per request in development) and checked before reuse, so a database
# restart costs no failed request. gunicorn's gthread workers hold one connection per
# thread: WORKERS x THREADS per instance (make serve: 2 x 4 = 8) must fit the
# server's max_connections with the commands and other instances.
DB_CONN_MAX_AGE = env.int("DB_CONN_MAX_AGE", default=0 if DEBUG else 60)
if DB_CONN_MAX_AGE < 0:
    raise ImproperlyConfigured("DB_CONN_MAX_AGE must be 0 or more seconds.")
DATABASES["default"]["CONN_MAX_AGE"] = DB_CONN_MAX_AGE
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# Error reports: with DEBUG off, an unhandled error in a request is emailed to ADMINS
# ("Name <email>, other@example.org"), from SERVER_EMAIL, through EMAIL_URL. The
# report keeps the traceback and the path and shows no request values, cookies or
# local variables (backoffice.errors: they hold PHI).
ADMINS = []
for _name, _address in getaddresses([env.str("ADMINS", default="")]):
    if "@" not in _address:
        raise ImproperlyConfigured(f"ADMINS: {_address!r} is not an email address.")
    ADMINS.append((_name, _address))
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
EMAIL_SUBJECT_PREFIX = env.str("EMAIL_SUBJECT_PREFIX", default="[backoffice] ")
DEFAULT_EXCEPTION_REPORTER_FILTER = "backoffice.errors.PhiSafeExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "backoffice.errors.PhiSafeExceptionReporter"

# Logs: one JSON object per line on stderr in production (LOG_FORMAT=json), readable
# lines in development (LOG_FORMAT=text), every record with the request id and the
# actor's user id, never PHI (backoffice.logs). One access line per request from
# backoffice.logs.RequestLogMiddleware (gunicorn's own access log is off: it writes
# the query string, which holds search terms).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured("LOG_FORMAT must be json or text.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "backoffice.logs.RequestContextFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "json": {"()": "backoffice.logs.JsonFormatter"},
        "text": {"()": "backoffice.logs.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_context"],
        },
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false"],
            "include_html": False,
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Replaces Django's default handlers for "django" (its console handler would
        # print every record twice); records still reach the root's console.
        "django": {"handlers": ["mail_admins"], "propagate": True},
        # A probe or scanner with a Host not in ALLOWED_HOSTS is logged, not emailed.
        "django.security.DisallowedHost": {"handlers": ["console"], "propagate": False},
    },
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
# Django's own handlers apply that limit to the whole request (a folder of three
# 20 MB files went to the temp folder); admin_ext.uploads applies it per file, never
# writes to disk, and refuses a request over UPLOAD_MAX_REQUEST_BYTES (400).
FILE_UPLOAD_HANDLERS = ["admin_ext.uploads.MemoryOnlyUploadHandler"]
UPLOAD_MAX_FILE_BYTES = IMPORT_MAX_UPLOAD_BYTES
UPLOAD_MAX_REQUEST_BYTES = env.int("UPLOAD_MAX_REQUEST_BYTES", default=10 * IMPORT_MAX_UPLOAD_BYTES)
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
# Rows one seal covers at most (40 bytes each in the seal); more make several seals in a
# row, so sealing a large import keeps memory flat.
AUDIT_SEAL_MAX_ROWS = env.int("AUDIT_SEAL_MAX_ROWS", default=100_000)

# TWO-FACTOR SIGN-IN (django-otp; people.two_factor, docs/security.md)
# ------------------------------------------------------------------------------
# Roles (people/roles.py names) whose members must enrol a TOTP authenticator before
# any admin page opens; superusers always must. Everyone else may enrol from
# "Two-factor sign-in" in the user menu.
from people.roles import ADMINISTRATOR, AUDITOR  # noqa: E402 (plain constants)

OTP_REQUIRED_ROLES = [ADMINISTRATOR, AUDITOR]
# The account name an authenticator app shows beside the user's email.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Clinic back office")
# After n wrong codes in a row, the next try waits FACTOR * 2**(n-1) seconds (capped
# by django-otp); against guessing a 6-digit code (NIST SP 800-63B 5.2.2).
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
# How many one-time recovery codes enrolment (and "new recovery codes") hands out.
OTP_RECOVERY_CODE_COUNT = 10

# django-jazzmin
from admin_ext.jazzmin import JAZZMIN_SETTINGS, JAZZMIN_UI_TWEAKS  # noqa: E402,F401
