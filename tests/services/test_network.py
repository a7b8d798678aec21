"""Running the network: regions, venues, events, people and their invitations."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import ApiToken, AuditEvent, OrganisationKind, Role, VenueCategory, utcnow
from webapp.rules import Reason, WarningCode
from webapp.services import accounts, cards, door, network

from ..factories import create_card, create_distributor, create_region, create_user, create_venue


@pytest.fixture
def world():
    savo = create_region("pohjois-savo")
    kainuu = create_region("kainuu")
    teatteri = create_venue(savo, "Teatteri")
    kajaani = create_venue(kainuu, "Kajaanin teatteri")
    jakaja = create_distributor(savo)
    coordinator = create_user("koordinaattori@example.fi", Role.COORDINATOR, region=savo)
    admin = create_user("admin@example.fi", Role.ADMIN)
    db.session.commit()
    return {
        "savo": savo,
        "kainuu": kainuu,
        "teatteri": teatteri,
        "kajaani": kajaani,
        "jakaja": jakaja,
        "coordinator": coordinator,
        "admin": admin,
    }


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(network.NetworkError) as excinfo:
        call(*args, **kwargs)
    return excinfo.value.code


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


# --- scoping ------------------------------------------------------------------------------


def test_coordinator_sees_only_their_region(world):
    coordinator = world["coordinator"]
    orgs = db.session.scalars(network.organisations_visible_to(coordinator)).all()
    assert world["kajaani"] not in orgs and world["teatteri"] in orgs
    assert network.find_visible(network.regions_visible_to(coordinator), world["kainuu"].id) is None
    visible_people = db.session.scalars(network.people_visible_to(coordinator)).all()
    assert world["admin"] not in visible_people


def test_admin_sees_everything(world):
    orgs = db.session.scalars(network.organisations_visible_to(world["admin"])).all()
    assert {world["kajaani"], world["teatteri"], world["jakaja"]} <= set(orgs)
    assert len(db.session.scalars(network.regions_visible_to(world["admin"])).all()) == 2


# --- regions ------------------------------------------------------------------------------


def test_only_an_admin_adds_regions(world):
    kw = {"code": "lappi", "name": "Lappi"}
    assert error_code(network.create_region, actor=world["coordinator"], **kw) == "admin_only"
    region = network.create_region(actor=world["admin"], **kw)
    assert region.code == "lappi" and actions()[-1] == "region.created"
    assert error_code(network.create_region, actor=world["admin"], **kw) == "code_taken"
    bad = {"code": "Lappi ja Kainuu", "name": "x"}
    assert error_code(network.create_region, actor=world["admin"], **bad) == "invalid_code"


def test_membership_periods_may_not_overlap(world):
    region = network.create_region(actor=world["admin"], code="lappi", name="Lappi")
    network.add_membership(
        region, actor=world["admin"], starts_on=date(2025, 1, 1), ends_on=date(2025, 12, 31)
    )
    assert region.in_network_on(date(2025, 6, 1)) and not region.in_network_on(date(2026, 1, 1))
    overlap = {"starts_on": date(2025, 12, 1)}
    assert error_code(network.add_membership, region, actor=world["admin"], **overlap) == (
        "membership_overlap"
    )
    backwards = {"starts_on": date(2026, 2, 1), "ends_on": date(2026, 1, 1)}
    assert error_code(network.add_membership, region, actor=world["admin"], **backwards) == (
        "invalid_period"
    )
    later = network.add_membership(region, actor=world["admin"], starts_on=date(2027, 1, 1))
    assert region.in_network_on(date(2030, 1, 1))
    assert error_code(network.remove_membership, later, actor=world["coordinator"]) == "admin_only"
    network.remove_membership(later, actor=world["admin"])
    assert not region.in_network_on(date(2030, 1, 1))


# --- organisations ------------------------------------------------------------------------


def venue_fields(region, **extra):
    return {
        "kind": OrganisationKind.VENUE,
        "region": region,
        "name": "Kuopion museo",
        "category": VenueCategory.SCIENCE,
        **extra,
    }


def test_coordinator_adds_a_venue_in_their_region(world):
    venue = network.save_organisation(
        None, actor=world["coordinator"], **venue_fields(world["savo"])
    )
    assert venue.is_venue and venue.category is VenueCategory.SCIENCE and venue.active
    assert actions()[-1] == "organisation.created"


def test_coordinator_cannot_add_or_move_venues_elsewhere(world):
    coordinator = world["coordinator"]
    fields = venue_fields(world["kainuu"])
    assert error_code(network.save_organisation, None, actor=coordinator, **fields) == (
        "not_your_region"
    )
    kajaani = world["kajaani"]
    fields = venue_fields(world["savo"], name="Kajaanin teatteri")
    assert error_code(network.save_organisation, kajaani, actor=coordinator, **fields) == (
        "not_your_region"
    )


def test_venue_needs_a_category_and_a_unique_name(world):
    coordinator = world["coordinator"]
    no_category = venue_fields(world["savo"], category=None)
    assert error_code(network.save_organisation, None, actor=coordinator, **no_category) == (
        "category_required"
    )
    taken = venue_fields(world["savo"], name=" teatteri ")
    assert error_code(network.save_organisation, None, actor=coordinator, **taken) == "name_taken"
    # the same name in another region is fine
    network.save_organisation(None, actor=world["admin"], **venue_fields(world["kainuu"]))


def test_distributor_never_keeps_venue_settings(world):
    org = network.save_organisation(
        None,
        actor=world["coordinator"],
        kind=OrganisationKind.DISTRIBUTOR,
        region=world["savo"],
        name="Järjestö ry",
        category=VenueCategory.SPORT,
        course_provider=True,
    )
    assert org.category is None and not org.course_provider


# --- events and their quota at the door ---------------------------------------------------


def test_event_only_at_a_venue_in_the_region(world):
    kw = {"name": "Joulukonsertti", "starts_on": date(2025, 12, 20), "quota": 10}
    assert error_code(
        network.save_event, None, actor=world["coordinator"], venue=world["kajaani"], **kw
    ) == ("not_your_region")
    assert error_code(
        network.save_event, None, actor=world["coordinator"], venue=world["jakaja"], **kw
    ) == ("not_a_venue")
    bad_quota = {**kw, "quota": -1}
    assert error_code(
        network.save_event, None, actor=world["coordinator"], venue=world["teatteri"], **bad_quota
    ) == ("invalid_quota")
    event = network.save_event(None, actor=world["coordinator"], venue=world["teatteri"], **kw)
    assert event.quota == 10 and network.event_usage(event) == 0


@pytest.mark.parametrize("refuses", [False, True])
def test_full_quota_warns_or_refuses_as_the_venue_chose(world, refuses):
    venue = world["teatteri"]
    network.save_organisation(
        venue,
        actor=world["coordinator"],
        kind=OrganisationKind.VENUE,
        region=world["savo"],
        name=venue.name,
        category=VenueCategory.CULTURE,
        quota_full_refuses=refuses,
    )
    event = network.save_event(
        None, actor=world["coordinator"], venue=venue, name="Ensi-ilta", starts_on=date.today()
    )
    event.quota = 1
    first, second = create_card(world["jakaja"]), create_card(world["jakaja"])
    db.session.commit()
    token = cards.printed_token(second)
    assert door.verify(door.Shown.scanned(token), venue, event=event).warnings == ()
    door.record_visit(
        venue=venue,
        user=None,
        children=0,
        shown=door.Shown.scanned(cards.printed_token(first)),
        event=event,
    )
    assert network.event_usage(event) == 1
    verdict = door.verify(door.Shown.scanned(token), venue, event=event)
    if refuses:
        assert verdict.reason is Reason.QUOTA_FULL and not verdict.valid
    else:
        assert verdict.valid and WarningCode.QUOTA_FULL in verdict.warnings
    # without the event, or with a quota of none, the card is accepted as usual
    assert door.verify(door.Shown.scanned(token), venue).valid
    event.quota = None
    assert door.verify(door.Shown.scanned(token), venue, event=event).warnings == ()


# --- people -------------------------------------------------------------------------------


def invite(world, actor="coordinator", **extra):
    fields = {
        "email": " Uusi.Ovi@Example.fi ",
        "role": Role.VENUE,
        "region": world["savo"],
        "organisations": [world["teatteri"]],
        **extra,
    }
    return network.invite_person(actor=world[actor], **fields)


def test_invited_person_sets_a_password_once(world):
    user, token = invite(world)
    assert user.email == "uusi.ovi@example.fi" and user.password_hash is None
    assert user.invite_hash != token and len(user.invite_hash) == 64
    assert accounts.authenticate("uusi.ovi@example.fi", "anything-long") is None
    assert network.person_for_invite(token) == user
    assert error_code(network.accept_invite, token, "short") == "password_too_short"
    network.accept_invite(token, "hyvä-salasana-123")
    assert accounts.authenticate("uusi.ovi@example.fi", "hyvä-salasana-123") == user
    assert network.person_for_invite(token) is None
    assert error_code(network.accept_invite, token, "toinen-salasana") == "invalid_invite"
    assert actions()[-2:] == ["user.invited", "user.invite_accepted"]


def test_invitation_expires_and_can_be_renewed(world):
    user, token = invite(world)
    later = utcnow() + network.INVITE_VALID_FOR + timedelta(minutes=1)
    assert network.person_for_invite(token, now=later) is None
    new_token = network.renew_invite(user, actor=world["coordinator"])
    assert network.person_for_invite(token) is None
    assert network.person_for_invite(new_token) == user


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"email": "not-an-address"}, "invalid_email"),
        ({"email": "koordinaattori@example.fi"}, "email_taken"),
        ({"organisations": []}, "organisation_required"),
        ({"organisations": ["jakaja"]}, "wrong_organisation"),
        ({"organisations": ["kajaani"]}, "wrong_organisation"),
        ({"region": "kainuu", "organisations": ["kajaani"]}, "not_your_region"),
        ({"role": Role.ADMIN, "organisations": []}, "admin_only"),
        ({"role": Role.COORDINATOR}, "no_organisations_for_role"),
    ],
)
def test_coordinator_invitation_rules(world, extra, code):
    if "organisations" in extra:
        extra["organisations"] = [world[name] for name in extra["organisations"]]
    if "region" in extra:
        extra["region"] = world[extra["region"]]
    assert error_code(invite, world, **extra) == code


def test_admin_invites_anyone_anywhere(world):
    user, _ = invite(world, "admin", region=world["kainuu"], organisations=[world["kajaani"]])
    assert user.region == world["kainuu"]
    admin, _ = invite(world, "admin", email="toinen@example.fi", role=Role.ADMIN, organisations=[])
    assert admin.region is None


def test_update_person_changes_role_and_organisations(world):
    user, _ = invite(world)
    network.update_person(
        user, actor=world["coordinator"], role=Role.DISTRIBUTOR, organisations=[world["jakaja"]]
    )
    assert user.role is Role.DISTRIBUTOR and user.organisations == [world["jakaja"]]
    assert error_code(
        network.update_person,
        world["coordinator"],
        actor=world["coordinator"],
        role=Role.VENUE,
        organisations=[world["teatteri"]],
    ) == ("cannot_change_own_role")


def test_deactivated_person_loses_tokens_and_invitation_at_once(world):
    user, token = invite(world)
    api_token = accounts.create_api_token(user)
    db.session.flush()
    assert accounts.user_for_api_token(api_token) == user
    network.deactivate_person(user, actor=world["coordinator"])
    assert not user.active
    assert accounts.user_for_api_token(api_token) is None
    assert network.person_for_invite(token) is None
    assert db.session.scalar(select(ApiToken.revoked_at).where(ApiToken.user_id == user.id))
    network.reactivate_person(user, actor=world["coordinator"])
    assert accounts.user_for_api_token(api_token) is None  # old tokens stay revoked
    assert actions()[-2:] == ["user.deactivated", "user.reactivated"]


def test_nobody_deactivates_themselves_or_people_elsewhere(world):
    coordinator = world["coordinator"]
    assert error_code(network.deactivate_person, coordinator, actor=coordinator) == (
        "cannot_deactivate_self"
    )
    assert error_code(network.deactivate_person, world["admin"], actor=coordinator) == (
        "admin_only"
    )
    other, _ = invite(world, "admin", region=world["kainuu"], organisations=[world["kajaani"]])
    assert error_code(network.deactivate_person, other, actor=coordinator) == "not_your_region"
