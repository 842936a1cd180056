"""Settings for the RESPECT platform, read from the environment.

The embedded default (no variables set) runs on one machine with no services: SQLite under
``var/``, the in-memory channel layer and Celery tasks executed eagerly in-process. Production
points ``DATABASE_URL`` at PostgreSQL and ``REDIS_URL`` at Redis (channel layer + Celery broker).
"""
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from respect_site.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

# --- Folders -------------------------------------------------------------------------------------
# Everything the platform writes (database, models, checkpoints, exports) lives under var/ by
# default, so a clone stays clean; each folder can be moved independently.
VAR_DIR = Path(env_str("RESPECT_VAR_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR = Path(env_str("RESPECT_DATA_DIR", str(VAR_DIR / "data"))).resolve()
MEDIA_ROOT = Path(env_str("RESPECT_MEDIA_DIR", str(VAR_DIR / "media"))).resolve()
STATIC_ROOT = Path(env_str("RESPECT_STATIC_DIR", str(VAR_DIR / "static"))).resolve()
# The embedded default writes its SQLite file here; SQLite does not create missing folders.
for _folder in (VAR_DIR, STATIC_ROOT):
    _folder.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "media/"
STATIC_URL = "static/"

# --- Core ------------------------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-key-never-used-in-production-9f3b1c2e7a"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",  # ASGI runserver (HTTP + websockets)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "channels",
    "games",
    "feedback",
    "training",
    "frontend",
    "api",
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
    "feedback.middleware.AnnotatorAdminGate",  # annotators see only the annotation pages of the admin
]

ROOT_URLCONF = "respect_site.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "respect_site.asgi.application"

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

# --- Database ----------------------------------------------------------------------------------------
DEFAULT_SQLITE_URL = f"sqlite:///{VAR_DIR / 'respect.sqlite3'}"
DATABASE_URL = env_str("DATABASE_URL", DEFAULT_SQLITE_URL)
try:
    _database = dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0), conn_health_checks=True
    )
except Exception as exc:  # dj-database-url raises several types for a malformed URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if _database["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions + WAL + a busy timeout let the web process and in-process workers
    # write concurrently without "database is locked" errors.
    _database["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
# A psycopg connection pool per process (PostgreSQL only): live games make many short database calls
# from many threads, and opening a connection for each costs more than the call.
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 0)
if DB_POOL_MAX_SIZE < 0:
    raise ImproperlyConfigured("DB_POOL_MAX_SIZE must be >= 0 (0: no pool)")
if DB_POOL_MAX_SIZE and _database["ENGINE"] == "django.db.backends.postgresql":
    if _database["CONN_MAX_AGE"]:
        raise ImproperlyConfigured("DB_POOL_MAX_SIZE and DB_CONN_MAX_AGE exclude each other: the pool keeps the connections")
    _database.setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1, "max_size": DB_POOL_MAX_SIZE, "timeout": env_int("DB_POOL_TIMEOUT_SECONDS", 10),
    }
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channels and Celery -------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # A socket timeout above the layer's 5 s blocking receive (BZPOPMIN): redis-py 8 defaults to
            # 5 s, which tears down every websocket idle for 5 s (e.g. while a player types).
            # redis-py 8 also caps a process's connection pool at 100 and raises beyond it
            # (MaxConnectionsError): a web process serving hundreds of sockets needs more at once.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30,
                                  "max_connections": env_int("CHANNELS_REDIS_MAX_CONNECTIONS", 1000)}],
                       "prefix": env_str("CHANNELS_PREFIX", "respect")},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# The cache holds counters shared by the web processes (the entry throttle): Redis when there is one.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": env_str("CHANNELS_PREFIX", "respect")}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Who answers bot turns (the games app's bot port, games/bots.py): a dotted path to a BotBackend.
BOT_BACKEND = env_str("BOT_BACKEND", "training.bot_backend.TrainingBotBackend")
# How bot turns reach a policy: the Celery inference queue, an in-process thread, or inline.
BOT_DISPATCH = env_str("BOT_DISPATCH", "celery" if REDIS_URL else "thread")
if BOT_DISPATCH not in {"celery", "thread", "inline"}:
    raise ImproperlyConfigured(f"BOT_DISPATCH={BOT_DISPATCH!r}: use celery, thread or inline")
# Micro-batching of bot turns per loaded model (training/services/batching.py): a batch waits at most
# this long for company after its first request, and holds at most this many requests.
INFERENCE_BATCH_WINDOW_MS = env_int("INFERENCE_BATCH_WINDOW_MS", 5)
INFERENCE_MAX_BATCH = env_int("INFERENCE_MAX_BATCH", 32)
if INFERENCE_BATCH_WINDOW_MS < 0 or INFERENCE_MAX_BATCH < 1:
    raise ImproperlyConfigured("INFERENCE_BATCH_WINDOW_MS must be >= 0 and INFERENCE_MAX_BATCH >= 1")
# Embedded default: the web process also sweeps overdue games (production runs `game_clock`).
GAME_CLOCK_IN_PROCESS = env_bool("GAME_CLOCK_IN_PROCESS", not REDIS_URL)
# Web processes write a heartbeat every second, so that a server outage is never taken for idle players.
GAME_HEARTBEAT = env_bool("GAME_HEARTBEAT", True)
# Websocket consumers run their database calls on one thread per web process (Channels' default: safe
# with SQLite and inside test transactions) or, off, on a thread pool, in parallel: for PostgreSQL in
# production, with DB_POOL_MAX_SIZE so that the threads share a bounded set of connections.
GAME_DB_ONE_THREAD = env_bool("GAME_DB_ONE_THREAD", True)
# How long a thread of a web process may hold Python's interpreter lock while another waits for it
# (sys.setswitchinterval), in microseconds; 0 keeps Python's 5,000. A thread coming back from a
# database round trip or a socket read waits for the lock behind threads that compute (views rendering
# pages): a live turn's ten-odd round trips then wait that long each, often more than once. Shorter
# intervals shorten that wait (bench/switch_interval.py); a gain over a whole load run is not shown
# (docs/benchmarks.md, fix 8), so the default stays Python's. respect_site/asgi.py applies it.
WEB_SWITCH_INTERVAL_US = env_int("WEB_SWITCH_INTERVAL_US", 0)
if WEB_SWITCH_INTERVAL_US < 0:
    raise ImproperlyConfigured(f"WEB_SWITCH_INTERVAL_US={WEB_SWITCH_INTERVAL_US} must be 0 (Python's default) or more")
# Training runs (training/services/runs.py): a running run without a heartbeat for this long is taken
# as dead and may be claimed again; train_round waits this long for its runs.
TRAINING_RUN_STALE_SECONDS = env_int("TRAINING_RUN_STALE_SECONDS", 600)
TRAINING_WAIT_SECONDS = env_int("TRAINING_WAIT_SECONDS", 6 * 3600)
# How training runs reach a worker: the Celery `training` queue (production) or inline in the caller.
TRAINING_DISPATCH = env_str("TRAINING_DISPATCH", "celery" if REDIS_URL else "inline")
if TRAINING_DISPATCH not in {"celery", "inline"}:
    raise ImproperlyConfigured(f"TRAINING_DISPATCH={TRAINING_DISPATCH!r}: use celery or inline")
# Keyed hashing of worker ids; keep it stable across SECRET_KEY rotations by setting it explicitly.
PARTICIPANT_HASH_KEY = env_str("PARTICIPANT_HASH_KEY")
# Websocket frames per second allowed from one connection before frames are refused (the first
# refusal in a second gets an error frame; a connection sending 4x the limit in a second is closed
# with 4429), and the most frames one connection may send before it is closed (4429).
GAME_FRAME_RATE_LIMIT = env_int("GAME_FRAME_RATE_LIMIT", 8)
GAME_MAX_FRAMES_PER_CONNECTION = env_int("GAME_MAX_FRAMES_PER_CONNECTION", 2000)
if GAME_FRAME_RATE_LIMIT < 1 or GAME_MAX_FRAMES_PER_CONNECTION < 1:
    raise ImproperlyConfigured("GAME_FRAME_RATE_LIMIT and GAME_MAX_FRAMES_PER_CONNECTION must be >= 1")
# Entry links: at most this many new participants (and refused entries) per client address per
# window (0: no limit, e.g. for a load test from one machine).
PARTICIPANT_ENTRY_LIMIT = env_int("PARTICIPANT_ENTRY_LIMIT", 20)
PARTICIPANT_ENTRY_WINDOW_SECONDS = env_int("PARTICIPANT_ENTRY_WINDOW_SECONDS", 3600)
if PARTICIPANT_ENTRY_LIMIT < 0 or PARTICIPANT_ENTRY_WINDOW_SECONDS < 1:
    raise ImproperlyConfigured("PARTICIPANT_ENTRY_LIMIT must be >= 0 and PARTICIPANT_ENTRY_WINDOW_SECONDS >= 1")
# The web processes beat every second (games/services/uptime.py); a gap longer than this is a server
# outage: deadlines of games in play are extended by it, and no one is ended as idle meanwhile.
GAME_OUTAGE_SECONDS = env_int("GAME_OUTAGE_SECONDS", 5)
if GAME_OUTAGE_SECONDS < 2:
    raise ImproperlyConfigured("GAME_OUTAGE_SECONDS must be >= 2 (the heartbeat is every second)")

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
# Without a broker, tasks run inline in the calling process: the embedded default.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Feedback decoding (feedback/, docs/feedback.md) -----------------------------------------------------
# The decoder used where none is named, and in place of a system's prompted (binary/ternary) decoder
# when its checkpoint has no language model to run on (the compact listener, no checkpoint, or the tiny
# test model): lexicon or lexicon-binary.
FEEDBACK_DEFAULT_DECODER = env_str("FEEDBACK_DEFAULT_DECODER", "lexicon")
if FEEDBACK_DEFAULT_DECODER not in {"lexicon", "lexicon-binary"}:
    raise ImproperlyConfigured(f"FEEDBACK_DEFAULT_DECODER={FEEDBACK_DEFAULT_DECODER!r}: use lexicon or lexicon-binary")
# Run systems' prompted decoders on the tiny test model anyway (its answers are meaningless; for checks).
FEEDBACK_PROMPTED_ON_TINY = env_bool("FEEDBACK_PROMPTED_ON_TINY", False)
# The language model the prompted decoder runs on (the feedback app's port, feedback/language_model.py):
# a dotted path to a loader `(path, *, device=None) -> FeedbackLanguageModel`.
FEEDBACK_LANGUAGE_MODEL = env_str("FEEDBACK_LANGUAGE_MODEL", "training.feedback_model.load_feedback_model")
FEEDBACK_BATCH_SIZE = env_int("FEEDBACK_BATCH_SIZE", 16)
# Input budget of the prompted decoder (tokens; capped by the model's context). The window is cut from
# the left to fit; the instruction never is.
FEEDBACK_MAX_INPUT_TOKENS = env_int("FEEDBACK_MAX_INPUT_TOKENS", 1024)
if FEEDBACK_BATCH_SIZE < 1 or FEEDBACK_MAX_INPUT_TOKENS < 64:
    raise ImproperlyConfigured("FEEDBACK_BATCH_SIZE must be >= 1 and FEEDBACK_MAX_INPUT_TOKENS >= 64")

# --- Auth, i18n, security -------------------------------------------------------------------------------
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

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if env_bool("BEHIND_HTTPS_PROXY", not DEBUG):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- REST API (api/, docs/api.md) ------------------------------------------------------------------------
# Requests per user and period ("N/second|minute|hour|day"): read calls of staff, and annotation calls.
# A caller over the rate gets 429 with Retry-After.
API_THROTTLE_RATES = {
    "user": env_str("API_THROTTLE_USER", "300/minute"),
    "annotation": env_str("API_THROTTLE_ANNOTATION", "60/minute"),
}
for _scope, _rate in API_THROTTLE_RATES.items():
    _count, _, _period = _rate.partition("/")
    if not (_count.isdigit() and int(_count) > 0 and _period in {"second", "minute", "hour", "day"}):
        raise ImproperlyConfigured(f"API_THROTTLE_{_scope.upper()}={_rate!r}: use N/second, N/minute, N/hour or N/day")
# Rows per page when the caller asks for none, and the most a caller may ask for (?page_size=).
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 50)
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 500)
if not 1 <= API_PAGE_SIZE <= API_MAX_PAGE_SIZE:
    raise ImproperlyConfigured("API_PAGE_SIZE must be >= 1 and at most API_MAX_PAGE_SIZE")

REST_FRAMEWORK = {
    # Token first: an anonymous call is answered 401 with a WWW-Authenticate: Token header.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "RESPECT API",
    "DESCRIPTION": "Read access to rounds, systems, games and labels for staff; annotation for annotators. See docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Several models have a "status": name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "RoundStatusEnum": "games.models.RoundStatus",
        "InteractionStatusEnum": "games.models.InteractionStatus",
        "TrainingRunStatusEnum": "training.models.TrainingRunStatus",
        "CampaignStatusEnum": "feedback.models.CampaignStatus",
        "AnnotationStatusEnum": "feedback.models.AnnotationStatus",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Worker and assignment ids in logged URLs (entry links) are replaced by "[redacted]".
    "filters": {"redact_ids": {"()": "respect_site.log_filters.RedactParticipantIds"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_ids"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
