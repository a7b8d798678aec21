"""imported cards: card.legacy_id (a national register ID), region.unsigned_refused_from

Revision ID: 0012_imported_cards
Revises: 0011
Create Date: 2026-12-01 10:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_imported_cards'
down_revision = "0012_visit_replay_key"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legacy_id', sa.String(length=20), nullable=True))
        batch_op.create_index('ix_card_legacy_id', ['legacy_id'], unique=True)
    with op.batch_alter_table('region', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unsigned_refused_from', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('region', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('unsigned_refused_from')
    with op.batch_alter_table('card', schema=None, recreate='never') as batch_op:
        batch_op.drop_index('ix_card_legacy_id')
        batch_op.drop_column('legacy_id')
