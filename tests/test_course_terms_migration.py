"""The course terms migration (0012_course_terms) gives the visits already on courses their term."""

from datetime import UTC, date, datetime

import sqlalchemy as sa
from flask_migrate import upgrade

from webapp import create_app
from webapp.extensions import db

from .conftest import app_config
from .test_migrations import _card, _organisation, empty_database

__all__ = ["empty_database"]  # the fixture, used by name


def test_the_course_terms_migration_gives_the_visits_of_courses_their_term(empty_database):
    app = create_app(app_config(empty_database))
    with app.app_context():
        upgrade(revision="0011")
        tables = sa.MetaData()
        tables.reflect(db.engine)
        table = tables.tables
        at = datetime(2026, 9, 1, 12, tzinfo=UTC)
        school = _organisation(1, at) | {"course_provider": True}
        event = dict(quota=None, active=True, children_welcome=False, published=False)
        with db.engine.begin() as conn:
            conn.execute(table["region"].insert(), {"id": 1, "code": "kainuu", "name": "K"})
            conn.execute(table["organisation"].insert(), [school, _organisation(2, at)])
            conn.execute(table["organisation"].insert(), _organisation(3, at) | {"kind": "venue"})
            conn.execute(table["card"].insert(), [_card(1, at)])
            conn.execute(
                table["event"].insert(),
                [
                    event
                    | dict(id=1, venue_id=1, name="Keramiikka", kind="standing")
                    | dict(starts_on=date(2026, 9, 1), ends_on=date(2026, 12, 15)),
                    event
                    | dict(id=2, venue_id=1, name="Luento", kind="event")
                    | dict(starts_on=date(2026, 9, 2), ends_on=None),
                    event
                    | dict(id=3, venue_id=3, name="Hamlet", kind="event")
                    | dict(starts_on=date(2026, 9, 3), ends_on=date(2026, 9, 4)),
                ],
            )
            conn.execute(
                table["visit"].insert(),
                [
                    dict(id=n, card_id=1, generation=1, venue_id=venue, event_id=event_id)
                    | dict(adults=1, children=0, recorded_at=at, day=at.date(), source="api")
                    for n, (venue, event_id) in enumerate(
                        [(1, 1), (1, 2), (3, 3), (1, None)], start=1
                    )
                ],
            )
        upgrade()
        stored = db.session.scalars(sa.text("SELECT term_ends_on FROM visit ORDER BY id")).all()
        terms = [None if day is None else date.fromisoformat(str(day)) for day in stored]
        assert terms == [date(2026, 12, 15), date(2026, 9, 2), None, None]
        db.session.remove()
        db.engine.dispose()
