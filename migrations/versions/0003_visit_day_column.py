"""visit.day: the Helsinki date of each visit, stored when it is written

Added nullable, filled from recorded_at in Helsinki time (converted in Python, in batches,
so that it works alike on SQLite and PostgreSQL), then made NOT NULL. The index on
(card_id, recorded_at) gives way to (card_id, day, venue_id); (venue_id, day) is new.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 07:00:00

"""
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

BATCH = 10_000
HELSINKI = ZoneInfo('Europe/Helsinki')


def upgrade():
    with op.batch_alter_table('visit', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('day', sa.Date(), nullable=True))

    fill_days()
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.alter_column('day', existing_type=sa.Date(), nullable=False)
        batch_op.drop_index('ix_visit_card_recorded')
        batch_op.create_index('ix_visit_card_day', ['card_id', 'day', 'venue_id'], unique=False)
        batch_op.create_index('ix_visit_venue_day', ['venue_id', 'day'], unique=False)


def fill_days():
    """Set each visit's day from its recorded_at, BATCH visits at a time, in id order."""
    connection = op.get_bind()
    visit = sa.table(
        'visit',
        sa.column('id', sa.Integer),
        sa.column('recorded_at', sa.DateTime(timezone=True)),
        sa.column('day', sa.Date),
    )
    read = (
        sa.select(visit.c.id, visit.c.recorded_at)
        .where(visit.c.id > sa.bindparam('after'))
        .order_by(visit.c.id)
        .limit(BATCH)
    )
    write = (
        sa.update(visit)
        .where(visit.c.id == sa.bindparam('visit_id'))
        .values(day=sa.bindparam('visit_day'))
    )
    after = 0
    while rows := connection.execute(read, {'after': after}).all():
        connection.execute(
            write,
            [{'visit_id': id_, 'visit_day': helsinki_date(at)} for id_, at in rows],
        )
        after = rows[-1][0]


def helsinki_date(recorded_at):
    """Return the Helsinki date of a stored UTC instant (SQLite gives it naive, or as text)."""
    if isinstance(recorded_at, str):
        recorded_at = datetime.fromisoformat(recorded_at)
    if recorded_at.tzinfo is None:
        recorded_at = recorded_at.replace(tzinfo=UTC)
    return recorded_at.astimezone(HELSINKI).date()


def downgrade():
    with op.batch_alter_table('visit', schema=None, recreate='never') as batch_op:
        batch_op.drop_index('ix_visit_venue_day')
        batch_op.drop_index('ix_visit_card_day')
        batch_op.create_index('ix_visit_card_recorded', ['card_id', 'recorded_at'], unique=False)
        batch_op.drop_column('day')
