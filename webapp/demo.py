"""The contract's demo data: regions, organisations, people, one card in each state, offers."""

from datetime import date, time, timedelta

from sqlalchemy import select

from .extensions import db
from .models import (
    Card,
    CardKind,
    Event,
    NetworkMembership,
    OfferKind,
    Organisation,
    OrganisationKind,
    Region,
    RevokeReason,
    Role,
    Setting,
    User,
    VenueCategory,
)
from .rules import finnish_moment, today_in_finland
from .services import accounts, cards

PASSWORD = "kaikukortti-demo"
MARKER = "demo"
NETWORK_SINCE = date(2020, 1, 1)

REGIONS = {"pohjois-savo": "Pohjois-Savo", "kainuu": "Kainuu", "lappi": "Lappi"}
REGION_NAMES_SV = {"pohjois-savo": "Norra Savolax", "kainuu": "Kajanaland", "lappi": "Lappland"}
ORGANISATIONS = {
    # name: (kind, region, category, course provider, home region only)
    "Kuopion sosiaalipalvelut": (OrganisationKind.DISTRIBUTOR, "pohjois-savo", None, False, False),
    "Kuopion kaupunginteatteri": (
        OrganisationKind.VENUE,
        "pohjois-savo",
        VenueCategory.CULTURE,
        False,
        False,
    ),
    "Kuopion kansalaisopisto": (
        OrganisationKind.VENUE,
        "pohjois-savo",
        VenueCategory.EDUCATION,
        True,
        True,
    ),
    "Kajaanin kaupunginteatteri": (
        OrganisationKind.VENUE,
        "kainuu",
        VenueCategory.CULTURE,
        False,
        False,
    ),
    "Rovaniemen sosiaalipalvelut": (OrganisationKind.DISTRIBUTOR, "lappi", None, False, False),
}
USERS = {
    # email: (role, region, organisation)
    "koordinaattori@example.fi": (Role.COORDINATOR, "pohjois-savo", None),
    "jakaja@example.fi": (Role.DISTRIBUTOR, "pohjois-savo", "Kuopion sosiaalipalvelut"),
    "ovi@example.fi": (Role.VENUE, "pohjois-savo", "Kuopion kaupunginteatteri"),
    "opisto@example.fi": (Role.VENUE, "pohjois-savo", "Kuopion kansalaisopisto"),
    "kajaani@example.fi": (Role.VENUE, "kainuu", "Kajaanin kaupunginteatteri"),
    "jakaja.lappi@example.fi": (Role.DISTRIBUTOR, "lappi", "Rovaniemen sosiaalipalvelut"),
}
# The contract's card states, then a community card of Kuopion sosiaalipalvelut (for a group of
# at most five clients under 16 with one worker).
CARD_STATES = ("active", "expired", "revoked", "replaced", "lappi", "community")
COMMUNITY_GROUP = 5
OFFERS = {
    # title: (venue, kind, days after loading, time, quota, children welcome, municipality, texts)
    "Tuntematon sotilas": (
        "Kuopion kaupunginteatteri",
        OfferKind.EVENT,
        3,
        time(19),
        10,
        False,
        "Kuopio",
        (
            "Väinö Linnan klassikko suurella näyttämöllä.",
            "Väinö Linnas klassiker på stora scenen.",
            "Väinö Linna's classic on the main stage.",
        ),
    ),
    "Lasten lauantai": (
        "Kuopion kaupunginteatteri",
        OfferKind.EVENT,
        5,
        time(11),
        None,
        True,
        "Kuopio",
        ("Nukketeatteria koko perheelle.", "Dockteater för hela familjen.", "Puppets for all."),
    ),
    "Kevään kurssikausi": (
        "Kuopion kansalaisopisto",
        OfferKind.STANDING,
        0,
        None,
        None,
        False,
        "Kuopio",
        (
            "Kielet, käsityöt ja liikunta. Kysy vapaita paikkoja toimistosta.",
            "Språk, hantverk och motion. Fråga om lediga platser på kansliet.",
            "Languages, crafts and exercise. Ask the office for free places.",
        ),
    ),
}


class NotADemoDatabase(Exception):
    """The database holds data that the demo did not create."""


def load(today: date | None = None) -> dict[str, str]:
    """Create whatever demo rows are missing and return the demo cards' numbers by state."""
    marker = db.session.get(Setting, MARKER)
    _refuse_foreign_data(marker)
    if marker is None:
        marker = Setting(key=MARKER, value={"loaded_on": (today or today_in_finland()).isoformat()})
        db.session.add(marker)
    loaded_on = date.fromisoformat(marker.value["loaded_on"])

    regions = {code: _region(code, name, loaded_on) for code, name in REGIONS.items()}
    organisations = {}
    for name, (kind, region, category, course_provider, home_only) in ORGANISATIONS.items():
        organisations[name] = _organisation(
            name, kind, regions[region], category, course_provider, home_only
        )
    for email, (role, region, organisation) in USERS.items():
        _user(email, role, regions[region], organisations.get(organisation))

    numbers = dict(marker.value.get("cards", {}))
    for state in CARD_STATES:
        if state not in numbers or _card(numbers[state]) is None:
            numbers[state] = _create_card(state, loaded_on, organisations).number
    for title, offer in OFFERS.items():
        _offer(title, offer, loaded_on, organisations)
    marker.value = {"loaded_on": loaded_on.isoformat(), "cards": numbers}
    db.session.flush()
    return numbers


def _refuse_foreign_data(marker: Setting | None) -> None:
    demo_cards = set((marker.value.get("cards") or {}).values()) if marker else set()
    foreign = [
        *(c for c in db.session.scalars(select(Region.code)) if c not in REGIONS),
        *(n for n in db.session.scalars(select(Organisation.name)) if n not in ORGANISATIONS),
        *(e for e in db.session.scalars(select(User.email)) if e not in USERS),
        *(n for n in db.session.scalars(select(Card.number)) if n not in demo_cards),
    ]
    if foreign:
        raise NotADemoDatabase(
            "This database holds data that is not demo data; the demo refuses to touch it."
        )


def _region(code: str, name: str, loaded_on: date) -> Region:
    region = db.session.scalar(select(Region).where(Region.code == code))
    if region is None:
        region = Region(code=code, name=name, name_sv=REGION_NAMES_SV[code])
        # Lappi joins the network one year after the demo was loaded.
        starts = loaded_on + timedelta(days=365) if code == "lappi" else NETWORK_SINCE
        region.memberships.append(NetworkMembership(starts_on=starts))
        db.session.add(region)
    return region


def _organisation(name, kind, region, category, course_provider, home_only) -> Organisation:
    org = db.session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        org = Organisation(
            name=name,
            region=region,
            kind=kind,
            category=category,
            course_provider=course_provider,
            home_region_only=home_only,
        )
        db.session.add(org)
    return org


def _user(email: str, role: Role, region: Region, organisation: Organisation | None) -> User:
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, role=role, region=region)
        accounts.set_password(user, PASSWORD)
        if organisation is not None:
            user.organisations.append(organisation)
        db.session.add(user)
    return user


def _offer(title: str, offer: tuple, loaded_on: date, organisations) -> Event:
    venue_name, kind, days, clock, quota, children, municipality, texts = offer
    venue = organisations[venue_name]
    event = db.session.scalar(select(Event).where(Event.name == title, Event.venue == venue))
    if event is None:
        day = loaded_on + timedelta(days=days)
        event = Event(
            venue=venue,
            name=title,
            kind=kind,
            starts_on=day,
            quota=quota,
            children_welcome=children,
            municipality=municipality,
            text_fi=texts[0],
            text_sv=texts[1],
            text_en=texts[2],
            published=True,
        )
        if clock is not None:
            event.starts_at = finnish_moment(day, clock)
            event.ends_at = event.starts_at + timedelta(hours=2, minutes=30)
        else:
            event.ends_on = day + timedelta(days=120)
            event.hours = "ma–to 17–21"
        db.session.add(event)
    return event


def _card(number: str) -> Card | None:
    return db.session.scalar(select(Card).where(Card.number == number))


def _create_card(state: str, loaded_on: date, organisations) -> Card:
    issuer = organisations["Kuopion sosiaalipalvelut"]
    if state == "community":
        return cards.issue_card(
            issuer=issuer,
            actor=None,
            kind=CardKind.COMMUNITY,
            children=COMMUNITY_GROUP,
            today=loaded_on - timedelta(days=30),
        )
    holder = {"birth_year": 1985, "postcode": "70100", "children": 2}
    if state == "expired":
        holder["children"] = 0
        return cards.issue_card(
            issuer=issuer,
            actor=None,
            **holder,
            today=loaded_on - timedelta(days=400),
            valid_until=loaded_on - timedelta(days=35),
        )
    if state == "lappi":
        issuer = organisations["Rovaniemen sosiaalipalvelut"]
        holder.update(postcode="96100", children=1)
    card = cards.issue_card(
        issuer=issuer, actor=None, **holder, today=loaded_on - timedelta(days=30)
    )
    if state == "revoked":
        cards.revoke_card(card, actor=None, reason=RevokeReason.LOST)
    elif state == "replaced":
        cards.reissue_card(card, actor=None)
    return card
