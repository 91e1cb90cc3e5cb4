"""live-session and sealed-secret indexes; users AUTOINCREMENT on SQLite (issue 21)

Revision ID: 7f21a0c4e9b1
Revises: da042c69ec55
Create Date: 2026-12-02 04:20:00

- ix_auth_sessions_user_id_revoked_at (user_id, revoked_at) replaces
  ix_auth_sessions_user_id (user_id): a user's live sessions (revoked_at IS
  NULL) are one contiguous range of it, for revoking and listing them
  without reading their history; its leading column still serves the
  cascade when an account is deleted. (A partial index beside the plain one
  was tried first: SQLite without statistics picked whichever of the two
  was created last.)
- ix_users_id_totp_sealed: the accounts holding a TOTP secret, in id order
  (`flask users rotate-2fa-key`).
On PostgreSQL the indexes are built CONCURRENTLY (outside a transaction):
writers are not blocked while they build. If a build fails it leaves an
INVALID index: drop it and run `flask db upgrade` again.

SQLite: an earlier batch rebuild of `users` (3c1e7a9d2b40) dropped its
AUTOINCREMENT, so a deleted account's id could be handed out again. The
table is rebuilt once with it (every row, and the highest id ever handed
out as far as sqlite_sequence still knows it, kept); the foreign keys are
checked afterwards. PostgreSQL never reuses an identity: nothing to do.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7f21a0c4e9b1'
down_revision = 'da042c69ec55'
branch_labels = None
depends_on = None

SEALED = "totp_secret IS NOT NULL OR totp_pending_secret IS NOT NULL"


def _pg_indexes(statements):
    with op.get_context().autocommit_block():
        for statement in statements:
            op.execute(statement)


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        _pg_indexes([
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_auth_sessions_user_id_revoked_at "
            "ON auth_sessions (user_id, revoked_at)",
            "DROP INDEX CONCURRENTLY IF EXISTS ix_auth_sessions_user_id",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_users_id_totp_sealed "
            f"ON users (id) WHERE {SEALED}",
        ])
        return
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_autoincrement()
    op.create_index("ix_auth_sessions_user_id_revoked_at", "auth_sessions",
                    ["user_id", "revoked_at"])
    op.drop_index("ix_auth_sessions_user_id", table_name="auth_sessions")
    op.create_index("ix_users_id_totp_sealed", "users", ["id"],
                    sqlite_where=sa.text(SEALED), postgresql_where=sa.text(SEALED))


def _sqlite_autoincrement():
    """Rebuild `users` with AUTOINCREMENT, if it lost it (migrations/env.py
    runs SQLite migrations with foreign keys off: the DROP of the old table
    does not cascade into sessions, events and the rest)."""
    conn = op.get_bind()
    ddl = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'users'").scalar()
    if "AUTOINCREMENT" in ddl.upper():
        return
    if conn.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("rebuilding users needs foreign keys off: run `flask db upgrade`")
    known = None
    if conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").scalar():
        known = conn.exec_driver_sql(
            "SELECT max(seq) FROM sqlite_sequence WHERE name = 'users'").scalar()
    with op.batch_alter_table("users", recreate="always",
                              table_kwargs={"sqlite_autoincrement": True}):
        pass
    highest = max(known or 0, conn.exec_driver_sql(
        "SELECT coalesce(max(id), 0) FROM users").scalar())
    conn.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = 'users'")
    conn.exec_driver_sql("INSERT INTO sqlite_sequence (name, seq) VALUES ('users', ?)",
                         (int(highest),))
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"foreign keys broken after rebuilding users: {broken[:5]}")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        _pg_indexes([
            "DROP INDEX CONCURRENTLY IF EXISTS ix_users_id_totp_sealed",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_auth_sessions_user_id "
            "ON auth_sessions (user_id)",
            "DROP INDEX CONCURRENTLY IF EXISTS ix_auth_sessions_user_id_revoked_at",
        ])
        return
    # AUTOINCREMENT stays on SQLite: ids are never reused again
    op.drop_index("ix_users_id_totp_sealed", table_name="users")
    op.create_index("ix_auth_sessions_user_id", "auth_sessions", ["user_id"])
    op.drop_index("ix_auth_sessions_user_id_revoked_at", table_name="auth_sessions")
