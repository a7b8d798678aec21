"""region names in Swedish: region.name_sv

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 07:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

SWEDISH = {"pohjois-savo": "Norra Savolax", "kainuu": "Kajanaland", "lappi": "Lappland"}


def upgrade():
    with op.batch_alter_table('region', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('name_sv', sa.String(length=120), nullable=True))
    region = sa.table('region', sa.column('code', sa.String), sa.column('name_sv', sa.String))
    for code, name in SWEDISH.items():
        op.execute(region.update().where(region.c.code == code).values(name_sv=name))


def downgrade():
    # recreate="never": SQLite drops the column in place (no copy of the referenced region table)
    with op.batch_alter_table('region', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('name_sv')
