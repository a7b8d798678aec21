"""printed: card.printed_secret (the random characters of a reissued card's printed number)

A reissued card's printed number was its data characters, its version and a check
character: anyone holding the lost card could compute it. Every card of generation 2 or
more gets its secret here, so its printed number changes (the card must be printed again),
and its cached offline number hash is dropped (the next list computes it anew).

Revision ID: 0012_printed_secret
Revises: 0011
Create Date: 2026-12-01 10:40:00

"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_printed_secret'
down_revision = '0012_paper_records'
branch_labels = None
depends_on = None

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # webapp.cardnumbers.ALPHABET, as of this revision
SECRET_LENGTH = 5


def upgrade():
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.add_column(sa.Column('printed_secret', sa.String(length=8), nullable=True))
    card = sa.table(
        'card',
        sa.column('id', sa.Integer),
        sa.column('generation', sa.Integer),
        sa.column('printed_secret', sa.String),
        sa.column('number_hash', sa.String),
    )
    connection = op.get_bind()
    reissued = connection.execute(sa.select(card.c.id).where(card.c.generation >= 2)).scalars()
    rows = [
        {
            "card_id": card_id,
            "secret": "".join(secrets.choice(ALPHABET) for _ in range(SECRET_LENGTH)),
        }
        for card_id in reissued
    ]
    if rows:
        connection.execute(
            card.update()
            .where(card.c.id == sa.bindparam("card_id"))
            .values(printed_secret=sa.bindparam("secret"), number_hash=None),
            rows,
        )


def downgrade():
    op.execute("UPDATE card SET number_hash = NULL")  # hashes of the printed numbers, now gone
    with op.batch_alter_table('card', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('printed_secret')
