"""The door decision, tested as a pure function on unsaved model objects."""

from datetime import UTC, date, datetime

import pytest

from webapp.models import Card, NetworkMembership, Organisation, OrganisationKind, Region
from webapp.rules import Reason, WarningCode, children_reason, helsinki_date, verdict

NOON = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)  # 12:00 in Helsinki


def region(code, since=date(2020, 1, 1), until=None):
    r = Region(code=code, name=code)
    r.id = hash(code) % 1000
    if since is not None:
        r.memberships = [NetworkMembership(starts_on=since, ends_on=until)]
    return r


SAVO = region("pohjois-savo")
KAINUU = region("kainuu")


def venue(home=SAVO, **flags):
    org = Organisation(kind=OrganisationKind.VENUE, name="Teatteri", region=home, **flags)
    org.region_id = home.id
    for flag in ("course_provider", "home_region_only", "quota_full_refuses"):
        setattr(org, flag, flags.get(flag, False))
    return org


def card(home=SAVO, **fields):
    values = dict(
        number="K7MX4PQ2D",
        generation=1,
        children=2,
        valid_from=date(2026, 1, 1),
        valid_until=date(2026, 12, 31),
        revoked=False,
    )
    values.update(fields)
    c = Card(region=home, **values)
    c.region_id = home.id
    return c


def decide(c, v=None, moment=NOON, generation=None, **facts):
    return verdict(
        c, c.generation if generation is None else generation, v or venue(), moment, **facts
    )


def test_active_card_is_accepted_with_its_children():
    result = decide(card())
    assert result.reason is Reason.OK and result.valid
    assert result.max_children == 2 and result.children_allowed
    assert result.warnings == ()


def test_unknown_card():
    result = verdict(None, 1, venue(), NOON)
    assert result.reason is Reason.UNKNOWN_CARD and result.card is None and not result.valid


def test_revoked_card_is_refused():
    assert decide(card(revoked=True)).reason is Reason.REVOKED


def test_older_generation_of_a_reissued_card_is_replaced():
    assert decide(card(generation=3), generation=2).reason is Reason.REPLACED


def test_newer_generation_than_the_card_has_is_not_genuine():
    assert decide(card(generation=1), generation=2).reason is Reason.INVALID_TOKEN


def test_expired_card():
    assert decide(card(valid_until=date(2026, 6, 14))).reason is Reason.EXPIRED


def test_card_not_yet_valid():
    assert decide(card(valid_from=date(2026, 6, 16))).reason is Reason.NOT_YET_VALID


def test_card_of_a_region_outside_the_network_is_not_accepted():
    lappi = region("lappi", since=date(2027, 1, 1))
    assert decide(card(home=lappi)).reason is Reason.REGION_NOT_ACCEPTED


def test_card_of_a_region_that_left_the_network_is_not_accepted():
    left = region("left", since=date(2020, 1, 1), until=date(2026, 5, 31))
    assert decide(card(home=left)).reason is Reason.REGION_NOT_ACCEPTED


def test_venue_of_a_region_outside_the_network_does_not_accept_cards():
    outside = region("outside", since=None)
    assert decide(card(), venue(home=outside)).reason is Reason.REGION_NOT_ACCEPTED


def test_card_of_another_network_region_is_accepted():
    assert decide(card(home=KAINUU)).reason is Reason.OK


def test_home_region_only_venue_refuses_other_regions_cards():
    assert decide(card(home=KAINUU), venue(home_region_only=True)).reason is Reason.HOME_REGION_ONLY
    assert decide(card(), venue(home_region_only=True)).reason is Reason.OK


def test_course_provider_refuses_children():
    result = decide(card(children=3), venue(course_provider=True))
    assert result.valid and result.max_children == 0 and not result.children_allowed
    assert children_reason(result, 1) is Reason.CHILDREN_NOT_ALLOWED
    assert children_reason(result, 0) is None


def test_children_beyond_the_registered_number_are_refused():
    result = decide(card(children=2))
    assert children_reason(result, 2) is None
    assert children_reason(result, 3) is Reason.TOO_MANY_CHILDREN


def test_card_without_registered_children_brings_none():
    assert children_reason(decide(card(children=0)), 1) is Reason.CHILDREN_NOT_ALLOWED


def test_second_visit_today_is_a_warning_not_a_refusal():
    result = decide(card(), visited_today=True)
    assert result.valid and result.warnings == (WarningCode.VISITED_TODAY,)


def test_a_typed_number_is_accepted_with_a_look_at_the_card():
    result = decide(card(), typed=True)
    assert result.reason is Reason.OK and result.warnings == (WarningCode.CHECK_CARD,)
    both = decide(card(), typed=True, visited_today=True)
    assert both.warnings == (WarningCode.VISITED_TODAY, WarningCode.CHECK_CARD)
    assert decide(card(revoked=True), typed=True).warnings == ()  # a refusal warns of nothing


def test_full_quota_warns_or_refuses_as_the_venue_chooses():
    warned = decide(card(), venue(quota_full_refuses=False), quota_full=True)
    assert warned.valid and warned.warnings == (WarningCode.QUOTA_FULL,)
    refused = decide(card(), venue(quota_full_refuses=True), quota_full=True)
    assert refused.reason is Reason.QUOTA_FULL and not refused.valid


@pytest.mark.parametrize(
    ("fields", "generation", "expected"),
    [
        ({"revoked": True, "generation": 2, "valid_until": date(2026, 1, 1)}, 1, Reason.REVOKED),
        ({"generation": 2, "valid_until": date(2026, 1, 1)}, 1, Reason.REPLACED),
        ({"valid_until": date(2026, 1, 1), "home": region("x", since=None)}, 1, Reason.EXPIRED),
        (
            {"valid_from": date(2026, 7, 1), "home": region("y", since=None)},
            1,
            Reason.NOT_YET_VALID,
        ),
        ({"home": region("z", since=None)}, 1, Reason.REGION_NOT_ACCEPTED),
    ],
)
def test_precedence_of_reasons(fields, generation, expected):
    result = decide(card(**fields), venue(home_region_only=True), generation=generation)
    assert result.reason is expected


def test_region_rule_comes_before_home_region_only():
    outside = region("outside", since=None)
    assert decide(card(home=outside), venue(home_region_only=True)).reason is (
        Reason.REGION_NOT_ACCEPTED
    )


def test_card_valid_until_new_years_eve_works_until_midnight_in_finland():
    c = card(valid_until=date(2026, 12, 31))
    just_before = datetime(2026, 12, 31, 21, 59, 59, tzinfo=UTC)  # 23:59:59 in Helsinki
    at_midnight = datetime(2026, 12, 31, 22, 0, 0, tzinfo=UTC)  # 00:00 on 1 January
    assert decide(c, moment=just_before).reason is Reason.OK
    assert decide(c, moment=at_midnight).reason is Reason.EXPIRED


def test_card_becomes_valid_at_midnight_in_finland_in_summer_time():
    c = card(valid_from=date(2026, 6, 16))
    assert decide(c, moment=datetime(2026, 6, 15, 20, 59, tzinfo=UTC)).reason is (
        Reason.NOT_YET_VALID
    )
    assert decide(c, moment=datetime(2026, 6, 15, 21, 0, tzinfo=UTC)).reason is Reason.OK


def test_helsinki_date():
    assert helsinki_date(datetime(2026, 3, 31, 21, 30, tzinfo=UTC)) == date(2026, 4, 1)
    assert helsinki_date(datetime(2026, 3, 31, 20, 30, tzinfo=UTC)) == date(2026, 3, 31)
