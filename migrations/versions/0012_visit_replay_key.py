"""sync: visit.replay_key beside the client's idempotency key; user.sessions_ended_at

Revision ID: 0012_visit_replay_key
Revises: 0011
Create Date: 2026-12-01 10:50:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012_visit_replay_key"
down_revision = "0012_printed_secret"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replay_key", sa.String(length=64), nullable=True))
        batch_op.create_index("uq_visit_replay_key_venue", ["replay_key", "venue_id"], unique=True)
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sessions_ended_at", sa.DateTime(timezone=True), nullable=True)
        )
    # Before this revision a phone's code replaced the client's key; move it to its column.
    op.execute(
        "UPDATE visit SET replay_key = idempotency_key, idempotency_key = NULL"
        " WHERE idempotency_key LIKE 'code:%'"
    )


def downgrade():
    op.execute(
        "UPDATE visit SET idempotency_key = replay_key"
        " WHERE replay_key IS NOT NULL AND idempotency_key IS NULL"
    )
    with op.batch_alter_table("user", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("sessions_ended_at")
    with op.batch_alter_table("visit", schema=None, recreate="never") as batch_op:
        batch_op.drop_index("uq_visit_replay_key_venue")
        batch_op.drop_column("replay_key")
