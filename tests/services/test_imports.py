"""Cards from the national register: the import, and the imported cards at the door."""

from datetime import date, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from webapp.errors import ErrorCode
from webapp.extensions import db
from webapp.models import AuditEvent, Card, RevokeReason, Role, User
from webapp.rules import Reason, WarningCode, today_in_finland
from webapp.services import cards, door, imports

from ..factories import create_distributor, create_region, create_user, create_venue

HEADER = "id,region,distributor,valid_from,valid_until,children,birth_year,postcode"


@pytest.fixture
def region():
    region = create_region("pohjois-savo")
    create_distributor(region, "Kuopion sosiaalipalvelut")
    venue = create_venue(region)
    create_user("ovi@example.fi", Role.VENUE, [venue])
    db.session.commit()
    return region


def row(legacy_id="KK100234", **fields) -> str:
    today = today_in_finland()
    values = {
        "id": legacy_id,
        "region": "pohjois-savo",
        "distributor": "Kuopion sosiaalipalvelut",
        "valid_from": (today - timedelta(days=100)).isoformat(),
        "valid_until": (today + timedelta(days=200)).isoformat(),
        "children": "2",
        "birth_year": "1975",
        "postcode": "70100",
        **fields,
    }
    return ",".join(values[name] for name in HEADER.split(","))


def csv_file(*rows: str, header: str = HEADER) -> bytes:
    return "\n".join([header, *rows]).encode()


def snapshot() -> list[tuple]:
    db.session.expire_all()
    query = select(Card.legacy_id, Card.number, Card.valid_until, Card.children, Card.generation)
    return list(db.session.execute(query.order_by(Card.legacy_id)))


def run(data: bytes, dry_run=False):
    report = imports.import_cards(data, dry_run=dry_run, source="register.csv")
    db.session.commit()
    return report


def test_a_good_file_imports_every_card_with_its_register_id(region):
    report = run(csv_file(row("KK100234"), row("kk-100 235", children="0")))
    assert (report.new, report.already, report.problems, report.stored) == (2, 0, [], True)
    first, second = db.session.scalars(select(Card).order_by(Card.legacy_id))
    assert (first.legacy_id, first.children, first.birth_year, first.postcode) == (
        "KK100234",
        2,
        1975,
        "70100",
    )
    assert second.legacy_id == "KK100235"  # stored normalized: the door compares it so
    assert first.issuer.name == "Kuopion sosiaalipalvelut" and first.region is region
    assert first.generation == 1 and first.number != second.number
    [audit] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "cards.imported"))
    assert (audit.region_id, audit.details["cards"]) == (region.id, 2)


def test_the_same_file_twice_changes_nothing(region):
    data = csv_file(row("KK100234"), row("KK100235"))
    run(data)
    before = snapshot()
    report = run(data)
    assert (report.new, report.already, report.problems) == (0, 2, [])
    assert snapshot() == before


def test_an_imported_card_renewed_here_is_not_overwritten_by_the_file_again(region):
    data = csv_file(row("KK100234", children="2"))
    run(data)
    card = db.session.scalar(select(Card))
    cards.correct_card(card, actor=None, children=5, postcode="70200")
    db.session.commit()
    run(data)
    db.session.expire_all()
    assert (card.children, card.postcode) == (5, "70200")


def test_a_dry_run_reports_and_changes_nothing(region):
    report = run(csv_file(row("KK100234"), row("KK100235")), dry_run=True)
    assert (report.new, report.problems, report.stored) == (2, [], False)
    assert snapshot() == []
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def problems_of(*rows: str, dry_run=True) -> list[tuple[int, str | None, str]]:
    report = run(csv_file(*rows), dry_run=dry_run)
    return [(p.line, p.column, p.code) for p in report.problems]


def in_a_year_and_a_day() -> str:
    return (cards.one_year_after(today_in_finland()) + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("fields", "column", "code"),
    [
        ({"region": "uusimaa"}, "region", ErrorCode.INVALID_REGION),
        ({"region": ""}, "region", ErrorCode.REQUIRED),
        (
            {"distributor": "Kajaanin sosiaalipalvelut"},
            "distributor",
            ErrorCode.UNKNOWN_DISTRIBUTOR,
        ),
        ({"distributor": "Kuopion\x00sosiaalipalvelut"}, "distributor", "unknown_distributor"),
        ({"valid_from": "2026-02-30"}, "valid_from", ErrorCode.INVALID_DATE),
        ({"valid_until": "next year"}, "valid_until", ErrorCode.INVALID_DATE),
        ({"valid_until": in_a_year_and_a_day()}, "valid_until", ErrorCode.VALID_UNTIL_TOO_LATE),
        (
            {"valid_from": "2026-06-01", "valid_until": "2026-05-31"},
            "valid_until",
            "invalid_period",
        ),
        ({"children": "21"}, "children", ErrorCode.INVALID_CHILDREN),
        ({"children": "-1"}, "children", ErrorCode.INVALID_CHILDREN),
        ({"children": "two"}, "children", ErrorCode.INVALID_CHILDREN),
        ({"birth_year": str(today_in_finland().year - 10)}, "birth_year", "holder_too_young"),
        ({"birth_year": "1899"}, "birth_year", ErrorCode.INVALID_BIRTH_YEAR),
        ({"postcode": "7010"}, "postcode", ErrorCode.INVALID_POSTCODE),
        ({"postcode": "70 100"}, "postcode", ErrorCode.INVALID_POSTCODE),
        ({"id": ""}, "id", ErrorCode.REQUIRED),
        ({"id": "K1"}, "id", ErrorCode.INVALID_REGISTER_ID),
        ({"id": "KK#1234"}, "id", ErrorCode.INVALID_REGISTER_ID),
        ({"id": "K7MX4PQ2D"}, "id", ErrorCode.INVALID_REGISTER_ID),  # a card number's shape
        ({"id": "131052-308T"}, "id", ErrorCode.PERSONAL_DATA),  # a personal identity code
    ],
)
def test_each_kind_of_bad_row_is_reported_by_line_and_column(region, fields, column, code):
    assert problems_of(row("KK100001"), row("KK100002", **fields)) == [(3, column, code)]


def test_a_duplicate_id_in_the_file_names_the_first_line(region):
    report = run(csv_file(row("KK100001"), row("KK100002"), row("kk-100001")), dry_run=True)
    [problem] = report.problems
    assert (problem.line, problem.column, problem.code) == (4, "id", ErrorCode.DUPLICATE_ID)
    with force_locale("en"):
        assert problem.message == "The same ID is already on line 2."


def test_every_bad_row_is_reported_and_a_real_run_then_imports_nothing(region):
    found = problems_of(
        row("KK100001", postcode="123"),
        row("KK100002"),
        row("KK100003", children="99", region="lappi"),
        dry_run=False,
    )
    assert found == [
        (2, "postcode", ErrorCode.INVALID_POSTCODE),
        (4, "region", ErrorCode.INVALID_REGION),
        (4, "children", ErrorCode.INVALID_CHILDREN),
    ]
    assert snapshot() == []


def test_a_line_with_too_few_values_is_a_bad_row(region):
    report = run(csv_file(row("KK100001"), "KK100002,pohjois-savo"), dry_run=True)
    [problem] = report.problems
    assert (problem.line, problem.code, problem.values) == (
        3,
        ErrorCode.ROW_LENGTH,
        {"found": 2, "expected": 8},
    )


def test_a_community_card_is_not_imported(region):
    header = HEADER + ",kind"
    data = csv_file(row("KK100001") + ",personal", row("KK100002") + ",community", header=header)
    report = run(data, dry_run=True)
    assert [(p.line, p.code) for p in report.problems] == [(3, ErrorCode.UNSUPPORTED_KIND)]


def test_a_spreadsheet_export_with_semicolons_finnish_dates_and_a_bom(region):
    header = "\ufeffID;Region;Distributor;Valid_from;Valid_until;Children;Birth_year;Postcode"
    until = today_in_finland() + timedelta(days=30)
    line = f"KK100001;pohjois-savo;kuopion sosiaalipalvelut;1.3.2026;{until:%d.%m.%Y};0;1960;00100"
    report = run(f"{header}\r\n{line}\r\n\r\n".encode())
    assert (report.new, report.problems) == (1, [])
    card = db.session.scalar(select(Card))
    assert (card.valid_from, card.valid_until, card.postcode) == (date(2026, 3, 1), until, "00100")


@pytest.mark.parametrize("column", ["name", "hetu", "address"])
def test_a_file_with_a_personal_column_is_refused_before_any_row_is_read(region, column):
    data = csv_file(row("KK100001") + ",x", header=f"{HEADER},{column}")
    with pytest.raises(imports.CardImportError) as error:
        run(data)
    assert error.value.code is ErrorCode.UNKNOWN_COLUMNS
    with force_locale("en"):
        assert column in error.value.message
    assert snapshot() == []


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", ErrorCode.MISSING_COLUMNS),
        (b"id,region\nKK100001,pohjois-savo\n", ErrorCode.MISSING_COLUMNS),
        ("id,region\nä".encode("latin-1"), ErrorCode.INVALID_FILE),
        (csv_file(row(), header=HEADER + ",id"), ErrorCode.INVALID_FILE),
    ],
)
def test_a_file_that_is_no_register_export_is_refused(region, data, code):
    with pytest.raises(imports.CardImportError) as error:
        run(data)
    assert error.value.code == code


# --- at the door ---------------------------------------------------------------------------


def venue_of(region) -> door.DoorVenue:
    """The region's venue as the door reads it (its region's setting as stored now)."""
    staff_id = db.session.scalar(select(User.id).where(User.email == "ovi@example.fi"))
    return door.staff(staff_id).venues[0]


@pytest.mark.parametrize(
    "shown",
    [door.Shown.typed("kk-100 234"), door.Shown.scanned("KK100234")],
    ids=["typed", "scanned"],
)
def test_an_imported_card_is_accepted_by_its_register_id_with_the_unsigned_warning(region, shown):
    run(csv_file(row("KK100234", children="2")))
    venue = venue_of(region)
    result = door.verify(shown, venue)
    assert (result.reason, result.warnings, result.max_children) == (
        Reason.OK,
        (WarningCode.UNSIGNED_CARD,),
        2,
    )
    visit, created = door.record_visit(shown, venue=venue, user=None, children=1)
    db.session.commit()
    assert created and visit.card_number == db.session.scalar(select(Card.number))


def test_a_reissued_imported_card_answers_replaced_by_its_register_id(region):
    run(csv_file(row("KK100234")))
    card = db.session.scalar(select(Card))
    cards.reissue_card(card, actor=None)
    db.session.commit()
    venue = venue_of(region)
    assert door.verify(door.Shown.typed("KK100234"), venue).reason is Reason.REPLACED
    signed = door.verify(door.Shown.scanned(cards.printed_token(card)), venue)
    assert (signed.reason, signed.warnings) == (Reason.OK, ())


def test_the_region_refuses_unsigned_cards_from_its_chosen_day(region):
    run(csv_file(row("KK100234")))
    card = db.session.scalar(select(Card))
    region.unsigned_refused_from = today_in_finland() + timedelta(days=1)
    db.session.commit()
    venue = venue_of(region)
    shown = door.Shown.typed("KK100234")
    assert door.verify(shown, venue).reason is Reason.OK  # the last day of acceptance
    region.unsigned_refused_from = today_in_finland()
    db.session.commit()
    venue = venue_of(region)
    assert door.verify(shown, venue).reason is Reason.UNSIGNED_NOT_ACCEPTED
    with pytest.raises(door.DoorError) as error:
        door.record_visit(shown, venue=venue, user=None, children=0)
    assert error.value.code is Reason.UNSIGNED_NOT_ACCEPTED
    # the same card reissued with a signed code is accepted as any other
    cards.reissue_card(card, actor=None)
    db.session.commit()
    signed = door.verify(door.Shown.scanned(cards.printed_token(card)), venue)
    assert signed.reason is Reason.OK


def test_a_mistyped_card_number_is_never_taken_for_a_register_id(region):
    run(csv_file(row("KK100234")))
    venue = venue_of(region)
    assert door.verify(door.Shown.typed("KK100235"), venue).reason is Reason.INVALID_TOKEN
    assert door.verify(door.Shown.scanned("KK100235"), venue).reason is Reason.INVALID_TOKEN
    assert door.verify(door.Shown.typed("K7MX4PQ2E"), venue).reason is Reason.INVALID_TOKEN


def test_a_revoked_or_expired_imported_card_is_refused_by_its_register_id(region):
    yesterday = today_in_finland() - timedelta(days=1)
    start = (yesterday - timedelta(days=300)).isoformat()
    run(csv_file(row("KK100001"), row("KK100002", valid_from=start, valid_until=str(yesterday))))
    revoked = db.session.scalar(select(Card).where(Card.legacy_id == "KK100001"))
    cards.revoke_card(revoked, actor=None, reason=RevokeReason.LOST)
    db.session.commit()
    venue = venue_of(region)
    assert door.verify(door.Shown.typed("KK100001"), venue).reason is Reason.REVOKED
    assert door.verify(door.Shown.scanned("KK100002"), venue).reason is Reason.EXPIRED
