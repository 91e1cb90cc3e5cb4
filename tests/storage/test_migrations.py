"""The data migration of TOTP secrets, run as an operator runs it (`flask db`),
on SQLite and, when TEST_DATABASE_URL names it, on a PostgreSQL database of
its own."""
from __future__ import annotations

import subprocess
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from tests.server import BIN, ROOT, fresh_database, server_env

BEFORE = "85f705500721"  # the revision that stored secrets in plain base32
SECRET, PENDING = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
KEY = Fernet.generate_key().decode()


def flask_db(url: str, *args: str) -> None:
    env = server_env(url, TOTP_ENCRYPTION_KEYS=KEY)
    out = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", *args], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


def secrets_in(url: str) -> list[tuple[str | None, str | None]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(
                "SELECT totp_secret, totp_pending_secret FROM users ORDER BY id"))]
    finally:
        engine.dispose()


def test_secrets_stored_in_plain_are_encrypted_and_decrypted_back(tmp_path: Path) -> None:
    with fresh_database(tmp_path, "migrate") as url:
        flask_db(url, "upgrade", BEFORE)
        engine = create_engine(url)
        with engine.begin() as conn:
            for name, secret, pending in (("ada", SECRET, None), ("bob", None, PENDING),
                                          ("cy", None, None)):
                conn.execute(text(
                    "INSERT INTO users (username, username_key, email, email_key, "
                    "password_hash, is_admin, is_blocked, totp_enabled, totp_secret, "
                    "totp_pending_secret, created_at, updated_at) VALUES (:n, :n, :e, :e, "
                    "'h', false, false, :on, :s, :p, '2026-01-01', '2026-01-01')"),
                    {"n": name, "e": f"{name}@example.com", "on": secret is not None,
                     "s": secret, "p": pending})
        engine.dispose()
        flask_db(url, "upgrade")
        rows = secrets_in(url)
        box = Fernet(KEY)
        assert box.decrypt(rows[0][0].encode()).decode() == SECRET and rows[0][1] is None
        assert rows[1][0] is None and box.decrypt(rows[1][1].encode()).decode() == PENDING
        assert rows[2] == (None, None)
        assert SECRET not in str(rows) and PENDING not in str(rows)
        flask_db(url, "upgrade")  # at head: nothing runs twice
        assert secrets_in(url) == rows
        flask_db(url, "downgrade", BEFORE)
        assert secrets_in(url) == [(SECRET, None), (None, PENDING), (None, None)]
        flask_db(url, "downgrade", "base")
