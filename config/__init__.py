"""Settings: one class per environment, environment variables on top.

``get_config(name)`` returns a plain dict for ``app.config.from_mapping``.
Values are read from the environment (and ``.env`` when present) each time
it is called, so tests and the CLI see what the process was started with.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path
from typing import Any

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


def _int(name: str, default: int, minimum: int = 0) -> int:
    value = _env(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return number


def _weak(secret: str) -> bool:
    return (len(secret) < MIN_SECRET_LENGTH or secret.lower() in _WEAK_SECRETS
            or secret == BaseConfig.DEFAULT_SECRET)


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


class BaseConfig:
    APP_ENV = "development"
    DEBUG = False
    TESTING = False
    JSON_SORT_KEYS = False
    MAX_CONTENT_LENGTH = 64 * 1024
    SQLALCHEMY_ECHO = False
    DEFAULT_DATABASE = f"sqlite:///{INSTANCE_DIR / 'gatehouse.db'}"
    DEFAULT_SECRET = "development-only-secret-never-use-in-production"
    # argon2id cost (RFC 9106 second recommended option, memory in KiB)
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    ARGON2_PARALLELISM = 4
    ACCESS_TOKEN_TTL = 15 * 60
    REFRESH_TOKEN_TTL = 30 * 24 * 3600
    CHALLENGE_TOKEN_TTL = 5 * 60
    TOTP_ISSUER = "Gatehouse"
    RATELIMIT_ENABLED = True
    # Flask-Limiter strings; per client address and per account
    RATELIMIT_LOGIN = "10 per minute"
    RATELIMIT_LOGIN_ACCOUNT = "20 per hour"
    RATELIMIT_REGISTER = "5 per minute"
    RATELIMIT_REGISTER_ACCOUNT = "5 per hour"
    RATELIMIT_REFRESH = "30 per minute"
    RATELIMIT_REFRESH_ACCOUNT = "10 per minute"
    RATELIMIT_2FA = "10 per minute"
    RATELIMIT_2FA_ACCOUNT = "20 per hour"


RATE_LIMITS = tuple(k for k in vars(BaseConfig) if k.startswith("RATELIMIT_")
                    and k != "RATELIMIT_ENABLED")


class DevelopmentConfig(BaseConfig):
    APP_ENV = "development"


class TestingConfig(BaseConfig):
    APP_ENV = "testing"
    TESTING = True
    DEFAULT_DATABASE = "sqlite://"
    # cheap hashing keeps the suite fast; production cost comes from settings
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1


class ProductionConfig(BaseConfig):
    APP_ENV = "production"
    DEFAULT_SECRET = ""


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
                    f"{MIN_SECRET_LENGTH} characters in production "
                    f"(python -c 'import secrets; print(secrets.token_urlsafe(48))')")

    config.update(
        APP_ENV=name,
        SECRET_KEY=secret,
        JWT_SECRET_KEY=jwt_secret,
        JWT_ALGORITHM=algorithm,
        JWT_PRIVATE_KEY_FILE=_env("JWT_PRIVATE_KEY_FILE"),
        JWT_PUBLIC_KEY_FILE=_env("JWT_PUBLIC_KEY_FILE"),
        JWT_ISSUER=_env("JWT_ISSUER", "gatehouse"),
        SQLALCHEMY_DATABASE_URI=_database_url(cls.DEFAULT_DATABASE),
        REDIS_URL=_redis_url(),
        RATELIMIT_ENABLED=_bool("RATELIMIT_ENABLED", cls.RATELIMIT_ENABLED),
        ACCESS_TOKEN_TTL=_int("ACCESS_TOKEN_TTL", cls.ACCESS_TOKEN_TTL, 1),
        REFRESH_TOKEN_TTL=_int("REFRESH_TOKEN_TTL", cls.REFRESH_TOKEN_TTL, 1),
        ARGON2_TIME_COST=_int("ARGON2_TIME_COST", cls.ARGON2_TIME_COST, 1),
        ARGON2_MEMORY_COST=_int("ARGON2_MEMORY_COST", cls.ARGON2_MEMORY_COST, 8),
        ARGON2_PARALLELISM=_int("ARGON2_PARALLELISM", cls.ARGON2_PARALLELISM, 1),
        AUTH_GENERIC_LOGIN_ERRORS=_bool("AUTH_GENERIC_LOGIN_ERRORS", False),
        TOTP_ENCRYPTION_KEYS=_totp_keys(name, secret),
        LOG_LEVEL=_log_level(),
        LOG_ACCESS=_bool("LOG_ACCESS", True),
        DB_POOL_SIZE=_int("DB_POOL_SIZE", 5, 1),
        DB_MAX_OVERFLOW=_int("DB_MAX_OVERFLOW", 5, 0),
        DB_POOL_RECYCLE=_int("DB_POOL_RECYCLE", 1800, 1),
        DB_STATEMENT_TIMEOUT_MS=_int("DB_STATEMENT_TIMEOUT_MS", 5000, 0),
        SQLITE_BUSY_TIMEOUT_MS=_int("SQLITE_BUSY_TIMEOUT_MS", 5000, 0),
    )
    config["RATELIMIT_STORAGE_URI"] = config["REDIS_URL"] or "memory://"
    config["RATELIMIT_KEY_PREFIX"] = _env("RATELIMIT_KEY_PREFIX", "gatehouse")
    # Redis down: count in this process's memory rather than fail every login
    config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = True
    for key in RATE_LIMITS:  # e.g. RATELIMIT_LOGIN="5 per minute"
        config[key] = _rate_limit(key, config[key])
    return config
