"""Settings: environment overrides, production's secret check, clear failures."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError, get_config

ROOT = Path(__file__).resolve().parent.parent
STRONG = "k" * 48


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "ACCESS_TOKEN_TTL", "REDIS_URL", "AUTH_GENERIC_LOGIN_ERRORS"):
        monkeypatch.delenv(name, raising=False)
    config = get_config("development")
    assert config["SQLALCHEMY_DATABASE_URI"].endswith("instance/gatehouse.db")
    assert config["ACCESS_TOKEN_TTL"] == 900
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert config["AUTH_GENERIC_LOGIN_ERRORS"] is False
    assert config["MAX_CONTENT_LENGTH"] == 64 * 1024


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("ACCESS_TOKEN_TTL", "60")
    monkeypatch.setenv("REDIS_URL", "redis://h:6379/1")
    monkeypatch.setenv("AUTH_GENERIC_LOGIN_ERRORS", "TRUE")
    monkeypatch.setenv("RATELIMIT_LOGIN", "1 per second")
    monkeypatch.setenv("JWT_SECRET_KEY", "j" * 40)
    config = get_config("development")
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"
    assert config["ACCESS_TOKEN_TTL"] == 60
    assert config["RATELIMIT_STORAGE_URI"] == "redis://h:6379/1"
    assert config["AUTH_GENERIC_LOGIN_ERRORS"] is True
    assert config["RATELIMIT_LOGIN"] == "1 per second"
    assert config["JWT_SECRET_KEY"] == "j" * 40


@pytest.mark.parametrize("name,value", [
    ("RATELIMIT_ENABLED", "maybe"), ("ACCESS_TOKEN_TTL", "soon"), ("ACCESS_TOKEN_TTL", "0"),
    ("JWT_ALGORITHM", "none"), ("APP_ENV", "staging"),
])
def test_bad_values_raise_config_error(monkeypatch: pytest.MonkeyPatch, name: str,
                                       value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        get_config()
    assert name.split("_")[0] in str(info.value) or "APP_ENV" in str(info.value)


@pytest.mark.parametrize("secret", [None, "short", "changeme",
                                    "development-only-secret-never-use-in-production"])
def test_production_needs_a_strong_secret(monkeypatch: pytest.MonkeyPatch,
                                          secret: str | None) -> None:
    if secret is None:
        monkeypatch.delenv("SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("SECRET_KEY", secret)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        get_config("production")


def test_production_with_a_strong_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", STRONG)
    assert get_config("production")["SECRET_KEY"] == STRONG


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


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "APP_ENV")}
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=60)


def test_wsgi_refuses_production_without_secret_in_one_line() -> None:
    out = _run("import wsgi", APP_ENV="production")
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "SECRET_KEY" in lines[0]
    assert "Traceback" not in out.stderr


def test_wsgi_starts_in_production_with_a_secret(tmp_path: Path) -> None:
    out = _run("import wsgi; print(wsgi.app.config['APP_ENV'])", APP_ENV="production",
               SECRET_KEY=STRONG, DATABASE_URL=f"sqlite:///{tmp_path}/p.db")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "production"
