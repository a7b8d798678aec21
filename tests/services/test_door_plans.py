"""The door's card read costs the same on a venue's busiest day as on its first visit.

On a table the database has no statistics of yet (a new database's first festival) the
planner may take any index that fits, and PostgreSQL may hash a subquery over every visit
of the venue's day: each lookup must find the card's own visits (and the keys' one), not
read the venue's day or the course's visits for every card shown.
"""

from datetime import timedelta

from webapp.extensions import db
from webapp.models import Event, Role, Visit, VisitSource, utcnow
from webapp.rules import helsinki_date
from webapp.services import door

from ..factories import create_card, create_distributor, create_region, create_user, create_venue
from ..statements import work

OTHERS = 2000


def card_read_work(statement, params) -> int:
    return work(lambda: db.session.connection().execute(statement, params).all(), "visit")


def test_a_door_check_reads_the_cards_own_visits_on_a_busy_day():
    region = create_region()
    venue = create_venue(region, course_provider=True)
    issuer = create_distributor(region)
    staff = create_user("ovi@example.fi", Role.VENUE, [venue])
    today = helsinki_date(utcnow())
    course = Event(venue=venue, name="Kurssi", starts_on=today, ends_on=today + timedelta(days=60))
    db.session.add(course)
    card = create_card(issuer)
    others = [create_card(issuer) for _ in range(30)]
    db.session.flush()
    params = {
        "venue_id": venue.id,
        "day": today,
        "key": "key-1",
        "replay": "replay-1",
        "course_id": course.id,
        "term_starts_on": course.starts_on,
        "number": card.number,
    }
    read = door._card_read("number", course=True, keyed=True, replayed=True)
    quiet = card_read_work(read, params)

    db.session.execute(
        Visit.__table__.insert(),
        [
            {
                "card_id": others[index % len(others)].id,
                "generation": 1,
                "venue_id": venue.id,
                "event_id": course.id,
                "adults": 1,
                "children": 0,
                "assistants": 0,
                "recorded_at": utcnow(),
                "day": today,
                "recorded_by_id": staff.id,
                "source": VisitSource.CAMERA,
                "idempotency_key": f"other-{index}",
            }
            for index in range(OTHERS)
        ],
    )
    busy = card_read_work(read, params)
    assert busy <= quiet * 1.5 + 5, (quiet, busy)
