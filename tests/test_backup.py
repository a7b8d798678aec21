"""A backup restores the database exactly: cards, visits and all, on SQLite and PostgreSQL."""

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Card, Organisation, Visit
from webapp.services import cards, door


def _snapshot():
    return {
        "cards": sorted(db.session.scalars(select(Card.number))),
        "visits": db.session.scalar(select(func.count()).select_from(Visit)),
    }


def test_backup_and_restore_round_trip(runner, demo_cards, tmp_path):
    venue = db.session.scalar(
        select(Organisation).where(Organisation.name == "Kuopion kaupunginteatteri")
    )
    card = db.session.scalar(select(Card).where(Card.number == demo_cards["active"]))
    door.record_visit(
        venue=venue, user=None, children=1, shown=door.Shown.scanned(cards.printed_token(card))
    )
    db.session.commit()
    before = _snapshot()

    target = tmp_path / "kaikukortti.backup"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert target.stat().st_size > 0

    db.session.execute(Visit.__table__.delete())
    db.session.commit()
    assert _snapshot()["visits"] == 0

    result = runner.invoke(args=["restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    db.session.remove()
    assert _snapshot() == before


def test_restore_from_a_missing_file_fails_clearly(runner, tmp_path):
    result = runner.invoke(args=["restore", str(tmp_path / "missing"), "--yes"])
    assert result.exit_code != 0
    assert "No backup file" in result.output
