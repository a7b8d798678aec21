"""offsync: visit_conflict (what changed between an offline scan and its sync)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 08:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('visit_conflict',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.Enum('revoked_after_scan', 'second_use', 'list_out_of_date', 'too_many_children', name='conflict_code', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('children', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_visit_conflict_visit_id_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit_conflict'))
    )
    with op.batch_alter_table('visit_conflict', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visit_conflict_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_conflict_visit_id'), ['visit_id'], unique=False)


def downgrade():
    with op.batch_alter_table('visit_conflict', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visit_conflict_visit_id'))
        batch_op.drop_index(batch_op.f('ix_visit_conflict_created_at'))
    op.drop_table('visit_conflict')
