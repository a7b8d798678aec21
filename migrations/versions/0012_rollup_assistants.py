"""rollup assistants: visit_day.assistants, filled from the visits' assistants

Revision ID: 0012_rollup_assistants
Revises: 0011
Create Date: 2026-12-01 10:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_rollup_assistants'
down_revision = '0012_course_terms'
branch_labels = None
depends_on = None


CHECK = 'assistants >= 0'


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # ADD COLUMN with its CHECK, as 0009 adds card.kind: no batch copy of the table.
        op.execute(
            "ALTER TABLE visit_day ADD COLUMN assistants INTEGER DEFAULT '0' NOT NULL "
            f"CONSTRAINT ck_visit_day_assistants_non_negative CHECK ({CHECK})"
        )
    else:
        op.add_column(
            'visit_day',
            sa.Column('assistants', sa.Integer(), server_default='0', nullable=False),
        )
        op.create_check_constraint(
            op.f('ck_visit_day_assistants_non_negative'), 'visit_day', CHECK
        )
    # The visits carry their assistants since 0009: the rollup's sums start equal to them.
    op.execute(
        "UPDATE visit_day SET assistants = (SELECT coalesce(sum(visit.assistants), 0) "
        "FROM visit WHERE visit.venue_id = visit_day.venue_id AND visit.day = visit_day.day)"
    )


def downgrade():
    with op.batch_alter_table('visit_day', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('assistants')
