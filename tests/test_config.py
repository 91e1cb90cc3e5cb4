"""Settings: environment overrides, production's secret check, clear failures."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import config as config_module
from config import ConfigError, get_config

ROOT = Path(__file__).resolve().parent.parent
STRONG = "PrRLKcT-P22n0T8Sv-kL_SplFmJbp9cbk-FRqy7tEBazTyLh"  # secrets.token_urlsafe(36)
TOTP_KEY = "IVeAQBJmt4KgkVhzb-Uak0XuPo6OK7TQ2Ve04_NfvWk="  # a Fernet key for these tests


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "ACCESS_TOKEN_TTL", "REDIS_URL", "AUTH_GENERIC_LOGIN_ERRORS",
                 "LOG_ACCESS"):
        monkeypatch.delenv(name, raising=False)
    config = get_config("development")
    assert config["SQLALCHEMY_DATABASE_URI"].endswith("instance/gatehouse.db")
    assert config["ACCESS_TOKEN_TTL"] == 900
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert config["AUTH_GENERIC_LOGIN_ERRORS"] is False
    assert config["MAX_CONTENT_LENGTH"] == 64 * 1024
    assert config["LOG_ACCESS"] is True


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("ACCESS_TOKEN_TTL", "60")
    monkeypatch.setenv("REDIS_URL", "redis://h:6379/1")
    monkeypatch.setenv("AUTH_GENERIC_LOGIN_ERRORS", "TRUE")
    monkeypatch.setenv("RATELIMIT_LOGIN", "1 per second")
    monkeypatch.setenv("JWT_SECRET_KEY", "j" * 40)
    monkeypatch.setenv("LOG_ACCESS", "false")
    config = get_config("development")
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"
    assert config["ACCESS_TOKEN_TTL"] == 60
    assert config["RATELIMIT_STORAGE_URI"] == "redis://h:6379/1"
    assert config["AUTH_GENERIC_LOGIN_ERRORS"] is True
    assert config["RATELIMIT_LOGIN"] == "1 per second"
    assert config["JWT_SECRET_KEY"] == "j" * 40
    assert config["LOG_ACCESS"] is False


@pytest.mark.parametrize("name,value", [
    ("RATELIMIT_ENABLED", "maybe"), ("ACCESS_TOKEN_TTL", "soon"), ("ACCESS_TOKEN_TTL", "0"),
    ("JWT_ALGORITHM", "none"), ("APP_ENV", "staging"), ("LOG_LEVEL", "LOUD"),
    ("DATABASE_URL", "not a url"), ("DATABASE_URL", "mysql://u@h/db"),
    ("DATABASE_URL", "nosuchdb://h/db"), ("REDIS_URL", "localhost:6379"),
    ("RATELIMIT_LOGIN", "lots"), ("RATELIMIT_2FA", "5 per fortnight"),
    ("AUTH_FAILURES_FREE", "0"), ("AUTH_BACKOFF_MAX", "901"), ("AUTH_BACKOFF_BASE", "1000"),
    ("AUTH_FAILURES_WINDOW", "60"),
    ("DB_POOL_SIZE", "0"), ("DB_POOL_PING_IDLE_S", "-1"), ("DB_POOL_PING_IDLE_S", "soon"),
])
def test_bad_values_raise_config_error(monkeypatch: pytest.MonkeyPatch, name: str,
                                       value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        get_config()
    assert name.split("_")[0] in str(info.value) or "APP_ENV" in str(info.value)


@pytest.mark.parametrize("secret", [
    None, "short", "changeme", "development-only-secret-never-use-in-production",
    # long enough, guessable all the same: too few bits by entropy
    "a" * 32, "k" * 48, "ab" * 24, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
    "passwordpasswordpasswordpassword", "0123456789" * 4, "correct horse battery staple"
    " 123", "0000000000000000000000000000000000000001"])
def test_production_needs_a_strong_secret(monkeypatch: pytest.MonkeyPatch,
                                          secret: str | None) -> None:
    if secret is None:
        monkeypatch.delenv("SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("SECRET_KEY", secret)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        get_config("production")


def test_production_needs_a_strong_jwt_key_for_hs256(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", STRONG)
    monkeypatch.setenv("JWT_SECRET_KEY", "changeme")
    with pytest.raises(ConfigError, match="^JWT_SECRET_KEY must be set"):
        get_config("production")
    get_config("development")  # a weak key is only refused in production
    monkeypatch.setenv("TOTP_ENCRYPTION_KEYS", TOTP_KEY)
    monkeypatch.setenv("MAIL_ENABLED", "false")  # production needs mail, or says it has none
    monkeypatch.setenv("JWT_ALGORITHM", "EdDSA")  # key files sign; the HS256 key is unused
    assert get_config("production")["JWT_ALGORITHM"] == "EdDSA"


def test_database_url_password_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    for url in ("mysql://admin:hunter2-pw@db.internal/app",  # driver not installed
                "postgresql+psycopg://admin:hunter2-pw@db:port/app"):  # not a port
        monkeypatch.setenv("DATABASE_URL", url)
        with pytest.raises(ConfigError, match="DATABASE_URL") as info:
            get_config("development")
        assert "hunter2-pw" not in str(info.value)


def test_valid_urls_and_limits_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:////tmp/gatehouse-test.db")
    monkeypatch.setenv("REDIS_URL", "rediss://cache:6380/2")
    monkeypatch.setenv("RATELIMIT_LOGIN", "3/second;100 per day")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    config = get_config("development")
    assert config["SQLALCHEMY_DATABASE_URI"] == "sqlite:////tmp/gatehouse-test.db"
    assert config["RATELIMIT_STORAGE_URI"] == "rediss://cache:6380/2"
    assert config["RATELIMIT_LOGIN"] == "3/second;100 per day"
    assert config["LOG_LEVEL"] == "DEBUG"


def test_dotenv_is_read_and_the_environment_wins(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("JWT_ISSUER=from-dotenv\nACCESS_TOKEN_TTL=77\n")
    for name in ("JWT_ISSUER", "ACCESS_TOKEN_TTL"):
        monkeypatch.setenv(name, "placeholder")  # restored (unset) after the test
        monkeypatch.delenv(name)
    monkeypatch.setattr(config_module, "ROOT", tmp_path)
    monkeypatch.setenv("ACCESS_TOKEN_TTL", "60")
    config = get_config("development")
    assert config["JWT_ISSUER"] == "from-dotenv"
    assert config["ACCESS_TOKEN_TTL"] == 60


def test_production_with_a_strong_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", STRONG)
    monkeypatch.setenv("TOTP_ENCRYPTION_KEYS", TOTP_KEY)
    monkeypatch.setenv("MAIL_ENABLED", "false")  # production needs mail, or says it has none
    assert get_config("production")["SECRET_KEY"] == STRONG


def test_production_needs_its_own_totp_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Derived from SECRET_KEY, they would lock every 2FA user out the day
    SECRET_KEY is rotated: production must name its own."""
    monkeypatch.setenv("SECRET_KEY", STRONG)
    monkeypatch.delenv("TOTP_ENCRYPTION_KEYS", raising=False)
    with pytest.raises(ConfigError, match="^TOTP_ENCRYPTION_KEYS must be set in production"):
        get_config("production")
    # elsewhere one is derived from SECRET_KEY, the same each start
    dev = get_config("development")["TOTP_ENCRYPTION_KEYS"]
    assert len(dev) == 1 and dev == get_config("development")["TOTP_ENCRYPTION_KEYS"]
    monkeypatch.setenv("SECRET_KEY", "other-" + STRONG)
    assert get_config("development")["TOTP_ENCRYPTION_KEYS"] != dev


def test_totp_keys_parse_and_bad_ones_are_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    other = "0" * 43 + "="
    monkeypatch.setenv("TOTP_ENCRYPTION_KEYS", f" {TOTP_KEY} , {other}")
    assert get_config("development")["TOTP_ENCRYPTION_KEYS"] == [TOTP_KEY, other]
    for bad in ("not-a-key-but-secret-looking", TOTP_KEY + ",", TOTP_KEY[:-2], "ü" * 44):
        monkeypatch.setenv("TOTP_ENCRYPTION_KEYS", bad)
        with pytest.raises(ConfigError, match="^TOTP_ENCRYPTION_KEYS must be comma-separated "
                                              "Fernet keys") as info:
            get_config("development")
        assert bad.strip(",") not in str(info.value)


def test_asymmetric_algorithm_needs_key_files(monkeypatch: pytest.MonkeyPatch) -> None:
    from api import create_app

    monkeypatch.setenv("JWT_ALGORITHM", "EdDSA")
    monkeypatch.delenv("JWT_PRIVATE_KEY_FILE", raising=False)
    with pytest.raises(ConfigError, match="JWT_PRIVATE_KEY_FILE"):
        create_app("testing")
    monkeypatch.setenv("JWT_PRIVATE_KEY_FILE", "/nonexistent/key.pem")
    monkeypatch.setenv("JWT_PUBLIC_KEY_FILE", "/nonexistent/key.pub")
    with pytest.raises(ConfigError, match="cannot read JWT key file"):
        create_app("testing")


def test_audiences_verify_keys_and_jwks_max_age(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JWT_AUDIENCE", "JWT_VERIFY_KEY_FILES", "JWKS_MAX_AGE", "JWT_ALGORITHM"):
        monkeypatch.delenv(name, raising=False)
    config = get_config("development")
    assert config["JWT_AUDIENCE"] == ["gatehouse"]
    assert config["JWT_VERIFY_KEY_FILES"] == [] and config["JWKS_MAX_AGE"] == 300
    monkeypatch.setenv("JWT_AUDIENCE", " gatehouse, https://api.example.com/v1 ")
    monkeypatch.setenv("JWT_ALGORITHM", "EdDSA")
    monkeypatch.setenv("JWT_VERIFY_KEY_FILES", "/keys/next.pub.pem, /keys/old.pub.pem")
    monkeypatch.setenv("JWKS_MAX_AGE", "0")
    config = get_config("development")
    assert config["JWT_AUDIENCE"] == ["gatehouse", "https://api.example.com/v1"]
    assert config["JWT_VERIFY_KEY_FILES"] == ["/keys/next.pub.pem", "/keys/old.pub.pem"]
    assert config["JWKS_MAX_AGE"] == 0


@pytest.mark.parametrize("name,value,message", [
    ("JWT_AUDIENCE", "gatehouse,,notes", "^JWT_AUDIENCE must be comma-separated"),
    ("JWT_AUDIENCE", "two words", "^JWT_AUDIENCE must be comma-separated"),
    ("JWT_AUDIENCE", "a" * 201, "^JWT_AUDIENCE must be comma-separated"),
    ("JWT_AUDIENCE", "notes,notes", "^JWT_AUDIENCE names the same audience twice"),
    ("JWT_VERIFY_KEY_FILES", "/keys/a.pem,", "^JWT_VERIFY_KEY_FILES must be comma-separated"),
    ("JWKS_MAX_AGE", "-1", "^JWKS_MAX_AGE must be at least 0"),
    ("JWKS_MAX_AGE", "a day", "^JWKS_MAX_AGE must be an integer"),
])
def test_bad_token_settings(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                            message: str) -> None:
    monkeypatch.setenv("JWT_ALGORITHM", "EdDSA")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        get_config("development")


def test_verify_key_files_need_an_asymmetric_algorithm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_ALGORITHM", "HS256")
    monkeypatch.setenv("JWT_VERIFY_KEY_FILES", "/keys/next.pub.pem")
    with pytest.raises(ConfigError, match="^JWT_VERIFY_KEY_FILES needs JWT_ALGORITHM=EdDSA "
                                          "or RS256"):
        get_config("development")


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items()
            if k not in ("SECRET_KEY", "APP_ENV", "TOTP_ENCRYPTION_KEYS")}
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.slow  # each starts a Python process that imports the app
def test_wsgi_refuses_production_without_secret_in_one_line() -> None:
    out = _run("import wsgi", APP_ENV="production")
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "SECRET_KEY" in lines[0]
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("name,value", [
    ("LOG_LEVEL", "LOUD"), ("DATABASE_URL", "mysql://admin:hunter2-pw@h/db"),
    ("REDIS_URL", "nope"), ("RATELIMIT_LOGIN", "lots"),
    ("TOTP_ENCRYPTION_KEYS", "hunter2-pw"),
])
@pytest.mark.slow
def test_wsgi_refuses_bad_settings_in_one_line(name: str, value: str) -> None:
    out = _run("import wsgi", APP_ENV="development", **{name: value})
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gatehouse: configuration error: " + name)
    assert "Traceback" not in out.stderr and "hunter2-pw" not in out.stderr


@pytest.mark.slow
def test_wsgi_starts_in_production_with_a_secret(tmp_path: Path) -> None:
    out = _run("import wsgi; print(wsgi.app.config['APP_ENV'])", APP_ENV="production",
               SECRET_KEY=STRONG, TOTP_ENCRYPTION_KEYS=TOTP_KEY,
               MAIL_URL="smtp://mailer:s3cret@mail.example.com:587?starttls=required",
               MAIL_FROM="Accounts <accounts@example.com>",
               PUBLIC_URL="https://accounts.example.com",
               DATABASE_URL=f"sqlite:///{tmp_path}/p.db")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "production"


def test_secret_strength_is_measured_by_entropy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Random secrets of the lengths the README suggests pass every time;
    the same length of a few repeated or sequential characters does not."""
    import secrets

    from config import secret_bits

    monkeypatch.setenv("TOTP_ENCRYPTION_KEYS", TOTP_KEY)
    monkeypatch.setenv("MAIL_ENABLED", "false")  # production needs mail, or says it has none
    for _ in range(200):
        for secret in (secrets.token_urlsafe(24), secrets.token_urlsafe(48),
                       secrets.token_hex(32)):
            monkeypatch.setenv("SECRET_KEY", secret)
            assert get_config("production")["SECRET_KEY"] == secret
    assert secret_bits("a" * 32) == 0
    assert secret_bits("abcdefghijklmnopqrstuvwxyz") < 30
    monkeypatch.setenv("SECRET_KEY", STRONG)
    monkeypatch.setenv("JWT_SECRET_KEY", "a" * 64)
    with pytest.raises(ConfigError, match="^JWT_SECRET_KEY must be set.*entropy"):
        get_config("production")


@pytest.mark.parametrize("value, expected", [
    ("https://accounts.example.com", "https://accounts.example.com"),
    ("https://example.com/gatehouse/", "https://example.com/gatehouse"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
])
def test_public_url(monkeypatch: pytest.MonkeyPatch, value: str, expected: str) -> None:
    monkeypatch.setenv("PUBLIC_URL", value)
    assert get_config()["PUBLIC_URL"] == expected


@pytest.mark.parametrize("value", [
    "accounts.example.com", "/v1", "ftp://example.com", "https://example.com/?a=1",
    "https://example.com/#x", "https://user:pw@example.com", "http://[::1"])
def test_public_url_must_be_an_absolute_http_url(monkeypatch: pytest.MonkeyPatch,
                                                 value: str) -> None:
    monkeypatch.setenv("PUBLIC_URL", value)
    with pytest.raises(ConfigError, match="^PUBLIC_URL must be") as info:
        get_config()
    assert "pw" not in str(info.value)


@pytest.mark.parametrize("value,message", [
    ("20", "^PASSWORD_HASH_NICE must be at most 19"),
    ("-1", "^PASSWORD_HASH_NICE must be at least 0"),
    ("low", "^PASSWORD_HASH_NICE must be an integer"),
])
def test_bad_hash_priority(monkeypatch: pytest.MonkeyPatch, value: str, message: str) -> None:
    monkeypatch.setenv("PASSWORD_HASH_NICE", value)
    with pytest.raises(ConfigError, match=message):
        get_config("development")


def test_hash_priority_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_config("development")["PASSWORD_HASH_NICE"] == 10
    monkeypatch.setenv("PASSWORD_HASH_NICE", "19")
    assert get_config("development")["PASSWORD_HASH_NICE"] == 19
