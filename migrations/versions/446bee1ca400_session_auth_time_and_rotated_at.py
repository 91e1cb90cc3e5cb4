"""session auth_time and rotated_at

Revision ID: 446bee1ca400
Revises: 3c1e7a9d2b40
Create Date: 2026-12-02 02:31:09.381556

auth_time: when the session's owner last proved a password or second factor
(re-authentication is measured from it). Sessions opened before this
revision have none, so their next sensitive change asks for the password.
rotated_at: when the refresh token last rotated (the refresh race's grace
window is measured from it).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '446bee1ca400'
down_revision = '3c1e7a9d2b40'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('auth_time', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('rotated_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.drop_column('rotated_at')
        batch_op.drop_column('auth_time')
