"""The data model: regions and their network membership, organisations, people, cards, visits.

No name, personal identity code, birth date or address of a cardholder is stored anywhere:
the card number is the only identifier.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from flask_babel import get_locale
from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
    and_,
    func,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from . import cardnumbers, rules
from .extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every database (SQLite returns naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
    )


class OrganisationKind(enum.StrEnum):
    DISTRIBUTOR = "distributor"
    VENUE = "venue"


class VenueCategory(enum.StrEnum):
    CULTURE = "culture"
    EDUCATION = "education"
    SCIENCE = "science"
    SPORT = "sport"
    NATURE = "nature"


class Role(enum.StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    DISTRIBUTOR = "distributor"
    VENUE = "venue"


class CardStatus(enum.StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"  # derived from valid_until; never stored


class CardKind(enum.StrEnum):
    PERSONAL = "personal"  # held by one person
    COMMUNITY = "community"  # held by a distributing organisation for its groups


class RevokeReason(enum.StrEnum):
    LOST = "lost"
    MISUSE = "misuse"
    OTHER = "other"


class VisitSource(enum.StrEnum):
    CAMERA = "camera"
    MANUAL = "manual"
    OFFLINE = "offline"
    API = "api"
    PAPER = "paper"  # written on paper or in a spreadsheet at the door, entered later


class ConflictCode(enum.StrEnum):
    """What had changed by the time a visit accepted offline reached the server."""

    REVOKED_AFTER_SCAN = "revoked_after_scan"  # revoked between the scan and the sync
    SECOND_USE = "second_use"  # the card was already used at the venue that day
    LIST_OUT_OF_DATE = "list_out_of_date"  # refused at the scan moment: ``reason`` says why
    TOO_MANY_CHILDREN = "too_many_children"  # more than allowed: stored with the allowed


class OfferKind(enum.StrEnum):
    EVENT = "event"  # at a time: starts_at (and ends_at)
    STANDING = "standing"  # over days: opening hours, a swimming hall, a course term


class Region(db.Model):
    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))  # Finnish: the official name
    name_sv: Mapped[str | None] = mapped_column(String(120))  # Swedish, where one exists
    pilot_ends_on: Mapped[date | None] = mapped_column(Date)
    # From this day on the door refuses the region's unsigned cards of the national register
    # (shown by their printed register ID): None, they are accepted until reissued.
    unsigned_refused_from: Mapped[date | None] = mapped_column(Date)

    memberships: Mapped[list[NetworkMembership]] = relationship(
        back_populates="region",
        cascade="all, delete-orphan",
        order_by="NetworkMembership.starts_on",
    )

    def name_in(self, language: str) -> str:
        """Return the region's name in the language: Swedish where it has one, else Finnish."""
        return (self.name_sv or self.name) if language == "sv" else self.name

    @property
    def local_name(self) -> str:
        """The region's name in the language of the current page or request."""
        locale = get_locale()
        return self.name_in(locale.language if locale else "fi")

    def in_network_on(self, day: date) -> bool:
        """Tell whether the region is a member of the Kaikukortti network on that day."""
        return rules.in_network_on(((m.starts_on, m.ends_on) for m in self.memberships), day)

    def __repr__(self) -> str:
        return f"<Region {self.code}>"


class NetworkMembership(db.Model):
    """A period during which a region belongs to the Kaikukortti network."""

    __tablename__ = "network_membership"
    __table_args__ = (
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="period_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)

    region: Mapped[Region] = relationship(back_populates="memberships")


user_organisation = Table(
    "user_organisation",
    db.metadata,
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    Column("organisation_id", ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True),
)


class Organisation(db.Model):
    """A distributor (hands out cards) or a venue (accepts them)."""

    __tablename__ = "organisation"
    __table_args__ = (UniqueConstraint("region_id", "name", name="uq_organisation_region_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrganisationKind] = mapped_column(_enum(OrganisationKind, "organisation_kind"))
    name: Mapped[str] = mapped_column(String(200))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    category: Mapped[VenueCategory | None] = mapped_column(_enum(VenueCategory, "venue_category"))
    course_provider: Mapped[bool] = mapped_column(default=False)
    home_region_only: Mapped[bool] = mapped_column(default=False)
    quota_full_refuses: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    region: Mapped[Region] = relationship()
    users: Mapped[list[User]] = relationship(
        secondary=user_organisation, back_populates="organisations"
    )

    @property
    def is_venue(self) -> bool:
        return self.kind is OrganisationKind.VENUE

    @classmethod
    def where_works(cls, kind: OrganisationKind):
        """The join of ``user_organisation`` to the *active* organisations of that kind.

        The one definition of "the organisations where a user works": the relationships
        ``User.venues`` and ``User.distributors`` and the door's Core read use it.
        """
        return and_(cls.id == user_organisation.c.organisation_id, cls.kind == kind, cls.active)

    def __repr__(self) -> str:
        return f"<Organisation {self.kind} {self.name!r}>"


class User(UserMixin, db.Model):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    invite_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    invite_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of every session's id: raising it ends all of the person's sessions at once.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # When the sessions before the current version ended (a visit queued in one of them is
    # still delivered if it was scanned before then: webapp.services.accounts.session_was_live).
    sessions_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    region: Mapped[Region | None] = relationship()
    organisations: Mapped[list[Organisation]] = relationship(
        secondary=user_organisation, back_populates="users", order_by="Organisation.name"
    )
    # The active venues and distributors where the user works (read-only views of the above).
    venues: Mapped[list[Organisation]] = relationship(
        secondary=user_organisation,
        secondaryjoin=lambda: Organisation.where_works(OrganisationKind.VENUE),
        order_by=lambda: (Organisation.name, Organisation.id),
        viewonly=True,
    )
    distributors: Mapped[list[Organisation]] = relationship(
        secondary=user_organisation,
        secondaryjoin=lambda: Organisation.where_works(OrganisationKind.DISTRIBUTOR),
        order_by=lambda: (Organisation.name, Organisation.id),
        viewonly=True,
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        """Return the session's user id: the user's id and session version."""
        return f"{self.id}.{self.session_version}"

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


HOLDER_BY_KIND = (
    "(kind = 'personal' AND birth_year IS NOT NULL AND postcode IS NOT NULL)"
    " OR (kind = 'community' AND birth_year IS NULL AND postcode IS NULL)"
)


class Card(db.Model):
    """A Kaikukortti card. The number is the only identifier of its holder.

    A community card is held by its issuing organisation, whose worker takes a small group
    of clients under 16 to a visit: it stores nothing about the worker or the clients.
    """

    __tablename__ = "card"
    __table_args__ = (
        CheckConstraint("generation >= 1", name="generation_positive"),
        CheckConstraint("children >= 0 AND children <= 20", name="children_range"),
        CheckConstraint("birth_year >= 1900", name="birth_year_range"),
        CheckConstraint("valid_until >= valid_from", name="validity_order"),
        # A person's card has the holder's birth year and postcode; an organisation's, none.
        CheckConstraint(HOLDER_BY_KIND, name="holder_by_kind"),
        # Covers the statistics' "registered in a period, of which used" (services.stats).
        Index("ix_card_created", "created_at", "region_id", "first_used_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[CardKind] = mapped_column(
        _enum(CardKind, "card_kind"), default=CardKind.PERSONAL, server_default="personal"
    )
    generation: Mapped[int] = mapped_column(default=1)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    birth_year: Mapped[int | None] = mapped_column(Integer)  # None on a community card
    postcode: Mapped[str | None] = mapped_column(String(5))  # None on a community card
    # Personal: the holder's children who may come free; community: the most clients under 16
    # that one visit with the card may bring.
    children: Mapped[int] = mapped_column(default=0)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date, index=True)
    revoked: Mapped[bool] = mapped_column(default=False)
    revoke_reason: Mapped[RevokeReason | None] = mapped_column(_enum(RevokeReason, "revoke_reason"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    digital_key: Mapped[str] = mapped_column(String(64), unique=True)
    digital_device: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, index=True
    )
    # The Helsinki date of the card's first visit (None: never used); kept by services.rollup.
    first_used_on: Mapped[date | None] = mapped_column(Date)
    # The random characters of the printed number from generation 2 on (None for generation 1),
    # drawn anew at every reissue (webapp.cardnumbers).
    printed_secret: Mapped[str | None] = mapped_column(String(8))
    # The slow salted hash of the printed number in the offline list, cached as "<tag>:<digest>"
    # (webapp.services.offline.number_hashes); a tag of another salt or printed number: stale.
    number_hash: Mapped[str | None] = mapped_column(String(40))
    # The ID printed on a card imported from the national register (webapp.registerids),
    # which the door accepts as the card's first generation, unsigned; None: issued here.
    legacy_id: Mapped[str | None] = mapped_column(String(20), unique=True, index=True)

    region: Mapped[Region] = relationship()
    issuer: Mapped[Organisation] = relationship()

    @property
    def printed_number(self) -> str:
        """What is printed on the card and typed at the door; it changes at every reissue."""
        return cardnumbers.printed_number(self.number, self.generation, self.printed_secret)

    @property
    def is_community(self) -> bool:
        return self.kind is CardKind.COMMUNITY

    @property
    def has_digital_card(self) -> bool:
        """Only a person's card goes onto a phone; a community card's workers carry it printed."""
        return not self.is_community

    def status_on(self, day: date) -> CardStatus:
        """Return the card's status as the API reports it on that day."""
        if self.revoked:
            return CardStatus.REVOKED
        if day > self.valid_until:
            return CardStatus.EXPIRED
        return CardStatus.ACTIVE

    def __repr__(self) -> str:
        return f"<Card {self.number}/{self.generation}>"


class DeviceKey(db.Model):
    """The public key of the phone that shows a digital card; its id is the certificate's serial.

    A card has at most one unretired key: activating a new phone (or moving the card) retires
    the others at once, and codes signed with a retired key are refused.
    """

    __tablename__ = "device_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(33))  # compressed P-256 point
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    card: Mapped[Card] = relationship()


class Event(db.Model):
    """An event at a venue, with an optional quota of Kaikukortti places.

    A published event is an offer of the public catalogue (:mod:`webapp.services.offers`):
    its quota is the offer's places, the same places the door counts as ``quota_full``. A
    standing offer runs from ``starts_on`` to ``ends_on`` (open-ended when None) and has no
    ``starts_at``.
    """

    __tablename__ = "event"
    __table_args__ = (
        CheckConstraint("quota IS NULL OR quota >= 0", name="quota_positive"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="period_order"),
        Index("ix_event_published_starts_on", "published", "starts_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column(Date)
    quota: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(default=True)
    kind: Mapped[OfferKind] = mapped_column(_enum(OfferKind, "offer_kind"), default=OfferKind.EVENT)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_on: Mapped[date | None] = mapped_column(Date)
    place: Mapped[str | None] = mapped_column(String(200))
    municipality: Mapped[str | None] = mapped_column(String(80))
    hours: Mapped[str | None] = mapped_column(String(200))
    children_welcome: Mapped[bool] = mapped_column(default=False)
    text_fi: Mapped[str | None] = mapped_column(String(500))
    text_sv: Mapped[str | None] = mapped_column(String(500))
    text_en: Mapped[str | None] = mapped_column(String(500))
    published: Mapped[bool] = mapped_column(default=False)

    venue: Mapped[Organisation] = relationship()

    @hybrid_property
    def last_day(self) -> date:
        """Return the event's last day (its one day unless it has ``ends_on``).

        At a course provider an event is a course, and its term runs from ``starts_on`` to
        this day: a card holds one place on it per term.
        """
        return self.ends_on or self.starts_on

    @last_day.inplace.expression
    @classmethod
    def _last_day_expression(cls):
        return func.coalesce(cls.ends_on, cls.starts_on)

    def text(self, language: str) -> str:
        """Return the short text in the language, else in Finnish, Swedish or English."""
        texts = {"fi": self.text_fi, "sv": self.text_sv, "en": self.text_en}
        return texts.get(language) or self.text_fi or self.text_sv or self.text_en or ""


class Visit(db.Model):
    """One use of a card at a venue: the holder (one adult) and the children they brought."""

    __tablename__ = "visit"
    __table_args__ = (
        UniqueConstraint("venue_id", "idempotency_key", name="uq_visit_venue_idempotency_key"),
        CheckConstraint("adults >= 0", name="adults_non_negative"),
        CheckConstraint("children >= 0", name="children_non_negative"),
        Index("ix_visit_venue_recorded", "venue_id", "recorded_at"),
        # "used here today" (card, day, venue) and a card's first use; the rebuild's groups.
        # The card ends the venue's and the event's index too, so that a door check is an
        # exact lookup whichever index a planner without statistics takes (0013).
        Index("ix_visit_card_day", "card_id", "day", "venue_id"),
        Index("ix_visit_venue_day", "venue_id", "day", "card_id"),
        Index("ix_visit_event_card", "event_id", "card_id"),
        # a phone-signed code counts once per venue; led by the key to find its other venues
        Index("uq_visit_replay_key_venue", "replay_key", "venue_id", unique=True),
        {"sqlite_autoincrement": True},  # an undone visit's id is never given to another
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"))
    generation: Mapped[int] = mapped_column(Integer)
    venue_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id"))
    # A course place: the last day of the course's term it was taken for (None elsewhere).
    term_ends_on: Mapped[date | None] = mapped_column(Date)
    adults: Mapped[int] = mapped_column(default=1)
    children: Mapped[int] = mapped_column(default=0)
    # Free companions beside the holder: a personal assistant, guide or interpreter.
    assistants: Mapped[int] = mapped_column(default=0, server_default="0")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    day: Mapped[date] = mapped_column(Date)  # the Helsinki date of recorded_at, set by writers
    # Not indexed: nothing reads visits by recorder (users are deactivated, never deleted).
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    source: Mapped[VisitSource] = mapped_column(
        _enum(VisitSource, "visit_source"), default=VisitSource.API
    )
    idempotency_key: Mapped[str | None] = mapped_column(String(64))  # the client's
    replay_key: Mapped[str | None] = mapped_column(String(64))  # the phone's code, if one

    card: Mapped[Card] = relationship()
    venue: Mapped[Organisation] = relationship()
    event: Mapped[Event | None] = relationship()


class UndoneVisit(db.Model):
    """A visit undone at the door, kept as its tombstone: the visit row is deleted, but its id
    and its idempotency key stay taken, so a retried request stores nothing again."""

    __tablename__ = "undone_visit"
    __table_args__ = (
        UniqueConstraint(
            "venue_id", "idempotency_key", name="uq_undone_visit_venue_idempotency_key"
        ),
    )

    visit_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    venue_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    undone_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VisitDay(db.Model):
    """The visits of one venue on one Helsinki calendar day: the statistics read these sums.

    Kept equal to the ``visit`` rows by :mod:`webapp.services.rollup`, which the door calls
    on every visit it records or undoes; ``flask stats rebuild`` recomputes it after a bulk
    import.
    """

    __tablename__ = "visit_day"
    __table_args__ = (
        CheckConstraint("visits >= 0", name="visits_non_negative"),
        CheckConstraint("adults >= 0", name="adults_non_negative"),
        CheckConstraint("children >= 0", name="children_non_negative"),
        CheckConstraint("assistants >= 0", name="assistants_non_negative"),
    )

    venue_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    visits: Mapped[int] = mapped_column(Integer)
    adults: Mapped[int] = mapped_column(Integer)
    children: Mapped[int] = mapped_column(Integer)
    assistants: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ApiToken(db.Model):
    """A bearer token for the JSON API; only its SHA-256 hash is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class VisitConflict(db.Model):
    """Something that no longer held when a visit accepted offline was synced."""

    __tablename__ = "visit_conflict"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"), index=True)
    code: Mapped[ConflictCode] = mapped_column(_enum(ConflictCode, "conflict_code"))
    reason: Mapped[str | None] = mapped_column(String(40))  # the door's reason, if any
    children: Mapped[int | None] = mapped_column(Integer)  # the children asked, if capped
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    visit: Mapped[Visit] = relationship()


class AuditEvent(db.Model):
    """Who did what, when, to which object."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(40))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship()


class Setting(db.Model):
    """A small key/value store for facts about the installation (such as the demo marker)."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
