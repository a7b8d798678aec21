"""paper: visits written on paper or in a spreadsheet, entered later (visit.source 'paper')

Revision ID: 0012_paper_records
Revises: 0011
Create Date: 2026-12-01 10:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0012_paper_records'
down_revision = '0012_rollup_assistants'
branch_labels = None
depends_on = None


OLD_CHECK = "source IN ('camera', 'manual', 'offline', 'api')"
NEW_CHECK = "source IN ('camera', 'manual', 'offline', 'api', 'paper')"


def _replace_check(old: str, new: str) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # Rebuilding `visit` (a batch copy) would delete its conflicts through their ON DELETE
        # CASCADE; a wider CHECK changes nothing on disk, so SQLite's documented way for such a
        # change edits the stored schema text instead (https://sqlite.org/lang_altertable.html).
        bind = op.get_bind()
        schema = "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'visit'"
        if old not in bind.exec_driver_sql(schema).scalar():
            raise RuntimeError(f'visit has no CHECK ({old}) to replace')
        version = bind.exec_driver_sql('PRAGMA schema_version').scalar()
        op.execute('PRAGMA writable_schema = ON')
        bind.exec_driver_sql(
            "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'visit'",
            (old, new),
        )
        op.execute(f'PRAGMA schema_version = {version + 1}')
        op.execute('PRAGMA writable_schema = OFF')
    else:
        op.drop_constraint(op.f('ck_visit_visit_source'), 'visit', type_='check')
        op.create_check_constraint(op.f('ck_visit_visit_source'), 'visit', new)


def upgrade():
    _replace_check(OLD_CHECK, NEW_CHECK)


def downgrade():
    op.execute("UPDATE visit SET source = 'manual' WHERE source = 'paper'")
    _replace_check(NEW_CHECK, OLD_CHECK)
