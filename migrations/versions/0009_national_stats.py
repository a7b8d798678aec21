"""natstats: card.kind (personal or community) and visit.assistants, read by the national table

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 08:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


KIND_CHECK = "kind IN ('personal', 'community')"


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # ADD COLUMN with its CHECK: a batch copy of `card` would fail on the visits' keys.
        op.execute(
            "ALTER TABLE card ADD COLUMN kind VARCHAR(20) DEFAULT 'personal' NOT NULL "
            f"CONSTRAINT ck_card_card_kind CHECK ({KIND_CHECK})"
        )
    else:
        op.add_column(
            'card',
            sa.Column('kind', sa.String(20), server_default='personal', nullable=False),
        )
        op.create_check_constraint(op.f('ck_card_card_kind'), 'card', KIND_CHECK)
    op.add_column('visit', sa.Column('assistants', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    # Each column's CHECK goes with it (a column constraint on SQLite, too).
    with op.batch_alter_table('visit', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('assistants')
    with op.batch_alter_table('card', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('kind')
