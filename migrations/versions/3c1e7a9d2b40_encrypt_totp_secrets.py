"""TOTP secrets encrypted at rest (TOTP_ENCRYPTION_KEYS)

Revision ID: 3c1e7a9d2b40
Revises: 85f705500721
Create Date: 2026-12-01 10:00:00

The columns grow to hold a Fernet token, and every secret already stored
(written in plain base32 before this revision) is encrypted with the first
key of TOTP_ENCRYPTION_KEYS. The downgrade decrypts them again. Both need
the app's settings (flask db upgrade/downgrade), not --sql.
"""
import re

import sqlalchemy as sa
from alembic import context, op
from cryptography.fernet import Fernet, MultiFernet
from flask import current_app

# revision identifiers, used by Alembic.
revision = '3c1e7a9d2b40'
down_revision = '85f705500721'
branch_labels = None
depends_on = None

_COLUMNS = ("totp_secret", "totp_pending_secret")
_BATCH = 1000
_PLAIN = re.compile(r"[A-Z2-7]+=*")  # base32; a Fernet token is not
_users = sa.table("users", sa.column("id", sa.Integer), *(sa.column(c, sa.String) for c in _COLUMNS))


def _box():
    return MultiFernet([Fernet(k) for k in current_app.config["TOTP_ENCRYPTION_KEYS"]])


def _rewrite(change):
    if context.is_offline_mode():
        raise RuntimeError("this revision rewrites stored TOTP secrets: run it online "
                           "(flask db upgrade/downgrade), not with --sql")
    conn = op.get_bind()
    sealed = sa.or_(*(_users.c[c].is_not(None) for c in _COLUMNS))
    after = 0
    while True:  # a batch at a time by id: memory does not grow with users
        rows = conn.execute(sa.select(_users).where(sealed, _users.c.id > after)
                            .order_by(_users.c.id).limit(_BATCH)).all()
        if not rows:
            return
        for row in rows:
            values = {c: change(getattr(row, c)) for c in _COLUMNS
                      if getattr(row, c) is not None}
            conn.execute(_users.update().where(_users.c.id == row.id).values(**values))
        after = rows[-1].id


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        for column in _COLUMNS:
            batch_op.alter_column(column, existing_type=sa.String(length=64),
                                  type_=sa.String(length=255), existing_nullable=True)
    box = _box()
    _rewrite(lambda value: box.encrypt(value.encode()).decode()
             if _PLAIN.fullmatch(value) else value)


def downgrade():
    box = _box()
    _rewrite(lambda value: value if _PLAIN.fullmatch(value)
             else box.decrypt(value.encode()).decode())
    with op.batch_alter_table('users', schema=None) as batch_op:
        for column in _COLUMNS:
            batch_op.alter_column(column, existing_type=sa.String(length=255),
                                  type_=sa.String(length=64), existing_nullable=True)
