"""The migrations build exactly the models' schema on SQLite and PostgreSQL, and undo it."""

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from webapp import cardnumbers, create_app
from webapp.cardnumbers import new_number
from webapp.extensions import db
from webapp.models import Card, VisitDay
from webapp.services import rollup

from .conftest import app_config, create_postgres_database, postgres_server_url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    url, drop = create_postgres_database(postgres_server_url())
    yield url
    drop()


def _schema_difference(app) -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_as_batch": True}
        )
        return compare_metadata(context, db.metadata)


def test_upgrade_builds_the_models_schema_and_downgrade_removes_it(empty_database):
    app = create_app(app_config(empty_database))
    with app.app_context():
        upgrade()
        assert _schema_difference(app) == []
        downgrade(revision="base")
        tables = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        db.engine.dispose()


def _visit_day_and_first_use() -> tuple[list, list]:
    day = VisitDay
    days = db.session.execute(
        sa.select(day.venue_id, day.day, day.visits, day.adults, day.children).order_by(
            day.venue_id, day.day
        )
    ).all()
    cards = db.session.execute(sa.select(Card.id, Card.first_used_on).order_by(Card.id)).all()
    return [tuple(row) for row in days], [tuple(row) for row in cards]


def test_the_rollup_migration_fills_the_rollup_from_existing_visits(empty_database):
    app = create_app(app_config(empty_database))
    with app.app_context():
        upgrade(revision="0001")
        tables = sa.MetaData()
        tables.reflect(db.engine)
        at = datetime(2024, 1, 1, 12, tzinfo=UTC)
        table = tables.tables
        with db.engine.begin() as conn:
            _network(conn, table, at, cards=3)
            conn.execute(table["visit"].insert(), _visits())
        upgrade()
        stored = db.session.scalars(sa.text("SELECT day FROM visit ORDER BY id")).all()
        # each visit's Helsinki date, whatever type the driver gives the column back in
        assert [date.fromisoformat(str(day)) for day in stored] == [
            date(2024, 2, 1),
            date(2024, 2, 1),
            date(2024, 3, 31),
            date(2024, 10, 27),
        ]
        days, cards = _visit_day_and_first_use()
        assert (1, date(2024, 2, 1), 2, 2, 3) in days  # 31 Jan 23:30 UTC is 1 Feb in Helsinki
        assert cards == [(1, date(2024, 2, 1)), (2, date(2024, 3, 31)), (3, None)]
        rollup.rebuild(db.session)  # the migration fills what the rebuild computes
        assert _visit_day_and_first_use() == (days, cards)
        db.session.rollback()
        db.session.remove()
        downgrade(revision="0001")  # with visits referencing the cards
        visits = db.session.scalar(sa.text("SELECT count(*) FROM visit"))
        assert visits == len(_visits())
        db.session.remove()
        db.engine.dispose()


def test_the_replay_key_migration_moves_phone_codes_beside_the_clients_key(empty_database):
    app = create_app(app_config(empty_database))
    with app.app_context():
        upgrade(revision="0001")
        tables = sa.MetaData()
        tables.reflect(db.engine)
        at = datetime(2024, 1, 1, 12, tzinfo=UTC)
        table = tables.tables
        visits = _visits()[:2]
        visits[0]["idempotency_key"], visits[1]["idempotency_key"] = "code:3f2a", "scan-1"
        with db.engine.begin() as conn:
            _network(conn, table, at, cards=1)
            conn.execute(table["visit"].insert(), visits)
        upgrade()
        keys = sa.text("SELECT idempotency_key, replay_key FROM visit ORDER BY id")
        assert [tuple(row) for row in db.session.execute(keys)] == [
            (None, "code:3f2a"),  # a phone's code, from when it replaced the client's key
            ("scan-1", None),
        ]
        db.session.remove()
        downgrade(revision="0011")
        keys = sa.text("SELECT idempotency_key FROM visit ORDER BY id")
        assert db.session.scalars(keys).all() == ["code:3f2a", "scan-1"]
        db.session.remove()
        db.engine.dispose()


def _network(conn, table, at: datetime, cards: int) -> None:
    """Store a region, a venue (id 1), a distributor (id 2) and cards with ids from 1."""
    conn.execute(table["region"].insert(), {"id": 1, "code": "kainuu", "name": "K"})
    conn.execute(table["organisation"].insert(), [_organisation(i, at) for i in (1, 2)])
    conn.execute(table["card"].insert(), [_card(i, at) for i in range(1, cards + 1)])


def _organisation(i: int, at: datetime) -> dict:
    return dict(
        id=i,
        kind="venue" if i == 1 else "distributor",
        name=f"O{i}",
        region_id=1,
        course_provider=False,
        home_region_only=False,
        quota_full_refuses=False,
        active=True,
        created_at=at,
    )


def _card(i: int, at: datetime) -> dict:
    return dict(
        id=i,
        number=f"N{i}",
        generation=1,
        region_id=1,
        issuer_id=2,
        birth_year=1980,
        postcode="70100",
        children=3,
        valid_from=date(2023, 1, 1),
        valid_until=date(2026, 1, 1),
        revoked=False,
        digital_key=f"k{i}",
        created_at=at,
        updated_at=at,
    )


def _visits() -> list[dict]:
    moments = [
        (1, datetime(2024, 1, 31, 23, 30, tzinfo=UTC), 1),
        (1, datetime(2024, 2, 1, 10, 0, tzinfo=UTC), 2),
        (2, datetime(2024, 3, 31, 20, 59, tzinfo=UTC), 0),  # 23:59 summer time
        (2, datetime(2024, 10, 27, 0, 30, tzinfo=UTC), 1),  # before the clocks go back
    ]
    return [
        dict(id=n, card_id=card, generation=1, venue_id=1, adults=1, children=children)
        | dict(recorded_at=moment, source="api")
        for n, (card, moment, children) in enumerate(moments, start=1)
    ]


def test_the_tombstone_migration_keeps_the_visits_offline_conflicts(empty_database):
    app = create_app(app_config(empty_database))
    with app.app_context():
        upgrade(revision="0009")
        tables = sa.MetaData()
        tables.reflect(db.engine)
        table = tables.tables
        at = datetime(2024, 1, 1, 12, tzinfo=UTC)
        with db.engine.begin() as conn:
            _network(conn, table, at, cards=2)
            conn.execute(table["visit"].insert(), _visits()[0] | {"day": date(2024, 2, 1)})
            conflict = {"visit_id": 1, "code": "second_use", "created_at": at}
            conn.execute(table["visit_conflict"].insert(), conflict)
        count = sa.text("SELECT count(*) FROM visit_conflict")
        upgrade(revision="0010")  # on SQLite it copies the visit table
        with db.engine.connect() as conn:
            assert conn.execute(count).scalar() == 1
        downgrade(revision="0009")
        with db.engine.connect() as conn:
            assert conn.execute(count).scalar() == 1
        db.engine.dispose()


def test_the_rollup_assistants_migration_counts_the_assistants_already_recorded(empty_database):
    app = create_app(app_config(empty_database))
    with app.app_context():
        upgrade(revision="0011")
        tables = sa.MetaData()
        tables.reflect(db.engine)
        at = datetime(2024, 1, 1, 12, tzinfo=UTC)
        table = tables.tables
        day = date(2024, 2, 1)
        visits = [
            visit | {"day": day, "assistants": assistants}
            for visit, assistants in zip(_visits()[:2], (2, 1), strict=True)
        ]
        with db.engine.begin() as conn:
            _network(conn, table, at, cards=2)
            conn.execute(table["visit"].insert(), visits)
            row = {"venue_id": 1, "day": day, "visits": 2, "adults": 2, "children": 3}
            conn.execute(table["visit_day"].insert(), row)
        upgrade()
        assert db.session.scalars(sa.select(VisitDay.assistants)).all() == [3]
        db.session.remove()
        downgrade(revision="0011")
        db.session.remove()
        db.engine.dispose()


def test_the_paper_migration_admits_paper_visits_and_keeps_the_conflicts(empty_database):
    app = create_app(app_config(empty_database))
    with app.app_context():
        upgrade(revision="0011")
        tables = sa.MetaData()
        tables.reflect(db.engine)
        table = tables.tables
        at = datetime(2024, 1, 1, 12, tzinfo=UTC)
        paper = _visits()[0] | {"id": 9, "source": "paper", "day": date(2024, 2, 1)}
        with db.engine.begin() as conn:
            _network(conn, table, at, cards=3)
            conn.execute(table["visit"].insert(), _visits()[0] | {"day": date(2024, 2, 1)})
            conflict = {"visit_id": 1, "code": "second_use", "created_at": at}
            conn.execute(table["visit_conflict"].insert(), conflict)
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
            conn.execute(table["visit"].insert(), paper)
        upgrade()
        with db.engine.begin() as conn:
            conn.execute(table["visit"].insert(), paper)
            assert conn.execute(sa.text("SELECT count(*) FROM visit_conflict")).scalar() == 1
        downgrade(revision="0011")
        with db.engine.begin() as conn:
            assert (
                conn.execute(sa.text("SELECT source FROM visit WHERE id = 9")).scalar() == "manual"
            )
            assert conn.execute(sa.text("SELECT count(*) FROM visit_conflict")).scalar() == 1
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
            conn.execute(table["visit"].insert(), paper | {"id": 10, "idempotency_key": "x"})
        db.engine.dispose()


def test_the_printed_secret_migration_gives_every_reissued_card_a_new_printed_number(
    empty_database,
):
    app = create_app(app_config(empty_database))
    with app.app_context():
        upgrade(revision="0011")
        tables = sa.MetaData()
        tables.reflect(db.engine)
        at = datetime(2024, 1, 1, 12, tzinfo=UTC)
        table = tables.tables
        numbers = [new_number() for _ in range(3)]
        with db.engine.begin() as conn:
            conn.execute(table["region"].insert(), {"id": 1, "code": "kainuu", "name": "K"})
            conn.execute(table["organisation"].insert(), [_organisation(i, at) for i in (1, 2)])
            conn.execute(
                table["card"].insert(),
                [
                    _card(i, at)
                    | {"number": numbers[i - 1], "generation": generation}
                    | {"number_hash": "cached:0123456789abcdef"}
                    for i, generation in ((1, 1), (2, 2), (3, 7))
                ],
            )
        upgrade()
        stored = db.session.scalars(sa.select(Card).order_by(Card.id)).all()
        assert [card.printed_secret is None for card in stored] == [True, False, False]
        assert [card.number_hash for card in stored] == ["cached:0123456789abcdef", None, None]
        assert stored[0].printed_number == numbers[0]  # generation 1 is printed as before
        for card in stored[1:]:
            parsed = cardnumbers.parse_printed(card.printed_number)
            assert parsed == (card.number, card.generation, card.printed_secret)
            assert len(card.printed_secret) == cardnumbers.SECRET_LENGTH
        db.session.remove()
        db.engine.dispose()
