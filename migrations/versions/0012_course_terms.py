"""course terms: visit.term_ends_on (the term a course place was taken for)

Revision ID: 0012_course_terms
Revises: 0011
Create Date: 2026-12-01 10:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_course_terms'
down_revision = "0012_community_cards"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('term_ends_on', sa.Date(), nullable=True))
    # The visits already recorded on a course took their places for its present term.
    op.execute(
        sa.text(
            "UPDATE visit SET term_ends_on = ("
            " SELECT coalesce(event.ends_on, event.starts_on) FROM event"
            " JOIN organisation ON organisation.id = event.venue_id"
            " WHERE event.id = visit.event_id AND organisation.course_provider"
            ") WHERE event_id IS NOT NULL"
        )
    )


def downgrade():
    with op.batch_alter_table('visit', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('term_ends_on')
