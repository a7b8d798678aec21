from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import event, func, insert, select

from webapp.extensions import db
from webapp.models import (
    AuditEvent,
    CardKind,
    Event,
    OfferKind,
    Organisation,
    Role,
    UndoneVisit,
    User,
    Visit,
    VisitDay,
    VisitSource,
)
from webapp.rules import Reason, WarningCode, finnish_moment, helsinki_date
from webapp.services import cards, door, stats

from ..concurrency import in_threads
from ..factories import (
    create_card,
    create_distributor,
    create_region,
    create_user,
    create_venue,
    finnish_days_later,
)


@pytest.fixture
def place():
    region = create_region()
    venue = create_venue(region)
    issuer = create_distributor(region)
    staff = create_user("ovi@example.fi", Role.VENUE, [venue])
    card = create_card(issuer, children=2)
    db.session.commit()
    return venue, staff, card


def count_visits() -> int:
    return db.session.scalar(select(func.count()).select_from(Visit))


def test_genuine_token_verifies_ok(place):
    venue, _, card = place
    result = door.verify(door.Shown.scanned(cards.printed_token(card)), venue)
    assert result.reason is Reason.OK and result.max_children == 2
    assert (result.card.number, result.card.valid_until) == (card.number, card.valid_until)


def test_digital_token_verifies_ok(place):
    venue, _, card = place
    assert door.verify(door.Shown.scanned(cards.digital_token(card)), venue).reason is Reason.OK


def test_garbage_token_is_invalid(place):
    venue, _, _ = place
    assert door.verify(door.Shown.scanned("not a token"), venue).reason is Reason.INVALID_TOKEN


def test_token_signed_with_an_unknown_key_is_invalid(place):
    from webapp import tokens

    venue, _, card = place
    forged = tokens.sign_card(card.number, card.generation, ["someone-elses-key"])
    assert door.verify(door.Shown.scanned(forged), venue).reason is Reason.INVALID_TOKEN


def test_token_signed_with_a_retired_key_still_verifies(app, place):
    from webapp import tokens

    venue, _, card = place
    retired = app.config["CARD_SIGNING_KEYS"][0]
    assert (
        door.verify(door.Shown.scanned(tokens.sign_card(card.number, 1, [retired])), venue).reason
        is Reason.OK
    )


def test_genuine_token_of_a_deleted_number_is_unknown(place):
    from webapp import cardnumbers, tokens

    venue, _, _ = place
    token = tokens.sign_card(cardnumbers.new_number(), 1, ["current-test-key"])
    assert door.verify(door.Shown.scanned(token), venue).reason is Reason.UNKNOWN_CARD


@pytest.mark.parametrize(
    ("token", "number", "shown"),
    [
        (" tok ", None, door.Shown(token="tok")),
        ("", "k7mx-4pq 2d", door.Shown(number="K7MX4PQ2D")),
        (None, " k7mx4pq2d ", door.Shown(number="K7MX4PQ2D")),
        ("tok", "K7MX4PQ2D", None),  # both: which one was meant?
        ("  ", "", None),  # neither
        (5, None, None),  # not text
    ],
)
def test_what_was_shown_is_exactly_one_token_or_number(token, number, shown):
    assert door.Shown.of(token, number) == shown


def test_a_typed_number_is_recorded_as_manual_and_a_token_as_camera(place):
    venue, staff, card = place
    typed, _ = door.record_visit(door.Shown.typed(card.number), venue=venue, user=staff, children=0)
    scanned, _ = door.record_visit(
        door.Shown.scanned(cards.printed_token(card)), venue=venue, user=staff, children=0
    )
    sources = {visit.id: visit.source for visit in db.session.scalars(select(Visit))}
    assert (sources[typed.id], sources[scanned.id]) == (VisitSource.MANUAL, VisitSource.CAMERA)


def test_manual_number_entry(place):
    venue, _, card = place
    assert door.verify(door.Shown.typed(card.number.lower()), venue).reason is Reason.OK
    typo = card.number[:-1] + ("2" if card.number[-1] != "2" else "3")
    assert door.verify(door.Shown.typed(typo), venue).reason is Reason.INVALID_TOKEN


def test_record_visit_stores_one_adult_and_the_children(place):
    venue, staff, card = place
    visit, created = door.record_visit(
        venue=venue, user=staff, children=2, shown=door.Shown.scanned(cards.printed_token(card))
    )
    db.session.commit()
    stored = db.session.get(Visit, visit.id)
    assert created and visit.card_number == card.number
    assert (stored.card, stored.adults, stored.children, stored.recorded_by_id) == (
        card,
        1,
        2,
        staff.id,
    )


def test_record_visit_stores_the_assistants_and_counts_them(place):
    venue, staff, card = place
    visit, _ = door.record_visit(
        venue=venue, user=staff, children=1, assistants=2, shown=door.Shown.typed(card.number)
    )
    db.session.commit()
    assert (visit.adults, visit.children, visit.assistants) == (1, 1, 2)
    assert db.session.get(Visit, visit.id).assistants == 2
    today = helsinki_date(visit.recorded_at)
    totals = stats.visit_stats(today, today, "venue", None).totals
    assert (totals.visits, totals.adults, totals.children, totals.assistants) == (1, 1, 1, 2)
    table = stats.national_table(today.year, venue.region)
    [row] = [row for row in table.rows if row.assistants]
    assert (row.field, row.kind, row.adults, row.children, row.assistants) == (
        venue.category.value,
        "personal",
        1,
        1,
        2,
    )


def test_assistants_default_to_none(place):
    venue, staff, card = place
    visit, _ = door.record_visit(
        venue=venue, user=staff, children=0, shown=door.Shown.typed(card.number)
    )
    assert visit.assistants == 0


@pytest.mark.parametrize("assistants", [door.MAX_ASSISTANTS + 1, -1])
def test_assistants_beyond_the_bounds_are_refused_on_their_field(app, place, assistants):
    venue, staff, card = place
    with pytest.raises(door.DoorError) as refused:
        door.record_visit(
            venue=venue,
            user=staff,
            children=0,
            assistants=assistants,
            shown=door.Shown.typed(card.number),
        )
    assert (refused.value.code, refused.value.field) == ("invalid_assistants", "assistants")
    assert refused.value.verdict.valid  # the card itself is fine
    with app.test_request_context(headers={"Cookie": "lang=en"}):
        assert refused.value.message == (
            "Enter the assistants, guides or interpreters beside the holder as a number "
            "from 0 to 2."
        )
    db.session.rollback()
    assert count_visits() == 0


def test_same_idempotency_key_records_once(place):
    venue, staff, card = place
    token = cards.printed_token(card)
    first, created = door.record_visit(
        venue=venue, user=staff, children=1, shown=door.Shown.scanned(token), idempotency_key="k1"
    )
    db.session.commit()
    again, created_again = door.record_visit(
        venue=venue, user=staff, children=1, shown=door.Shown.scanned(token), idempotency_key="k1"
    )
    assert created and not created_again and again.id == first.id
    assert count_visits() == 1


def test_second_visit_the_same_day_warns(place):
    venue, staff, card = place
    token = cards.printed_token(card)
    door.record_visit(venue=venue, user=staff, children=0, shown=door.Shown.scanned(token))
    db.session.commit()
    assert door.verify(door.Shown.scanned(token), venue).warnings == (WarningCode.VISITED_TODAY,)


def test_visit_yesterday_in_finnish_time_does_not_warn(place):
    venue, staff, card = place
    token = cards.printed_token(card)
    now = datetime.now(UTC)
    door.record_visit(
        venue=venue,
        user=staff,
        children=0,
        shown=door.Shown.scanned(token),
        moment=finnish_days_later(now, -1),
    )
    db.session.commit()
    assert door.verify(door.Shown.scanned(token), venue, moment=now).warnings == ()


def test_refused_card_records_nothing(place):
    venue, staff, card = place
    cards.revoke_card(card, actor=None, reason="lost")
    with pytest.raises(door.DoorError) as excinfo:
        door.record_visit(
            venue=venue, user=staff, children=0, shown=door.Shown.scanned(cards.printed_token(card))
        )
    assert excinfo.value.code == "revoked"
    assert count_visits() == 0


@pytest.mark.parametrize(("children", "code"), [(3, "too_many_children"), (-1, "invalid_children")])
def test_children_are_checked_when_recording(place, children, code):
    venue, staff, card = place
    with pytest.raises(door.DoorError) as excinfo:
        door.record_visit(
            venue=venue,
            user=staff,
            children=children,
            shown=door.Shown.scanned(cards.printed_token(card)),
        )
    assert excinfo.value.code == code


def test_course_provider_refuses_children(place):
    venue, staff, card = place
    venue.course_provider = True
    with pytest.raises(door.DoorError) as excinfo:
        door.record_visit(
            venue=venue, user=staff, children=1, shown=door.Shown.scanned(cards.printed_token(card))
        )
    assert excinfo.value.code == "children_not_allowed"


def test_full_quota_warns_or_refuses(place):
    venue, staff, card = place
    event = Event(venue=venue, name="Ensi-ilta", starts_on=cards.today_in_finland(), quota=1)
    db.session.add(event)
    token = cards.printed_token(card)
    assert door.verify(door.Shown.scanned(token), venue, event=event).warnings == ()
    door.record_visit(
        venue=venue, user=staff, children=0, shown=door.Shown.scanned(token), event=event
    )
    assert (
        WarningCode.QUOTA_FULL
        in door.verify(door.Shown.scanned(token), venue, event=event).warnings
    )
    venue.quota_full_refuses = True
    assert door.verify(door.Shown.scanned(token), venue, event=event).reason is Reason.QUOTA_FULL


def test_undo_within_ten_minutes_deletes_the_visit_and_audits(place):
    venue, staff, card = place
    visit, _ = door.record_visit(
        venue=venue,
        user=staff,
        children=1,
        assistants=1,
        shown=door.Shown.scanned(cards.printed_token(card)),
    )
    db.session.commit()
    door.undo_visit(visit.id, user=staff, moment=visit.recorded_at + timedelta(minutes=9))
    db.session.commit()
    assert count_visits() == 0
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "visit.undone"))
    assert event.actor == staff and event.details["card"] == card.number
    assert (event.details["children"], event.details["assistants"]) == (1, 1)
    assert db.session.scalars(select(VisitDay)).all() == []  # nor counted any more


def test_undo_after_ten_minutes_is_refused(place):
    venue, staff, card = place
    visit, _ = door.record_visit(
        venue=venue, user=staff, children=1, shown=door.Shown.scanned(cards.printed_token(card))
    )
    with pytest.raises(door.DoorError) as excinfo:
        door.undo_visit(visit.id, user=staff, moment=visit.recorded_at + timedelta(minutes=11))
    assert excinfo.value.code == "undo_window_passed"


def test_undo_at_another_venue_is_refused_as_not_found(place):
    venue, staff, card = place
    visit, _ = door.record_visit(
        venue=venue, user=staff, children=1, shown=door.Shown.scanned(cards.printed_token(card))
    )
    other = create_user("other@example.fi", Role.VENUE, [create_venue(venue.region, "Museo")])
    with pytest.raises(door.DoorError) as excinfo:
        door.undo_visit(visit.id, user=other)
    assert excinfo.value.code == "not_found"


def _record_concurrently(app, venue_id, staff_id, token, keys):
    """Record one visit per key, each in its own thread, request-like: own session, commit."""

    def record(key):
        venue = db.session.get(Organisation, venue_id)
        staff = db.session.get(User, staff_id)
        door.record_visit(
            venue=venue,
            user=staff,
            children=0,
            shown=door.Shown.scanned(token),
            idempotency_key=key,
        )

    return in_threads(app, *(lambda key=key: record(key) for key in keys))


def test_sixteen_concurrent_requests_with_the_same_key_store_one_visit(app, place):
    venue, staff, card = place
    errors = _record_concurrently(app, venue.id, staff.id, cards.printed_token(card), ["same"] * 16)
    assert errors == []
    assert count_visits() == 1


def test_sixteen_concurrent_requests_with_different_keys_store_sixteen(app, place):
    venue, staff, card = place
    keys = [f"key-{i}" for i in range(16)]
    errors = _record_concurrently(app, venue.id, staff.id, cards.printed_token(card), keys)
    assert errors == []
    assert count_visits() == 16


def _record(place, token, key=None, **kwargs):
    venue, staff, _card = place
    return door.record_visit(
        venue=venue,
        user=staff,
        children=kwargs.pop("children", 0),
        shown=door.Shown.scanned(token),
        idempotency_key=key,
        **kwargs,
    )


def test_a_garbage_token_with_a_used_key_does_not_get_the_stored_visit(place):
    venue, staff, card = place
    _record(place, cards.printed_token(card), "k")
    db.session.commit()
    with pytest.raises(door.DoorError) as excinfo:
        _record(place, "expired-or-garbled", "k")
    assert excinfo.value.code == "invalid_token"
    assert count_visits() == 1


def test_an_idempotency_key_reused_with_another_card_is_refused(place):
    venue, staff, card = place
    other = create_card(card.issuer)
    first, _ = _record(place, cards.printed_token(card), "k")
    db.session.commit()
    with pytest.raises(door.DoorError) as excinfo:
        _record(place, cards.printed_token(other), "k")
    assert excinfo.value.code == "idempotency_key_reused"
    again, created = _record(place, cards.printed_token(card), "k")  # the key's own card
    assert (again, created) == (first, False)
    assert count_visits() == 1


def test_the_same_key_at_another_venue_is_another_visit(place):
    venue, staff, card = place
    museum = create_venue(venue.region, "Museo")
    staff.organisations.append(museum)
    _record(place, cards.printed_token(card), "k")
    _, created = door.record_visit(
        venue=museum,
        user=staff,
        children=0,
        shown=door.Shown.scanned(cards.printed_token(card)),
        idempotency_key="k",
    )
    assert created and count_visits() == 2


def test_a_retried_post_after_an_undo_stays_undone(place):
    venue, staff, card = place
    visit, _ = _record(place, cards.printed_token(card), "k", children=1)
    db.session.commit()
    door.undo_visit(visit.id, user=staff)
    db.session.commit()
    with pytest.raises(door.DoorError) as excinfo:
        _record(place, cards.printed_token(card), "k", children=1)
    assert excinfo.value.code == "visit_undone"
    db.session.commit()
    assert count_visits() == 0
    assert rollup_totals() == (0, 0)


def test_an_undo_committed_while_the_visit_is_stored_leaves_nothing_stored(place):
    """The key's visit undone by another request between this one's read and its insert (an
    undo that overtook its visit, or a record and its undo at another door): the day's
    upsert sees the tombstone, and the visit is neither kept nor counted."""
    venue, staff, card = place

    tombstone = {"visit_id": 10**6, "venue_id": venue.id, "card_id": card.id}
    undone = []

    def undone_meanwhile(conn, cursor, statement, *args):
        if statement.startswith("INSERT INTO visit ") and not undone:
            undone.append(True)
            with db.engine.begin() as other:
                other.execute(insert(UndoneVisit).values(**tombstone, idempotency_key="k"))

    event.listen(db.engine, "before_cursor_execute", undone_meanwhile)
    try:
        with pytest.raises(door.DoorError) as excinfo:
            _record(place, cards.printed_token(card), "k", children=1)
    finally:
        event.remove(db.engine, "before_cursor_execute", undone_meanwhile)
    assert undone  # the undo came after the door's read
    assert excinfo.value.code == "visit_undone"
    db.session.commit()  # what a sync would commit with the rest of its batch
    assert count_visits() == 0
    assert rollup_totals() == (0, 0)
    assert db.session.get(type(card), card.id).first_used_on is None


def test_a_retried_delete_after_a_new_visit_does_not_delete_the_new_one(place):
    # SQLite would give the newest visit's id to the next one if the newest were deleted
    venue, staff, card = place
    first, _ = _record(place, cards.printed_token(card), "k1")
    db.session.commit()
    door.undo_visit(first.id, user=staff)
    db.session.commit()
    second, _ = _record(place, cards.printed_token(card), "k2", children=2)
    db.session.commit()
    assert second.id != first.id
    door.undo_visit(first.id, user=staff)  # the retry: already undone, nothing changes
    db.session.commit()
    assert db.session.scalars(select(Visit.id)).all() == [second.id]
    assert rollup_totals() == (1, 2)


def test_an_undo_and_a_retried_post_at_once_leave_the_visit_undone(app, place):
    venue, staff, card = place
    token, venue_id, staff_id = cards.printed_token(card), venue.id, staff.id
    for round_ in range(6):
        visit, _ = _record(place, token, f"k{round_}")
        db.session.commit()

        def undo(visit_id=visit.id):
            door.undo_visit(visit_id, user=db.session.get(User, staff_id))

        def retry(key=f"k{round_}"):
            door.record_visit(
                venue=db.session.get(Organisation, venue_id),
                user=db.session.get(User, staff_id),
                children=0,
                shown=door.Shown.scanned(token),
                idempotency_key=key,
            )

        errors = in_threads(app, undo, retry)
        assert {getattr(error, "code", repr(error)) for error in errors} <= {"visit_undone"}, errors
        assert count_visits() == 0, f"round {round_}"


def rollup_totals() -> tuple[int, int]:
    """Return the visits and children that the statistics' rollup counts."""
    row = db.session.execute(select(func.sum(VisitDay.visits), func.sum(VisitDay.children))).one()
    return (row[0] or 0, row[1] or 0)


@pytest.mark.parametrize("round_", range(5))
def test_two_doors_at_once_take_one_last_place_of_a_refusing_event(app, place, round_):
    venue, staff, card = place
    other = create_card(card.issuer)
    venue.quota_full_refuses = True
    event = Event(venue=venue, name="Ensi-ilta", starts_on=cards.today_in_finland(), quota=1)
    db.session.add(event)
    db.session.commit()
    venue_id, staff_id, event_id = venue.id, staff.id, event.id
    tokens = [cards.printed_token(card), cards.printed_token(other)]

    def record(token):
        def job():
            door.record_visit(
                venue=db.session.get(Organisation, venue_id),
                user=db.session.get(User, staff_id),
                children=0,
                shown=door.Shown.scanned(token),
                event=db.session.get(Event, event_id),
            )

        return job

    errors = in_threads(app, *(record(token) for token in tokens))
    assert [getattr(error, "code", error) for error in errors] == ["quota_full"]
    assert count_visits() == 1


# --- a community card: an organisation's worker with a group of clients under 16 ------------


@pytest.fixture
def group_card(place):
    """The venue, its staff and a community card for a worker and at most 5 clients."""
    venue, staff, personal = place
    card = cards.issue_card(
        issuer=personal.issuer,
        actor=None,
        kind=CardKind.COMMUNITY,
        children=5,
        today=personal.valid_from,
    )
    db.session.commit()
    return venue, staff, card


def record_group(group_card, clients: int):
    venue, staff, card = group_card
    shown = door.Shown.scanned(cards.printed_token(card))
    return door.record_visit(shown, venue=venue, user=staff, children=clients)


def test_a_community_card_verifies_as_one_with_its_group_limit(group_card):
    venue, _, card = group_card
    result = door.verify(door.Shown.typed(card.printed_number), venue)
    assert result.reason is Reason.OK and result.max_children == 5
    assert result.card.kind is CardKind.COMMUNITY and result.card.is_community


@pytest.mark.parametrize("clients", [0, 1, 5])
def test_a_community_cards_group_within_its_limit_is_the_worker_and_the_clients(
    group_card, clients
):
    visit, created = record_group(group_card, clients)
    db.session.commit()
    stored = db.session.get(Visit, visit.id)
    assert created and (stored.adults, stored.children) == (1, clients)
    day = db.session.get(VisitDay, (stored.venue_id, stored.day))
    assert (day.visits, day.adults, day.children) == (1, 1, clients)


def test_a_community_cards_group_above_its_limit_is_refused_and_records_nothing(group_card):
    with pytest.raises(door.DoorError) as excinfo:
        record_group(group_card, 6)
    assert excinfo.value.code == "too_many_children"
    assert excinfo.value.verdict.card.is_community and excinfo.value.verdict.max_children == 5
    assert count_visits() == 0


def test_at_a_course_provider_a_community_card_admits_its_worker_alone(group_card):
    venue, _, card = group_card
    venue.course_provider = True
    result = door.verify(door.Shown.scanned(cards.printed_token(card)), venue)
    assert result.reason is Reason.OK and result.max_children == 0
    with pytest.raises(door.DoorError) as excinfo:
        record_group(group_card, 1)
    assert excinfo.value.code == "children_not_allowed"
    visit, _ = record_group(group_card, 0)
    assert (visit.adults, visit.children) == (1, 0)


class TestEventsInUse:
    """The events the door takes and the chooser offers: active and not over, the night
    after an event's last day included, an open-ended standing offer for as long as it runs."""

    @pytest.fixture
    def at(self, monkeypatch):
        """Fix the door's clock at a Finnish day and time; return the day."""

        def at(clock: time, days: int = 0) -> date:
            day = cards.today_in_finland() + timedelta(days=days)
            moment = finnish_moment(day, clock)
            monkeypatch.setattr(door, "utcnow", lambda: moment)
            return day

        return at

    def in_use(self, venue, event) -> bool:
        listed = event.id in {e.id for e in door.coming_events(venue.id)}
        taken = door.event_at(venue.id, event.id) is not None
        assert listed == taken  # the chooser offers what the door takes
        return taken

    def event(self, venue, **fields) -> Event:
        event = Event(venue=venue, name="Ilta", **fields)
        db.session.add(event)
        db.session.commit()
        return event

    @pytest.mark.parametrize(
        ("clock", "used"), [(time(0, 30), True), (time(4, 59), True), (time(5, 1), False)]
    )
    def test_the_night_after_its_day_is_in_use_until_five(self, place, at, clock, used):
        venue, _, _ = place
        today = at(clock)
        night = self.event(venue, starts_on=today - timedelta(days=1))
        assert self.in_use(venue, night) is used
        assert self.in_use(venue, self.event(venue, starts_on=today)) is True
        older = self.event(venue, starts_on=today - timedelta(days=2))
        assert self.in_use(venue, older) is False

    def test_a_course_until_its_term_ends_and_the_future_too(self, place, at):
        venue, _, _ = place
        today = at(time(12))
        term = self.event(venue, starts_on=today - timedelta(days=30), ends_on=today)
        coming = self.event(venue, starts_on=today + timedelta(days=30))
        assert self.in_use(venue, term) and self.in_use(venue, coming)
        at(time(12), days=1)
        assert not self.in_use(venue, term) and self.in_use(venue, coming)

    def test_an_open_ended_standing_offer_runs_on(self, place, at):
        venue, _, _ = place
        today = at(time(12))
        weeks_ago = today - timedelta(days=21)
        open_ended = self.event(venue, kind=OfferKind.STANDING, starts_on=weeks_ago)
        ended = self.event(
            venue, kind=OfferKind.STANDING, starts_on=weeks_ago, ends_on=today - timedelta(2)
        )
        assert self.in_use(venue, open_ended) and not self.in_use(venue, ended)

    def test_a_deactivated_event_is_not(self, place, at):
        venue, _, _ = place
        event = self.event(venue, starts_on=at(time(12)), active=False)
        assert not self.in_use(venue, event)
        assert door.event_at(venue.id, event.id, in_use=False) == event
