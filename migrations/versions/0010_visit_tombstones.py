"""races: undone visits keep a tombstone; visit ids are never reused on SQLite

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 08:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'undone_visit',
        sa.Column('visit_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('venue_id', sa.Integer(), nullable=False),
        sa.Column('card_id', sa.Integer(), nullable=False),
        sa.Column('idempotency_key', sa.String(length=64), nullable=True),
        sa.Column('undone_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['card_id'], ['card.id'], name=op.f('fk_undone_visit_card_id_card')
        ),
        sa.ForeignKeyConstraint(
            ['venue_id'], ['organisation.id'], name=op.f('fk_undone_visit_venue_id_organisation')
        ),
        sa.PrimaryKeyConstraint('visit_id', name=op.f('pk_undone_visit')),
        sa.UniqueConstraint(
            'venue_id', 'idempotency_key', name='uq_undone_visit_venue_idempotency_key'
        ),
    )
    with op.batch_alter_table('undone_visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_undone_visit_card_id'), ['card_id'], unique=False)
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite gives a new row the highest id + 1, so deleting the newest visit would hand
        # its id to the next one; AUTOINCREMENT never does. (PostgreSQL's sequence never does.)
        # The copy drops the old table: with foreign keys on, that would delete the visits'
        # offline conflicts (ON DELETE CASCADE).
        op.execute('PRAGMA foreign_keys=OFF')
        with op.batch_alter_table(
            'visit', recreate='always', table_kwargs={'sqlite_autoincrement': True}
        ):
            pass
        op.execute('PRAGMA foreign_keys=ON')


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('PRAGMA foreign_keys=OFF')
        with op.batch_alter_table('visit', recreate='always'):
            pass
        op.execute('PRAGMA foreign_keys=ON')
    with op.batch_alter_table('undone_visit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_undone_visit_card_id'))
    op.drop_table('undone_visit')
