"""printed: card.number_hash (the offline list's cached slow hash of the card number)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 08:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.add_column(sa.Column('number_hash', sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table('card', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('number_hash')
