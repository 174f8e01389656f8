"""PrefArena settings: everything comes from the environment, with defaults that
run the one-command demo on SQLite and an embedded (SQLite-backed) Celery broker.
Production and the test suite set DATABASE_URL (PostgreSQL) and
CELERY_BROKER_URL (Redis)."""

import os
import secrets
from pathlib import Path

import dj_database_url

# Nothing may be fetched from a model hub: models load from local directories.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PREFARENA_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)
MODELS_DIR = Path(os.environ.get("PREFARENA_MODELS_DIR", VAR_DIR / "models"))
# Finished preference-dataset exports (one folder per export job).
EXPORTS_DIR = Path(os.environ.get("PREFARENA_EXPORTS_DIR", VAR_DIR / "exports"))


def _env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key():
    """SECRET_KEY from the environment, else one generated once into var/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("DEBUG")
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h.strip()
]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "accounts",
    "inference",
    "annotation",
    "ranking",
    "arena",
    "export",
    "routing",
]

MIDDLEWARE = [
    "config.middleware.ServiceUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.audit.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.throttles.PageRateLimitMiddleware",
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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'prefarena.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        # A kept connection the server dropped (restart, failover, pg_terminate_backend) is
        # noticed and reopened at the next request instead of failing it (one SELECT 1 per
        # request; off, such a request answers a retryable 503 and the next one reconnects).
        conn_health_checks=_env_bool("DB_CONN_HEALTH_CHECKS", True),
        # Behind PgBouncer in transaction pooling, server-side cursors must be off.
        disable_server_side_cursors=_env_bool("DB_DISABLE_SERVER_SIDE_CURSORS"),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write at once: WAL plus a busy timeout
    # turn "database is locked" into a short wait.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# HTTPS. Behind TLS set HTTPS=1: cookies become Secure (sent only over TLS), plain HTTP redirects
# to HTTPS and browsers are told to come back only over HTTPS (HSTS). When TLS ends at a proxy,
# also set SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https so Django knows a request came in
# over HTTPS, and only if that proxy always sets or strips X-Forwarded-Proto (else clients could
# claim HTTPS). The demo (plain http://127.0.0.1) leaves HTTPS off.
HTTPS = _env_bool("HTTPS")
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = tuple(os.environ["SECURE_PROXY_SSL_HEADER"].split(",", 1))
SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # probes from inside the network speak plain HTTP
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000" if HTTPS else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = _env_bool("SECURE_HSTS_PRELOAD")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _env_bool("SECURE_COOKIES", HTTPS)
CSRF_COOKIE_HTTPONLY = True  # pages put the token in a header from the template; no script reads the cookie
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(14 * 24 * 3600)))
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): scripts and styles only from our own files; no inline
# scripts or event handlers anywhere in templates/ (tests/browser/test_csp_browser.py watches for
# violations). Style attributes stay allowed: the admin and Swagger UI set a few.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# Accounts. Who may sign up is the admins' call at run time (admin → Sign-up policy: closed,
# invitation only, or open); SIGNUP_MODE is only the starting value on a new database.
SIGNUP_MODE = os.environ.get("SIGNUP_MODE", "closed")
PASSWORD_RESET_TIMEOUT = int(os.environ.get("PASSWORD_RESET_TIMEOUT", str(3 * 24 * 3600)))
# E-mail (password-reset links): SMTP when EMAIL_HOST is set, else printed on the console (the demo).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS", EMAIL_PORT == 587)
EMAIL_USE_SSL = _env_bool("EMAIL_USE_SSL", EMAIL_PORT == 465)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "PrefArena <noreply@localhost>")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "arena:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if _env_bool("PREFARENA_TESTING"):
    # Tests serve static files straight from the finders, with no collectstatic step.
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

# Generated and uploaded media (images, videos): never public. There is no MEDIA_URL for them;
# `/media/<name>` serves a file only to someone allowed to see its comparison (annotation.media_views).
# Files under var/media/ by default; an S3-compatible store (django-storages, not in requirements.txt:
# `pip install django-storages[s3]`) when MEDIA_S3_BUCKET is set.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_MAX_UPLOAD_BYTES = int(os.environ.get("MEDIA_MAX_UPLOAD_BYTES", str(20 * 2**20)))
MEDIA_MAX_PIXELS = int(os.environ.get("MEDIA_MAX_PIXELS", str(40_000_000)))
if os.environ.get("MEDIA_S3_BUCKET"):
    STORAGES["prefarena_media"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["MEDIA_S3_BUCKET"],
            "endpoint_url": os.environ.get("MEDIA_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("MEDIA_S3_REGION") or None,
            "location": os.environ.get("MEDIA_S3_PREFIX", "media"),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    STORAGES["prefarena_media"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": None},
    }

REST_FRAMEWORK = {
    # Token first: DRF answers a missing or wrong credential with the first class's challenge,
    # so API clients get 401 + WWW-Authenticate: Token (session auth has no challenge: 403).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "config.api_schema.AutoSchema",
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
    # Rate limits (config/throttles.py): every request per user / per anonymous address, and the
    # scopes below on writes, per user and per address ("<scope>_ip"). Over a limit: 429 + Retry-After.
    # One class counts them all in one Redis round trip.
    "DEFAULT_THROTTLE_CLASSES": ["config.throttles.RateLimits"],
    "DEFAULT_THROTTLE_RATES": {
        scope: os.environ.get(f"THROTTLE_{scope.upper()}", default)
        for scope, default in {
            "anon": "120/min",
            "user": "1200/min",
            "battles": "6/min",
            "battles_ip": "30/min",  # a few battle starts a minute per voter
            "votes": "30/min",
            "votes_ip": "120/min",
            "imports": "20/hour",
            "imports_ip": "60/hour",
            "exports": "20/hour",
            "exports_ip": "60/hour",
            "logins": "10/min",
            "logins_ip": "30/min",  # password guessing
            "accounts": "5/hour",
            "accounts_ip": "20/hour",  # password-reset mails, sign-ups
        }.items()
    },
    # Proxies in front of the web processes: how many X-Forwarded-For entries to trust for the client
    # address (0: REMOTE_ADDR only, so a client cannot pick its own address for the limits).
    "NUM_PROXIES": int(os.environ.get("NUM_PROXIES", "0")),
}
# The same limits on the pages that write (URL name → scope; POSTs only).
PAGE_RATE_LIMITS = {
    "arena:start_battle": "battles",
    "arena:start_arena_battle": "battles",
    "arena:vote": "votes",
    "annotation:import": "imports",
    "annotation:build_items": "imports",
    "export:start": "exports",
    "login": "logins",
    "admin:login": "logins",
    "password_reset": "accounts",
    "signup": "accounts",
    "signup_invited": "accounts",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PrefArena API",
    "DESCRIPTION": "Anonymous pairwise battles between models, votes and the live leaderboard.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Celery. The default broker is kombu's SQLAlchemy transport on a SQLite file,
# so the demo needs no server; production and tests use Redis.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}")
CELERY_RESULT_BACKEND = os.environ.get(
    "CELERY_RESULT_BACKEND", f"db+sqlite:///{VAR_DIR / 'celery-results.sqlite3'}"
)
# (No transport options for the SQLAlchemy broker: kombu hands them all to create_engine.)
# Every task acknowledges after it ran, so a worker that dies mid-task leaves its message to
# run again (tasks are idempotent).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Redis hands an unacknowledged message to another worker after the visibility timeout: it must
# outlast the longest task (an export's 6 h hard limit), or a long export would run twice at
# once. A dead worker's work is re-queued long before that by the sweeper below.
CELERY_BROKER_VISIBILITY_TIMEOUT = int(
    os.environ.get("CELERY_BROKER_VISIBILITY_TIMEOUT", str(6 * 3600 + 900))
)
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT}
# Long tasks (generation, exports) stamp their rows this often; a stamp older than
# WORKER_STALE_AFTER_SECONDS means the worker died, and the sweeper (run by beat every
# SWEEP_STRANDED_SECONDS) queues the work again: a killed worker's battle is answered again
# within about a minute.
WORKER_HEARTBEAT_SECONDS = float(os.environ.get("WORKER_HEARTBEAT_SECONDS", "10"))
WORKER_STALE_AFTER_SECONDS = float(os.environ.get("WORKER_STALE_AFTER_SECONDS", "40"))
SWEEP_STRANDED_SECONDS = float(os.environ.get("SWEEP_STRANDED_SECONDS", "15"))
# A pending battle answer with no sign of life this long (its message lost with a worker or a
# broker restart) is queued again; a late duplicate finds it claimed and does nothing.
INFERENCE_REQUEUE_PENDING_SECONDS = float(os.environ.get("INFERENCE_REQUEUE_PENDING_SECONDS", "60"))
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = False
# A slow model must never delay a vote's rank update: separate queues.
CELERY_TASK_ROUTES = {
    # The sweepers run on the default queue: a busy inference or ranking queue cannot delay them.
    # (Exact names win over the patterns below.)
    "inference.requeue_stranded_responses": {"queue": "default"},
    "ranking.repair_live_board": {"queue": "default"},
    "export.requeue_stranded_jobs": {"queue": "default"},
    "annotation.requeue_stranded_judging": {"queue": "default"},
    "inference.*": {"queue": "inference"},
    # AI judges run models too: they queue with generation, never ahead of a vote's rank update.
    "annotation.judge_comparison": {"queue": "inference"},
    "annotation.train_reward_judge": {"queue": "inference"},
    "ranking.*": {"queue": "ranking"},
    "export.*": {"queue": "export"},
}
CELERY_TASK_DEFAULT_QUEUE = "default"
# The periodic full refit (bootstrap intervals, style control, diagnostics) runs from beat.
CELERY_BEAT_SCHEDULE = {
    "ranking-full-refit": {
        "task": "ranking.full_refit",
        "schedule": float(os.environ.get("RANKING_FULL_REFIT_SECONDS", "300")),
    },
    # Re-queue work stranded by a dead worker or a lost message.
    # (A sweep nobody ran within one interval expires: the next one does the same work.)
    **{
        name: {
            "task": task,
            "schedule": SWEEP_STRANDED_SECONDS,
            "options": {"expires": SWEEP_STRANDED_SECONDS},
        }
        for name, task in [
            ("requeue-stranded-responses", "inference.requeue_stranded_responses"),
            ("repair-live-board", "ranking.repair_live_board"),
            ("requeue-stranded-exports", "export.requeue_stranded_jobs"),
            ("requeue-stranded-judging", "annotation.requeue_stranded_judging"),
        ]
    },
    # Routed campaigns: a routing pass a minute, so a lost routing task only delays routing.
    "routing-sweep": {
        "task": "routing.sweep",
        "schedule": float(os.environ.get("ROUTING_SWEEP_SECONDS", "60")),
    },
}
# How long a routed item waits for a missing AI verdict before it is routed on the verdicts it has.
ROUTING_JUDGE_WAIT_S = int(os.environ.get("ROUTING_JUDGE_WAIT_S", "600"))
# A routing pass holds its campaign's lock at most this long (a pass lost with its worker frees it then).
ROUTING_PASS_TIMEOUT_S = 660
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# A cache shared by web and worker processes (refit coalescing): Redis when CACHE_URL
# names one, else files under var/ (fine for one machine).
CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL.startswith("redis")
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache"),
    }
}

# Campaign queues: how long `next` waits for items other requests hold locked before it answers
# "busy, try again" (HTTP 503) instead of wrongly saying nothing is left.
CAMPAIGN_QUEUE_LOCK_WAIT_SECONDS = float(os.environ.get("CAMPAIGN_QUEUE_LOCK_WAIT_SECONDS", "2"))

# Ratings.
ELO_K_FACTOR = float(os.environ.get("ELO_K_FACTOR", "32"))
# Bootstrap resamples for the live refit after votes, and for the periodic full refit.
RANKING_LIVE_BOOTSTRAP = int(os.environ.get("RANKING_LIVE_BOOTSTRAP", "100"))
RANKING_FULL_BOOTSTRAP = int(os.environ.get("RANKING_FULL_BOOTSTRAP", "1000"))
# Online Elo's bootstrap replays the votes in order per resample: at most this many resamples.
RANKING_ELO_BOOTSTRAP = int(os.environ.get("RANKING_ELO_BOOTSTRAP", "100"))
# Above this many judgments a live refit updates only the counted-outcome views (BT, PL, about
# 20 ms); Elo, Bayesian and style control then follow at the periodic full refit. A live refit
# of every view with bootstrap costs about 0.3 s at 2,000 votes, 0.5 s at 10,000, 0.8 s at 19,000
# and 1.5 s at 49,000 (bench/README.md): this keeps a vote on the open page (polled every second)
# well within 2 s.
RANKING_LIVE_ALL_VIEWS_UNDER = int(os.environ.get("RANKING_LIVE_ALL_VIEWS_UNDER", "10000"))
# Below this many votes a model is marked preliminary on the leaderboard.
RANKING_MIN_VOTES = int(os.environ.get("RANKING_MIN_VOTES", "10"))

# Arena limits.
ARENA_MAX_PROMPT_CHARS = int(os.environ.get("ARENA_MAX_PROMPT_CHARS", "4000"))
# Battles one voter may have generating at once (protects the workers from floods).
# Longest multi-turn conversation (characters, all turns) a model is sent, unless its arena entry says less or more.
ARENA_MAX_CONVERSATION_CHARS = int(os.environ.get("ARENA_MAX_CONVERSATION_CHARS", "12000"))
# Guests (arenas that allow them): votes an hour per guest session and per IP address, new guests an hour per
# IP, and an optional check run before a guest is made (dotted path to f(request); raise ValueError to refuse,
# e.g. a CAPTCHA or proof-of-work verifier).
ARENA_GUEST_VOTES_PER_HOUR = int(os.environ.get("ARENA_GUEST_VOTES_PER_HOUR", "30"))
ARENA_GUEST_VOTES_PER_IP_HOUR = int(os.environ.get("ARENA_GUEST_VOTES_PER_IP_HOUR", "120"))
ARENA_GUESTS_PER_IP_HOUR = int(os.environ.get("ARENA_GUESTS_PER_IP_HOUR", "20"))
ARENA_GUEST_CHECK = os.environ.get("ARENA_GUEST_CHECK", "")
# Proof of work before a browser session becomes a guest: zero bits of SHA-256 its script must find (0 = off;
# 18-20 costs a person about a second once, and a script flooding guests that second per guest).
ARENA_GUEST_POW_BITS = int(os.environ.get("ARENA_GUEST_POW_BITS", "0"))
# Leave guests' votes out of the model leaderboard (they stay stored, marked as guests').
RANKING_EXCLUDE_GUESTS = _env_bool("RANKING_EXCLUDE_GUESTS")
# A voter sees a personal leaderboard (their own votes, same engine) after this many rated votes.
ARENA_PERSONAL_BOARD_MIN_VOTES = int(os.environ.get("ARENA_PERSONAL_BOARD_MIN_VOTES", "10"))
# How many private (hidden) variants one provider may test in an arena at once; 0 = no cap.
ARENA_MAX_PRIVATE_VARIANTS = int(os.environ.get("ARENA_MAX_PRIVATE_VARIANTS", "0"))
# A board row is "provisional" until its model has this many votes after its public release.
ARENA_PROVISIONAL_VOTES = int(os.environ.get("ARENA_PROVISIONAL_VOTES", "300"))
ARENA_MAX_OPEN_BATTLES = int(os.environ.get("ARENA_MAX_OPEN_BATTLES", "3"))
# A device for local models: "auto" picks CUDA when present.
INFERENCE_DEVICE = os.environ.get("INFERENCE_DEVICE", "auto")

# LOG_FORMAT=json: one JSON object per line (for a log collector), from web and worker processes.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(threadName)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "[%(asctime)s: %(levelname)s/%(name)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_FORMAT == "json" else "text"}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
# Celery's own log format would replace ours on the worker: keep Django's when asked for JSON.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"
