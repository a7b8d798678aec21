"""Small factories for tests: regions, organisations, people, cards and visits."""

from datetime import UTC, date, datetime, timedelta

from webapp.extensions import db
from webapp.models import (
    NetworkMembership,
    Organisation,
    OrganisationKind,
    Region,
    Role,
    User,
    VenueCategory,
    Visit,
    utcnow,
)
from webapp.rules import HELSINKI, helsinki_date
from webapp.services import accounts, cards, rollup


def finnish_days_later(moment: datetime, days: int) -> datetime:
    """Return the instant at the same Finnish clock time ``days`` later (earlier if negative):
    the day summer time begins or ends is 23 or 25 hours long."""
    return (moment.astimezone(HELSINKI) + timedelta(days=days)).astimezone(UTC)


def create_region(
    code="pohjois-savo", name=None, member_since=date(2020, 1, 1), **fields
) -> Region:
    region = Region(code=code, name=name or code.title(), **fields)
    if member_since is not None:
        region.memberships.append(NetworkMembership(starts_on=member_since))
    db.session.add(region)
    return region


def create_venue(region, name="Teatteri", **fields) -> Organisation:
    fields.setdefault("category", VenueCategory.CULTURE)
    venue = Organisation(kind=OrganisationKind.VENUE, name=name, region=region, **fields)
    db.session.add(venue)
    return venue


def create_distributor(region, name="Sosiaalipalvelut") -> Organisation:
    org = Organisation(kind=OrganisationKind.DISTRIBUTOR, name=name, region=region)
    db.session.add(org)
    return org


def create_user(email, role=Role.VENUE, organisations=(), region=None, password="salasana-123"):
    user = User(email=email, role=role, region=region, organisations=list(organisations))
    accounts.set_password(user, password)
    db.session.add(user)
    db.session.flush()
    return user


def create_card(issuer, *, today=None, children=2, birth_year=1980, **fields):
    today = today or date.today() - timedelta(days=1)
    return cards.issue_card(
        issuer=issuer,
        actor=None,
        birth_year=birth_year,
        postcode="70100",
        children=children,
        today=today,
        **fields,
    )


def create_visit(
    card, venue, *, recorded_at: datetime | None = None, children=0, **fields
) -> Visit:
    """Store a visit as the door does: with its Helsinki day, counted into the rollup."""
    recorded_at = recorded_at or utcnow()
    db.session.flush()  # the card's and venue's ids and defaults
    fields.setdefault("generation", card.generation)
    day = helsinki_date(recorded_at)
    visit = Visit(
        card=card, venue=venue, children=children, recorded_at=recorded_at, day=day, **fields
    )
    db.session.add(visit)
    db.session.flush()
    rollup.count(
        db.session,
        card_id=card.id,
        venue_id=venue.id,
        day=day,
        adults=visit.adults,
        children=children,
        assistants=visit.assistants,
    )
    return visit
