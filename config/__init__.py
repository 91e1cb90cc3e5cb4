"""Settings: one class per environment, environment variables on top.

``get_config(name)`` returns a plain dict for ``app.config.from_mapping``.
Values are read from the environment (and ``.env`` when present) each time
it is called, so tests and the CLI see what the process was started with.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from dotenv import load_dotenv
from limits import parse_many
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = ROOT / "instance"
ENVIRONMENTS = ("development", "testing", "production")
_WEAK_SECRETS = {"", "dev", "secret", "changeme", "change-me"}
MIN_SECRET_LENGTH = 32
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# nginx on the same host; gunicorn's own default adds ::1
DEFAULT_FORWARDED_ALLOW_IPS = "127.0.0.1"
# Pwned Passwords' k-anonymity range API: the 5-character prefix is appended
DEFAULT_BREACH_URL = "https://api.pwnedpasswords.com/range/"


MAIL_COURIER_MODES = ("embedded", "off")


def _production_mail(url: str | None, sender: str | None, links: str | None) -> None:
    if url is None:
        raise ConfigError("MAIL_URL must be set in production (smtp://user:password@host"
                          ":587 or smtps://…), or mail turned off with MAIL_ENABLED=false")
    if sender is None:
        raise ConfigError("MAIL_FROM must be set in production (e.g. "
                          "'Example Accounts <accounts@example.com>')")
    if links is None:
        raise ConfigError("PUBLIC_URL or ACCOUNT_URL must be set in production: mailed "
                          "links need an absolute address")


def _mail(name: str, cls: type, public_url: str | None) -> dict[str, Any]:
    """MAIL_* and the links' base, checked together (SPEC §11): production
    sends real mail or says it does not (MAIL_ENABLED=false)."""
    from api.mail.transport import parse_mail_url

    enabled = _bool("MAIL_ENABLED", True)
    url = _env("MAIL_URL")
    if url is not None:
        try:
            parse_mail_url(url)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    sender = _env("MAIL_FROM")
    account_url = _env("ACCOUNT_URL")
    if account_url is not None:
        parts = urlsplit(account_url)
        if parts.scheme not in ("http", "https") or not parts.hostname \
                or parts.query or parts.fragment:
            raise ConfigError("ACCOUNT_URL must be an absolute http(s) URL without a query "
                              "or fragment, e.g. https://app.example.com/account")
    if name == "production" and enabled:
        _production_mail(url, sender, account_url or public_url)
    if sender is not None and "@" not in sender:
        raise ConfigError("MAIL_FROM must hold an address, e.g. 'Accounts <a@example.com>'")
    courier = (_env("MAIL_COURIER", cls.MAIL_COURIER) or "").strip().lower()
    if courier not in MAIL_COURIER_MODES:
        raise ConfigError(f"MAIL_COURIER must be embedded or off, not {courier!r}")
    require_verified = _bool("REQUIRE_VERIFIED_EMAIL", False)
    if require_verified and not enabled:
        raise ConfigError("REQUIRE_VERIFIED_EMAIL=true needs mail (MAIL_ENABLED=true): "
                          "nobody could verify an address")
    settings = {
        "MAIL_ENABLED": enabled,
        "MAIL_URL": url,
        "MAIL_FROM": sender or "Gatehouse <gatehouse@localhost>",
        "MAIL_DIR": _env("MAIL_DIR", str(INSTANCE_DIR / "mail")),
        "MAIL_COURIER": courier,
        "MAIL_MAX_ATTEMPTS": _int("MAIL_MAX_ATTEMPTS", cls.MAIL_MAX_ATTEMPTS, 1),
        "MAIL_RETRY_BASE": _int("MAIL_RETRY_BASE", cls.MAIL_RETRY_BASE, 1),
        "MAIL_RETRY_MAX": _int("MAIL_RETRY_MAX", cls.MAIL_RETRY_MAX, 1),
        "MAIL_TIMEOUT": _int("MAIL_TIMEOUT", cls.MAIL_TIMEOUT, 1),
        "MAIL_POLL_INTERVAL": _int("MAIL_POLL_INTERVAL", cls.MAIL_POLL_INTERVAL, 1),
        "MAIL_RETENTION_DAYS": _int("MAIL_RETENTION_DAYS", cls.MAIL_RETENTION_DAYS, 1),
        "ACCOUNT_URL": account_url.rstrip("/") if account_url else None,
        "REQUIRE_VERIFIED_EMAIL": require_verified,
    }
    if settings["MAIL_RETRY_BASE"] > settings["MAIL_RETRY_MAX"]:
        raise ConfigError("MAIL_RETRY_BASE must not exceed MAIL_RETRY_MAX")
    return settings


class ConfigError(RuntimeError):
    """A setting is missing or unusable; the app must not start."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}")


def _int(name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    value = _env(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"{name} must be at most {maximum}")
    return number


MIN_SECRET_BITS = 128
MIN_SECRET_DISTINCT = 10


def secret_bits(secret: str) -> float:
    """An estimate of a secret's entropy in bits, from the string alone.

    Bits per character: the Shannon entropy of its characters (by how often
    each occurs, with the Miller-Madow correction for a short sample, so a
    random string scores near its true entropy). Characters: all but those
    that extend a run of three of one step ("aaa", "abc", "987"). A random
    32-character URL-safe string scores about 160, 64 hex digits about 250;
    32 × "a" scores 0, "abcd…" or "password" repeated well under 128.
    """
    total = len(secret)
    if total == 0:
        return 0.0
    counts = Counter(secret)
    per_char = -sum(n / total * math.log2(n / total) for n in counts.values())
    per_char += (len(counts) - 1) / (2 * total * math.log(2))
    codes = [ord(ch) for ch in secret]
    fresh = min(total, 2) + sum(
        1 for a, b, c in zip(codes, codes[1:], codes[2:])
        if not (c - b == b - a and abs(c - b) <= 1))
    return per_char * fresh


def _weak(secret: str) -> bool:
    return (len(secret) < MIN_SECRET_LENGTH or secret.lower() in _WEAK_SECRETS
            or secret == BaseConfig.DEFAULT_SECRET
            or len(set(secret)) < MIN_SECRET_DISTINCT
            or secret_bits(secret) < MIN_SECRET_BITS)


def _database_url(default: str) -> str:
    """DATABASE_URL, checked now: a bad one must stop start-up with one line.

    The URL is never echoed: it may hold a password.
    """
    value = _env("DATABASE_URL", default) or default
    try:
        url = make_url(value)
        url.get_dialect().import_dbapi()
    except (ArgumentError, ValueError):
        raise ConfigError("DATABASE_URL is not a database URL this app can use "
                          "(e.g. postgresql+psycopg://user@host/db)") from None
    except ImportError:
        raise ConfigError(f"DATABASE_URL names the driver {url.drivername!r}, which is "
                          f"not installed (use postgresql+psycopg://… or sqlite:///…)") from None
    return value


def _redis_url() -> str | None:
    value = _env("REDIS_URL")
    if value is not None and not value.startswith(("redis://", "rediss://", "redis+")):
        raise ConfigError("REDIS_URL must be a redis:// or rediss:// URL")
    return value


def _rate_limit(name: str, default: str) -> str:
    value = _env(name, default) or default
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{name} must be a rate limit such as '10 per minute', "
                          f"not {value!r}") from None
    return value


def _forwarded_allow_ips() -> str:
    """FORWARDED_ALLOW_IPS: the proxies whose X-Forwarded-For names the client
    (addresses and networks, comma-separated; "*" trusts any peer, which is
    safe only where nothing but the proxy can reach the server). gunicorn
    reads the same variable for X-Forwarded-Proto (config/gunicorn.conf.py)."""
    from api.proxies import parse_trusted

    value = _env("FORWARDED_ALLOW_IPS", DEFAULT_FORWARDED_ALLOW_IPS) or ""
    try:
        parse_trusted(value)
    except ValueError as error:
        raise ConfigError(f"FORWARDED_ALLOW_IPS: {error}") from None
    return value


BREACH_CHECK_MODES = ("off", "best-effort", "strict")


def _breach_check() -> str:
    value = (_env("PASSWORD_BREACH_CHECK", "off") or "off").strip().lower()
    if value not in BREACH_CHECK_MODES:
        raise ConfigError(f"PASSWORD_BREACH_CHECK must be one of "
                          f"{', '.join(BREACH_CHECK_MODES)}, not {value!r}")
    return value


def _breach_url() -> str:
    value = _env("PASSWORD_BREACH_URL", DEFAULT_BREACH_URL) or DEFAULT_BREACH_URL
    if not value.startswith(("https://", "http://")):
        raise ConfigError("PASSWORD_BREACH_URL must be an http(s):// URL that the 5-character "
                          "hash prefix is appended to (e.g. https://api.pwnedpasswords.com/range/)")
    return value


def _seconds(name: str, default: float, low: float, high: float) -> float:
    value = _env(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g} seconds")
    return number


def _public_url() -> str | None:
    """PUBLIC_URL: where clients reach the API (scheme, host, optional path
    prefix), for the links the API writes (problem+json `type`); unset, they
    are relative. Never taken from the request's Host header."""
    value = _env("PUBLIC_URL")
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        usable = (parts.scheme in ("http", "https") and bool(parts.hostname)
                  and parts.username is None and parts.port != 0
                  and "?" not in value and "#" not in value)
    except ValueError:  # a malformed host or port
        usable = False
    if not usable:
        raise ConfigError("PUBLIC_URL must be an absolute http(s) URL without a query, "
                          "fragment or credentials, e.g. https://accounts.example.com")
    return value.rstrip("/")


def _log_level() -> str:
    value = (_env("LOG_LEVEL", "INFO") or "INFO").upper()
    if value not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {value!r}")
    return value


_FERNET_HINT = ("python3 -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'")


def _totp_keys(name: str, secret: str) -> list[str]:
    """TOTP_ENCRYPTION_KEYS: the keys that encrypt TOTP secrets at rest, the
    first encrypting, every one decrypting (a rotation puts the new key
    first, runs `flask users rotate-2fa-key`, then drops the old one).

    Production needs its own: a key derived from SECRET_KEY would lock every
    2FA user out the day SECRET_KEY is rotated. Elsewhere one is derived
    from SECRET_KEY. A key is never echoed."""
    value = _env("TOTP_ENCRYPTION_KEYS")
    if value is None:
        if name == "production":
            raise ConfigError(f"TOTP_ENCRYPTION_KEYS must be set in production (a key: "
                              f"{_FERNET_HINT})")
        derived = hashlib.sha256(b"gatehouse-totp:" + secret.encode()).digest()
        return [base64.urlsafe_b64encode(derived).decode()]
    keys = [key.strip() for key in value.split(",")]
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError, binascii.Error):
            raise ConfigError(f"TOTP_ENCRYPTION_KEYS must be comma-separated Fernet keys "
                              f"(a key: {_FERNET_HINT})") from None
    return keys


_AUDIENCE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                            "0123456789-._~:/?#[]@!$&'()*+;=%")


DEFAULT_WEBAUTHN_RP_ID = "localhost"
DEFAULT_WEBAUTHN_ORIGINS = "http://localhost:8000"


def _webauthn() -> dict[str, Any]:
    """Passkeys' relying party (api/passkeys/): its id (a host name, no
    scheme or port), its display name, and the origins whose pages may use
    its passkeys. A browser lets a page use an RP ID only if the id is the
    page's host or a registrable suffix of it, and only in a secure context
    (https, or http on localhost), so each origin must be one of those."""
    rp_id = (_env("WEBAUTHN_RP_ID", DEFAULT_WEBAUTHN_RP_ID) or "").strip().lower()
    if not rp_id or "/" in rp_id or ":" in rp_id or rp_id.startswith(".") \
            or rp_id.endswith(".") or not rp_id.isascii():
        raise ConfigError(f"WEBAUTHN_RP_ID must be a host name such as example.com "
                          f"(no scheme, port or path), not {rp_id!r}")
    name = (_env("WEBAUTHN_RP_NAME", "Gatehouse") or "").strip()
    if not name or len(name) > 64:
        raise ConfigError("WEBAUTHN_RP_NAME must be 1 to 64 characters")
    origins = [o.strip() for o in (_env("WEBAUTHN_ORIGINS", DEFAULT_WEBAUTHN_ORIGINS)
                                   or "").split(",") if o.strip()]
    if not origins:
        raise ConfigError("WEBAUTHN_ORIGINS must name at least one origin "
                          "(e.g. https://accounts.example.com)")
    for origin in origins:
        parts = urlsplit(origin)
        host = (parts.hostname or "").lower()
        if (parts.scheme not in ("https", "http") or not host or parts.path not in ("", "/")
                or parts.query or parts.fragment or parts.username):
            raise ConfigError(f"WEBAUTHN_ORIGINS: {origin!r} is not an origin "
                              f"(scheme://host[:port], nothing after)")
        if parts.scheme == "http" and host != "localhost" and not host.endswith(".localhost"):
            raise ConfigError(f"WEBAUTHN_ORIGINS: {origin!r} must use https "
                              f"(browsers allow passkeys over http only on localhost)")
        if host != rp_id and not host.endswith("." + rp_id):
            raise ConfigError(f"WEBAUTHN_ORIGINS: {origin!r} is not on WEBAUTHN_RP_ID "
                              f"{rp_id!r} (its host must be the RP ID or end with "
                              f"'.{rp_id}')")
    return {"WEBAUTHN_RP_ID": rp_id, "WEBAUTHN_RP_NAME": name,
            "WEBAUTHN_ORIGINS": [o.rstrip("/") for o in origins]}


def _audiences() -> list[str]:
    """JWT_AUDIENCE: the services Gatehouse's access tokens are meant for,
    comma-separated (an identifier or URL each). Every token carries them
    all as ``aud``; a token is accepted when its ``aud`` names one of them,
    so adding a value first keeps tokens of the old list valid."""
    value = _env("JWT_AUDIENCE", "gatehouse") or "gatehouse"
    audiences = [item.strip() for item in value.split(",")]
    for item in audiences:
        if not item or len(item) > 200 or not set(item) <= _AUDIENCE_CHARS:
            raise ConfigError("JWT_AUDIENCE must be comma-separated identifiers or URLs "
                              "(no spaces, at most 200 characters each), e.g. "
                              "'gatehouse,https://api.example.com'")
    if len(set(audiences)) != len(audiences):
        raise ConfigError("JWT_AUDIENCE names the same audience twice")
    return audiences


def _verify_key_files(algorithm: str) -> list[str]:
    """JWT_VERIFY_KEY_FILES: more public keys (PEM files, comma-separated)
    that verify tokens but never sign: the next key before a rotation, the
    previous one after it. The files are read and checked at start-up
    (api/auth/tokens.py)."""
    value = _env("JWT_VERIFY_KEY_FILES")
    if value is None:
        return []
    if algorithm == "HS256":
        raise ConfigError("JWT_VERIFY_KEY_FILES needs JWT_ALGORITHM=EdDSA or RS256 "
                          "(HS256 has no public keys)")
    files = [item.strip() for item in value.split(",")]
    if not all(files):
        raise ConfigError("JWT_VERIFY_KEY_FILES must be comma-separated file paths")
    return files


MAX_BACKOFF = 15 * 60  # SPEC §10: someone else's failures delay the owner at most this


def _failure_policy(cls: type) -> dict[str, int]:
    """AUTH_FAILURES_* and AUTH_BACKOFF_*, checked together."""
    policy = {
        "AUTH_FAILURES_FREE": _int("AUTH_FAILURES_FREE", cls.AUTH_FAILURES_FREE, 1),
        "AUTH_FAILURES_FREE_PER_ADDRESS": _int("AUTH_FAILURES_FREE_PER_ADDRESS",
                                               cls.AUTH_FAILURES_FREE_PER_ADDRESS, 1),
        "AUTH_FAILURES_WINDOW": _int("AUTH_FAILURES_WINDOW", cls.AUTH_FAILURES_WINDOW, 1),
        "AUTH_BACKOFF_BASE": _int("AUTH_BACKOFF_BASE", cls.AUTH_BACKOFF_BASE, 1),
        "AUTH_BACKOFF_MAX": _int("AUTH_BACKOFF_MAX", cls.AUTH_BACKOFF_MAX, 1),
    }
    if policy["AUTH_BACKOFF_MAX"] > MAX_BACKOFF:
        raise ConfigError(f"AUTH_BACKOFF_MAX must be at most {MAX_BACKOFF} seconds "
                          f"(someone else's failures must not lock an owner out longer)")
    if policy["AUTH_BACKOFF_BASE"] > policy["AUTH_BACKOFF_MAX"]:
        raise ConfigError("AUTH_BACKOFF_BASE must not exceed AUTH_BACKOFF_MAX")
    if policy["AUTH_FAILURES_WINDOW"] < policy["AUTH_BACKOFF_MAX"]:
        raise ConfigError("AUTH_FAILURES_WINDOW must be at least AUTH_BACKOFF_MAX")
    return policy


class BaseConfig:
    APP_ENV = "development"
    DEBUG = False
    TESTING = False
    MAX_CONTENT_LENGTH = 64 * 1024
    SQLALCHEMY_ECHO = False
    DEFAULT_DATABASE = f"sqlite:///{INSTANCE_DIR / 'gatehouse.db'}"
    DEFAULT_SECRET = "development-only-secret-never-use-in-production"
    # argon2id cost (RFC 9106 second recommended option, memory in KiB)
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    ARGON2_PARALLELISM = 4
    PASSWORD_HASH_CONCURRENCY = 1
    PASSWORD_HASH_NICE = 10
    ACCESS_TOKEN_TTL = 15 * 60
    REFRESH_TOKEN_TTL = 30 * 24 * 3600
    CHALLENGE_TOKEN_TTL = 5 * 60
    # how long a resource server may cache GET /.well-known/jwks.json
    JWKS_MAX_AGE = 5 * 60
    # changing how an account is proven needs the password, or a proof this recent
    REAUTH_MAX_AGE = 5 * 60
    # a refresh token of the previous generation, presented this soon after its
    # rotation, lost a race (answered, session kept) rather than leaked
    REFRESH_REUSE_GRACE_SECONDS = 5
    # absolute session lifetime: refreshes slide the expiry only within it
    SESSION_MAX_AGE = 30 * 24 * 3600
    # security events are kept this many days, then pruned
    EVENT_RETENTION_DAYS = 90
    # ended (expired or revoked) sessions are pruned this many seconds later
    SESSION_PRUNE_GRACE = 7 * 24 * 3600
    # the service prunes by itself at most once per this many seconds per
    # process (0: only `flask maintenance prune`), PRUNE_BATCH_SIZE rows a transaction
    PRUNE_INTERVAL = 300
    PRUNE_BATCH_SIZE = 1000
    TOTP_ISSUER = "Gatehouse"
    # GET /docs (Swagger UI) and GET /openapi.json
    DOCS_ENABLED = True
    RATELIMIT_ENABLED = True
    # Flask-Limiter strings, per client address; refresh also per proven session
    RATELIMIT_LOGIN = "10 per minute"
    RATELIMIT_REGISTER = "5 per minute"
    RATELIMIT_REFRESH = "30 per minute"
    RATELIMIT_REFRESH_ACCOUNT = "10 per minute"
    RATELIMIT_2FA = "10 per minute"
    # failed password / second-factor checks (api/auth/attempts.py): this many
    # are free per account (per address), then each waits BASE * 2^k seconds,
    # at most MAX (15 minutes at most: the owner's worst delay); the count
    # is forgotten WINDOW seconds after the first failure
    AUTH_FAILURES_FREE = 5
    AUTH_FAILURES_FREE_PER_ADDRESS = 20
    AUTH_FAILURES_WINDOW = 3600
    AUTH_BACKOFF_BASE = 1
    AUTH_BACKOFF_MAX = 900
    # mail (api/mail/): the outbox's courier runs in each service process
    # (embedded) or only as `flask mail courier` (off)
    MAIL_COURIER = "embedded"
    MAIL_MAX_ATTEMPTS = 8
    MAIL_RETRY_BASE = 30
    MAIL_RETRY_MAX = 3600
    MAIL_TIMEOUT = 10
    MAIL_POLL_INTERVAL = 5
    MAIL_RETENTION_DAYS = 7
    # resend and forgot (each queues a mail), and redeeming a mailed token or code
    RATELIMIT_MAIL = "5 per minute"
    RATELIMIT_ACCOUNT_TOKEN = "10 per minute"


RATE_LIMITS = tuple(k for k in vars(BaseConfig) if k.startswith("RATELIMIT_")
                    and k != "RATELIMIT_ENABLED")


class DevelopmentConfig(BaseConfig):
    APP_ENV = "development"


class TestingConfig(BaseConfig):
    APP_ENV = "testing"
    TESTING = True
    # in-process tests drive the courier themselves (tests/mail/)
    MAIL_COURIER = "off"
    DEFAULT_DATABASE = "sqlite://"
    # cheap hashing keeps the suite fast; production cost comes from settings
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1


class ProductionConfig(BaseConfig):
    APP_ENV = "production"
    DEFAULT_SECRET = ""
    # a public deployment publishes its API description only when asked to
    DOCS_ENABLED = False


_CLASSES = {"development": DevelopmentConfig, "testing": TestingConfig,
            "production": ProductionConfig}


def get_config(name: str | None = None) -> dict[str, Any]:
    """Settings for ``name`` (default: $APP_ENV, else development)."""
    load_dotenv(ROOT / ".env", override=False)
    name = name or _env("APP_ENV", "development")
    if name not in _CLASSES:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, not {name!r}")
    cls = _CLASSES[name]
    config = {k: getattr(cls, k) for k in dir(cls) if k.isupper()}

    secret = _env("SECRET_KEY", cls.DEFAULT_SECRET) or ""
    jwt_secret = _env("JWT_SECRET_KEY", secret) or ""
    algorithm = _env("JWT_ALGORITHM", "HS256")
    if algorithm not in ("HS256", "EdDSA", "RS256"):
        raise ConfigError(f"JWT_ALGORITHM must be HS256, EdDSA or RS256, not {algorithm!r}")
    if name == "production":
        # an HS256 token signed with a guessable key can be forged
        for key, value in (("SECRET_KEY", secret), ("JWT_SECRET_KEY", jwt_secret)):
            if _weak(value) and (key == "SECRET_KEY" or algorithm == "HS256"):
                raise ConfigError(
                    f"{key} must be set to a random value of at least "
                    f"{MIN_SECRET_LENGTH} characters and about {MIN_SECRET_BITS} bits "
                    f"of entropy in production (no runs or repeats) "
                    f"(python -c 'import secrets; print(secrets.token_urlsafe(48))')")

    config.update(
        APP_ENV=name,
        SECRET_KEY=secret,
        JWT_SECRET_KEY=jwt_secret,
        JWT_ALGORITHM=algorithm,
        JWT_PRIVATE_KEY_FILE=_env("JWT_PRIVATE_KEY_FILE"),
        JWT_PUBLIC_KEY_FILE=_env("JWT_PUBLIC_KEY_FILE"),
        JWT_VERIFY_KEY_FILES=_verify_key_files(algorithm),
        JWT_ISSUER=_env("JWT_ISSUER", "gatehouse"),
        JWT_AUDIENCE=_audiences(),
        JWKS_MAX_AGE=_int("JWKS_MAX_AGE", cls.JWKS_MAX_AGE, 0),
        SQLALCHEMY_DATABASE_URI=_database_url(cls.DEFAULT_DATABASE),
        REDIS_URL=_redis_url(),
        RATELIMIT_ENABLED=_bool("RATELIMIT_ENABLED", cls.RATELIMIT_ENABLED),
        DOCS_ENABLED=_bool("DOCS_ENABLED", cls.DOCS_ENABLED),
        ACCESS_TOKEN_TTL=_int("ACCESS_TOKEN_TTL", cls.ACCESS_TOKEN_TTL, 1),
        REFRESH_TOKEN_TTL=_int("REFRESH_TOKEN_TTL", cls.REFRESH_TOKEN_TTL, 1),
        REAUTH_MAX_AGE=_int("REAUTH_MAX_AGE", cls.REAUTH_MAX_AGE, 0),
        REFRESH_REUSE_GRACE_SECONDS=_int("REFRESH_REUSE_GRACE_SECONDS",
                                         cls.REFRESH_REUSE_GRACE_SECONDS, 0),
        SESSION_MAX_AGE=_int("SESSION_MAX_AGE", cls.SESSION_MAX_AGE, 60),
        EVENT_RETENTION_DAYS=_int("EVENT_RETENTION_DAYS", cls.EVENT_RETENTION_DAYS, 1),
        SESSION_PRUNE_GRACE=_int("SESSION_PRUNE_GRACE", cls.SESSION_PRUNE_GRACE, 0),
        PRUNE_INTERVAL=_int("PRUNE_INTERVAL", cls.PRUNE_INTERVAL, 0),
        PRUNE_BATCH_SIZE=_int("PRUNE_BATCH_SIZE", cls.PRUNE_BATCH_SIZE, 1),
        ARGON2_TIME_COST=_int("ARGON2_TIME_COST", cls.ARGON2_TIME_COST, 1),
        ARGON2_MEMORY_COST=_int("ARGON2_MEMORY_COST", cls.ARGON2_MEMORY_COST, 8),
        ARGON2_PARALLELISM=_int("ARGON2_PARALLELISM", cls.ARGON2_PARALLELISM, 1),
        # argon2 hashes/verifications at once per worker process (api/auth/passwords.py)
        PASSWORD_HASH_CONCURRENCY=_int("PASSWORD_HASH_CONCURRENCY",
                                       cls.PASSWORD_HASH_CONCURRENCY, 1),
        # how much lower the hashing threads' CPU priority is (Linux; 0: the same)
        PASSWORD_HASH_NICE=_int("PASSWORD_HASH_NICE", cls.PASSWORD_HASH_NICE, 0, 19),
        AUTH_GENERIC_LOGIN_ERRORS=_bool("AUTH_GENERIC_LOGIN_ERRORS", False),
        **_failure_policy(cls),
        TOTP_ENCRYPTION_KEYS=_totp_keys(name, secret),
        LOG_LEVEL=_log_level(),
        PUBLIC_URL=_public_url(),
        LOG_ACCESS=_bool("LOG_ACCESS", True),
        DB_POOL_SIZE=_int("DB_POOL_SIZE", 5, 1),
        DB_MAX_OVERFLOW=_int("DB_MAX_OVERFLOW", 5, 0),
        DB_POOL_RECYCLE=_int("DB_POOL_RECYCLE", 1800, 1),
        DB_POOL_PRE_PING=_bool("DB_POOL_PRE_PING", True),
        # pre-ping only connections idle in the pool this long (0: every one)
        DB_POOL_PING_IDLE_S=_seconds("DB_POOL_PING_IDLE_S", 1.0, 0.0, 3600.0),
        DB_STATEMENT_TIMEOUT_MS=_int("DB_STATEMENT_TIMEOUT_MS", 5000, 0),
        # migrations (migrations/env.py) run with no statement timeout, and
        # wait at most this long for a table lock (0: forever), so a migration
        # queued behind a long transaction fails instead of stalling every
        # request queued behind it
        MIGRATION_LOCK_TIMEOUT_MS=_int("MIGRATION_LOCK_TIMEOUT_MS", 10000, 0),
        SQLITE_BUSY_TIMEOUT_MS=_int("SQLITE_BUSY_TIMEOUT_MS", 5000, 0),
        FORWARDED_ALLOW_IPS=_forwarded_allow_ips(),
        PASSWORD_BREACH_CHECK=_breach_check(),
        PASSWORD_BREACH_URL=_breach_url(),
        PASSWORD_BREACH_TIMEOUT=_seconds("PASSWORD_BREACH_TIMEOUT", 2.0, 0.1, 10.0),
    )
    config.update(_mail(name, cls, config["PUBLIC_URL"]))
    config.update(_webauthn())
    config["RATELIMIT_STORAGE_URI"] = config["REDIS_URL"] or "memory://"
    config["RATELIMIT_KEY_PREFIX"] = _env("RATELIMIT_KEY_PREFIX", "gatehouse")
    # Redis down (a real outage: no client input reaches a key, see
    # api/auth/limits.py): logged, and counted in this process's memory
    # until Redis answers again, rather than failing every login
    config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = True
    for key in RATE_LIMITS:  # e.g. RATELIMIT_LOGIN="5 per minute"
        config[key] = _rate_limit(key, config[key])
    return config
