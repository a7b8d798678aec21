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


def test_pg_dump_gets_the_password_through_the_environment(monkeypatch, tmp_path):
    import subprocess

    from webapp import backup

    calls = []

    def run(command, **kwargs):
        calls.append((command, kwargs.get("env") or {}))
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(backup.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(backup.subprocess, "run", run)
    url = "postgresql+psycopg://kaiku:s3cret-pw@127.0.0.1:5432/kaikukortti"
    backup.backup(url, tmp_path / "b.dump")
    (tmp_path / "b.dump").write_bytes(b"x")
    backup.restore(url, tmp_path / "b.dump")
    assert len(calls) == 2
    for command, env in calls:
        assert not any("s3cret-pw" in part for part in command)
        assert env["PGPASSWORD"] == "s3cret-pw"
        assert any("kaiku@127.0.0.1:5432/kaikukortti" in part for part in command)
