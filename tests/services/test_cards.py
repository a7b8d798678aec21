from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp import tokens
from webapp.extensions import db
from webapp.models import AuditEvent, CardKind, RevokeReason, Role
from webapp.rules import Reason
from webapp.services import cards, door

from ..factories import create_distributor, create_region, create_user, create_venue

TODAY = date(2026, 11, 28)


@pytest.fixture
def issuer():
    org = create_distributor(create_region())
    db.session.flush()
    return org


def issue(issuer, **fields):
    values = dict(actor=None, birth_year=1980, postcode="70100", children=1, today=TODAY)
    values.update(fields)
    return cards.issue_card(issuer=issuer, **values)


def test_card_is_valid_for_one_year_from_issue(issuer):
    card = issue(issuer)
    assert (card.valid_from, card.valid_until) == (TODAY, date(2027, 11, 28))
    assert card.region == issuer.region
    assert card.generation == 1 and not card.revoked


def test_holder_turning_16_this_year_may_have_a_card(issuer):
    assert issue(issuer, birth_year=2010).birth_year == 2010


def test_holder_turning_15_this_year_is_too_young(issuer):
    with pytest.raises(cards.CardError) as excinfo:
        issue(issuer, birth_year=2011)
    assert excinfo.value.code == "holder_too_young"
    assert excinfo.value.field == "birth_year"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"postcode": "7010"}, "invalid_postcode"),
        ({"postcode": "7010a"}, "invalid_postcode"),
        ({"postcode": "７０１００"}, "invalid_postcode"),
        ({"children": 21}, "invalid_children"),
        ({"children": -1}, "invalid_children"),
        ({"birth_year": 1899}, "invalid_birth_year"),
        ({"birth_year": 2027}, "invalid_birth_year"),
        ({"valid_until": date(2026, 11, 27)}, "invalid_valid_until"),
    ],
)
def test_bad_input_is_refused_with_a_code(issuer, fields, code):
    with pytest.raises(cards.CardError) as excinfo:
        issue(issuer, **fields)
    assert excinfo.value.code == code


def test_validity_is_capped_by_the_regions_pilot_end(issuer):
    issuer.region.pilot_ends_on = date(2027, 5, 31)
    assert issue(issuer).valid_until == date(2027, 5, 31)


def test_renew_extends_validity_a_year_from_today(issuer):
    card = issue(issuer, today=date(2025, 12, 1))
    cards.renew_card(card, actor=None, today=TODAY)
    assert card.valid_until == date(2027, 11, 28)


def test_renewal_corrects_a_mistyped_number_of_children_and_postcode(issuer):
    card = issue(issuer, children=1, postcode="70100", today=date(2025, 12, 1))
    cards.renew_card(card, actor=None, children=3, postcode="70200", today=TODAY)
    assert (card.valid_until, card.children, card.postcode) == (date(2027, 11, 28), 3, "70200")
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["card.issued", "card.renewed", "card.corrected"]


def test_renewal_without_corrections_keeps_children_and_postcode(issuer):
    card = issue(issuer, children=2, postcode="70100")
    cards.renew_card(card, actor=None, today=TODAY)
    assert (card.children, card.postcode) == (2, "70100")
    assert "card.corrected" not in db.session.scalars(select(AuditEvent.action)).all()


@pytest.mark.parametrize(
    ("children", "postcode", "code"),
    [
        (21, "70100", "invalid_children"),
        (-1, "70100", "invalid_children"),
        (1, "7010", "invalid_postcode"),
        (1, "７０１００", "invalid_postcode"),
    ],
)
def test_correction_outside_the_rules_is_refused(issuer, children, postcode, code):
    card = issue(issuer)
    with pytest.raises(cards.CardError) as excinfo:
        cards.correct_card(card, actor=None, children=children, postcode=postcode)
    assert excinfo.value.code == code
    assert (card.children, card.postcode) == (1, "70100")


def test_a_correction_logs_only_what_changed(issuer):
    card = issue(issuer, children=1)
    cards.correct_card(card, actor=None, children=0, postcode="70100")
    cards.correct_card(card, actor=None, children=0, postcode="70100")  # nothing new
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "card.corrected"))
    assert event.details == {"children": 0}


def test_revoked_card_cannot_be_renewed_or_reissued(issuer):
    card = issue(issuer)
    cards.revoke_card(card, actor=None, reason=RevokeReason.MISUSE)
    for change in (cards.renew_card, cards.reissue_card):
        with pytest.raises(cards.CardError) as excinfo:
            change(card, actor=None)
        assert excinfo.value.code == "revoked"


def test_every_change_writes_an_audit_event(issuer):
    actor = create_user("jakaja@example.fi", Role.DISTRIBUTOR, [issuer])
    card = issue(issuer, actor=actor)
    cards.renew_card(card, actor=actor, today=TODAY)
    cards.change_validity(card, actor=actor, valid_until=date(2028, 1, 1))
    cards.reissue_card(card, actor=actor)
    cards.move_digital_card(card, actor=actor)
    cards.revoke_card(card, actor=actor, reason=RevokeReason.LOST)
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == [
        "card.issued",
        "card.renewed",
        "card.validity_changed",
        "card.reissued",
        "card.digital_moved",
        "card.revoked",
    ]
    assert {(e.actor, e.object_id) for e in events} == {(actor, card.number)}
    assert events[-1].details == {"reason": "lost"}
    assert events[0].details["key_id"] == cards.signing_key_id()


def test_reissued_card_keeps_its_number_and_the_old_token_is_replaced(app, issuer):
    venue = create_venue(issuer.region)
    card = issue(issuer, today=None)
    old = cards.printed_token(card)
    cards.reissue_card(card, actor=None)
    new = cards.printed_token(card)
    assert tokens.parse(new, app.config["CARD_SIGNING_KEYS"]).number == card.number
    assert door.verify(door.Shown.scanned(old), venue).reason is Reason.REPLACED
    assert door.verify(door.Shown.scanned(new), venue).reason is Reason.OK


def test_moving_the_digital_card_gives_a_new_link(issuer):
    card = issue(issuer)
    card.digital_device = "bound"
    old_key = card.digital_key
    cards.move_digital_card(card, actor=None)
    assert card.digital_key != old_key and card.digital_device is None


def test_distributor_sees_only_own_organisations_cards(issuer):
    other = create_distributor(issuer.region, "Toinen")
    own_card, other_card = issue(issuer), issue(other)
    staff = create_user("a@example.fi", Role.DISTRIBUTOR, [issuer])
    assert cards.find_card(own_card.number, staff) == own_card
    assert cards.find_card(other_card.number, staff) is None


def test_coordinator_sees_own_regions_cards_only(issuer):
    kainuu = create_region("kainuu")
    far_card = issue(create_distributor(kainuu, "Kajaani"))
    own_card = issue(issuer)
    coordinator = create_user("k@example.fi", Role.COORDINATOR, region=issuer.region)
    assert cards.find_card(own_card.number, coordinator) == own_card
    assert cards.find_card(far_card.number, coordinator) is None


def test_find_card_is_tolerant_of_case_spaces_and_dashes(issuer):
    card = issue(issuer)
    staff = create_user("a@example.fi", Role.DISTRIBUTOR, [issuer])
    typed = f" {card.number[:3].lower()}-{card.number[3:6]} {card.number[6:]} "
    assert cards.find_card(typed, staff) == card


def test_find_card_with_a_typo_finds_nothing(issuer):
    card = issue(issuer)
    staff = create_user("a@example.fi", Role.DISTRIBUTOR, [issuer])
    typo = card.number[:4] + ("2" if card.number[4] != "2" else "3") + card.number[5:]
    assert cards.find_card(typo, staff) is None


def issue_ending(issuer, days: int):
    """Issue a card whose last day of validity is ``days`` after TODAY (negative: before)."""
    card = issue(issuer, today=TODAY - timedelta(days=400))
    card.valid_until = TODAY + timedelta(days=days)  # as renewals over the years left it
    return card


def due(staff) -> list:
    return db.session.scalars(cards.due_for_renewal(staff, TODAY)).all()


def test_renewal_worklist_holds_cards_ending_within_30_days_or_ended_within_60(issuer):
    ending = {days: issue_ending(issuer, days) for days in (31, 30, 0, -1, -60, -61, 200)}
    staff = create_user("a@example.fi", Role.DISTRIBUTOR, [issuer])
    assert due(staff) == [ending[-60], ending[-1], ending[0], ending[30]]  # earliest first


def test_renewal_worklist_leaves_out_revoked_and_other_organisations_cards(issuer):
    own = issue_ending(issuer, 5)
    revoked = issue_ending(issuer, 5)
    cards.revoke_card(revoked, actor=None, reason=RevokeReason.LOST)
    issue_ending(create_distributor(issuer.region, "Toinen"), 5)
    staff = create_user("a@example.fi", Role.DISTRIBUTOR, [issuer])
    assert due(staff) == [own]


def test_renewal_worklist_covers_every_organisation_of_the_staff_member(issuer):
    second = create_distributor(issuer.region, "Toinen")
    both = [issue_ending(issuer, -10), issue_ending(second, 10)]
    staff = create_user("a@example.fi", Role.DISTRIBUTOR, [issuer, second])
    assert due(staff) == both


def test_a_renewed_card_leaves_the_renewal_worklist(issuer):
    card = issue_ending(issuer, -20)
    staff = create_user("a@example.fi", Role.DISTRIBUTOR, [issuer])
    cards.renew_card(card, actor=staff, today=TODAY)
    assert due(staff) == []


# --- community cards ------------------------------------------------------------------------


def issue_community(issuer, **fields):
    values = dict(actor=None, kind=CardKind.COMMUNITY, children=5, today=TODAY)
    values.update(fields)
    return cards.issue_card(issuer=issuer, **values)


def test_a_community_card_is_the_organisations_and_stores_nothing_of_a_person(issuer):
    card = issue_community(issuer)
    db.session.flush()
    assert card.kind is CardKind.COMMUNITY and card.issuer == issuer
    assert (card.birth_year, card.postcode, card.children) == (None, None, 5)
    assert (card.valid_from, card.valid_until) == (TODAY, date(2027, 11, 28))


@pytest.mark.parametrize("field", ["birth_year", "postcode"])
def test_a_community_card_refuses_a_birth_year_or_postcode(issuer, field):
    given = {"birth_year": 1980, "postcode": "70100"}[field]
    with pytest.raises(cards.CardError) as excinfo:
        issue_community(issuer, **{field: given})
    assert (excinfo.value.code, excinfo.value.field) == ("not_on_community_card", field)


@pytest.mark.parametrize(("children", "accepted"), [(0, False), (1, True), (15, True), (16, False)])
def test_a_community_cards_group_is_1_to_15_clients(issuer, children, accepted):
    if accepted:
        assert issue_community(issuer, children=children).children == children
        return
    with pytest.raises(cards.CardError) as excinfo:
        issue_community(issuer, children=children)
    assert (excinfo.value.code, excinfo.value.values) == ("invalid_children", {"min": 1, "max": 15})


@pytest.mark.parametrize("missing", ["birth_year", "postcode"])
def test_a_personal_card_still_needs_the_birth_year_and_postcode(issuer, missing):
    with pytest.raises(cards.CardError) as excinfo:
        issue(issuer, **{missing: None})
    assert (excinfo.value.code, excinfo.value.field) == ("required", missing)


def test_the_database_refuses_a_community_card_with_a_persons_details(issuer):
    card = issue_community(issuer)
    db.session.flush()
    card.postcode = "70100"
    with pytest.raises(IntegrityError):
        db.session.flush()


def test_a_community_card_renews_corrects_its_group_reissues_and_revokes(issuer):
    venue = create_venue(issuer.region)
    card = issue_community(issuer, today=TODAY - timedelta(days=300))
    cards.renew_card(card, actor=None, today=TODAY)
    assert card.valid_until == date(2027, 11, 28) and card.postcode is None
    cards.correct_card(card, actor=None, children=3, postcode=None)
    assert card.children == 3
    card = cards.renew_card(card, actor=None)  # valid from today on, so that it verifies
    old = cards.printed_token(card)
    cards.reissue_card(card, actor=None)
    new = cards.printed_token(card)
    assert door.verify(door.Shown.scanned(old), venue).reason is Reason.REPLACED
    assert door.verify(door.Shown.scanned(new), venue).reason is Reason.OK
    cards.revoke_card(card, actor=None, reason=RevokeReason.MISUSE)
    assert door.verify(door.Shown.scanned(new), venue).reason is Reason.REVOKED


@pytest.mark.parametrize(
    ("children", "postcode", "code"),
    [
        (16, None, "invalid_children"),
        (0, None, "invalid_children"),
        (3, "70100", "not_on_community_card"),
    ],
)
def test_a_community_cards_correction_keeps_its_rules(issuer, children, postcode, code):
    card = issue_community(issuer)
    with pytest.raises(cards.CardError) as excinfo:
        cards.correct_card(card, actor=None, children=children, postcode=postcode)
    assert excinfo.value.code == code
    assert (card.children, card.postcode) == (5, None)


def test_the_renewal_worklist_holds_community_cards_too(issuer):
    personal = issue_ending(issuer, 10)
    community = issue_community(issuer, today=TODAY - timedelta(days=400))
    community.valid_until = TODAY - timedelta(days=5)
    staff = create_user("a@example.fi", Role.DISTRIBUTOR, [issuer])
    assert due(staff) == [community, personal]
