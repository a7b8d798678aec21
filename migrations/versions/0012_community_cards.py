"""community: a community card has no birth year or postcode; a personal card has both

Revision ID: 0012_community_cards
Revises: 0011
Create Date: 2026-12-01 10:50:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012_community_cards"
down_revision = "0011"
branch_labels = None
depends_on = None


KIND_CHECK = "kind IN ('personal', 'community')"
HOLDER_BY_KIND = (
    "(kind = 'personal' AND birth_year IS NOT NULL AND postcode IS NOT NULL)"
    " OR (kind = 'community' AND birth_year IS NULL AND postcode IS NULL)"
)


def _recreating_card(change) -> None:
    """Run the change on `card`; SQLite copies the table, with foreign keys off so that
    dropping the old copy does not trip over the visits, devices and tombstones of its cards.
    """
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("PRAGMA foreign_keys=OFF")
    with op.batch_alter_table("card", schema=None) as batch_op:
        change(batch_op)
    if sqlite:
        op.execute("PRAGMA foreign_keys=ON")


def upgrade():
    def change(batch_op):
        batch_op.alter_column("birth_year", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("postcode", existing_type=sa.String(length=5), nullable=True)
        batch_op.create_check_constraint(op.f("ck_card_holder_by_kind"), HOLDER_BY_KIND)

    _recreating_card(change)


def downgrade():
    if op.get_bind().execute(sa.text("SELECT 1 FROM card WHERE kind = 'community'")).first():
        raise RuntimeError(
            "The database holds community cards, which need no birth year or postcode: "
            "revoke and delete them (and their visits) before downgrading."
        )
    sqlite = op.get_bind().dialect.name == "sqlite"

    def change(batch_op):
        batch_op.drop_constraint(op.f("ck_card_holder_by_kind"), type_="check")
        batch_op.alter_column("postcode", existing_type=sa.String(length=5), nullable=False)
        batch_op.alter_column("birth_year", existing_type=sa.Integer(), nullable=False)
        if sqlite:
            # The copy made `kind`'s CHECK a table constraint, which would stop 0009's
            # downgrade from dropping the column: give it back as the column's own (every
            # card is personal here, the column's default).
            batch_op.drop_constraint(op.f("ck_card_card_kind"), type_="check")
            batch_op.drop_column("kind")
            batch_op.add_column(
                sa.Column(
                    "kind",
                    sa.String(20),
                    sa.CheckConstraint(KIND_CHECK, name=op.f("ck_card_card_kind")),
                    server_default="personal",
                    nullable=False,
                )
            )

    _recreating_card(change)
