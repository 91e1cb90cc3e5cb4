"""sessions client address and agent, security events, prune indexes

Revision ID: e88a6f989696
Revises: 446bee1ca400
Create Date: 2026-12-02 02:36:38.467025

auth_sessions.client_address and .user_agent: where a session signed in
(GET /v1/auth/sessions); sessions opened before this revision show none.
security_events: the per-account event log (api/events). The indexes on
expiry, revocation and event age let `flask maintenance prune` find dead
rows a batch at a time without scanning the tables; the one on revocation
holds only the revoked rows (a planner with statistics would otherwise take
it for "revoked_at IS NULL" and read every live session).
On PostgreSQL the indexes on the existing tables are built CONCURRENTLY
(outside a transaction), so sign-ins and refreshes are not blocked while
they build; the new columns are nullable, which PostgreSQL adds without
rewriting the table. If a build fails it leaves an INVALID index: drop it
and run `flask db upgrade` again.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e88a6f989696'
down_revision = '446bee1ca400'
branch_labels = None
depends_on = None

REVOKED = "revoked_at IS NOT NULL"


def upgrade():
    op.create_table('security_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('client_address', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=256), nullable=True),
    sa.Column('session_id', sa.String(length=32), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_security_events_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_security_events')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('security_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_security_events_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_security_events_user_id_id', ['user_id', 'id'], unique=False)

    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_address', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('user_agent', sa.String(length=256), nullable=True))

    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            for statement in (
                    "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_auth_sessions_expires_at "
                    "ON auth_sessions (expires_at)",
                    "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_auth_sessions_revoked_at "
                    f"ON auth_sessions (revoked_at) WHERE {REVOKED}",
                    "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_login_challenges_expires_at "
                    "ON login_challenges (expires_at)"):
                op.execute(statement)
        return
    op.create_index('ix_auth_sessions_expires_at', 'auth_sessions', ['expires_at'])
    op.create_index('ix_auth_sessions_revoked_at', 'auth_sessions', ['revoked_at'],
                    sqlite_where=sa.text(REVOKED))
    op.create_index('ix_login_challenges_expires_at', 'login_challenges', ['expires_at'])


def downgrade():
    with op.batch_alter_table('login_challenges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_challenges_expires_at'))

    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_sessions_revoked_at'))
        batch_op.drop_index(batch_op.f('ix_auth_sessions_expires_at'))
        batch_op.drop_column('user_agent')
        batch_op.drop_column('client_address')

    with op.batch_alter_table('security_events', schema=None) as batch_op:
        batch_op.drop_index('ix_security_events_user_id_id')
        batch_op.drop_index(batch_op.f('ix_security_events_created_at'))

    op.drop_table('security_events')
