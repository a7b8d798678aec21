"""door indexes: a venue's day of visits and an event's visits carry the card

The door asks whether a card was used at the venue today and whether it holds a place on
the course. On a table without statistics yet (a new database's first festival) PostgreSQL
may answer from the venue's day of visits or the event's visits and read every one of them
for each card; with the card in these indexes each is one exact lookup whichever it takes.
Two indexes nothing reads go (visits by time alone, by recorder): each visit the door
records maintained them.

Revision ID: 0013_door_indexes
Revises: 0012_imported_cards
Create Date: 2026-12-01 14:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013_door_indexes'
down_revision = '0012_imported_cards'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_visit_venue_day', table_name='visit')
    op.create_index('ix_visit_venue_day', 'visit', ['venue_id', 'day', 'card_id'])
    op.drop_index('ix_visit_event_id', table_name='visit')
    op.create_index('ix_visit_event_card', 'visit', ['event_id', 'card_id'])
    op.drop_index('ix_visit_recorded_at', table_name='visit')
    op.drop_index('ix_visit_recorded_by_id', table_name='visit')


def downgrade():
    op.create_index('ix_visit_recorded_by_id', 'visit', ['recorded_by_id'])
    op.create_index('ix_visit_recorded_at', 'visit', ['recorded_at'])
    op.drop_index('ix_visit_event_card', table_name='visit')
    op.create_index('ix_visit_event_id', 'visit', ['event_id'])
    op.drop_index('ix_visit_venue_day', table_name='visit')
    op.create_index('ix_visit_venue_day', 'visit', ['venue_id', 'day'])
