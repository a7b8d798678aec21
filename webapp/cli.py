"""Flask commands: demo data, API tokens, signing keys, backups, the statistics rollup and
the import of cards from the national register."""

import secrets
from pathlib import Path

import click
from flask import Flask, current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from . import backup, cardnumbers, demo, i18n, tokens
from .extensions import db
from .models import Card, User
from .services import accounts, imports, keys, rollup


def register_commands(app: Flask) -> None:
    app.cli.add_command(demo_command)
    app.cli.add_command(api_token_command)
    app.cli.add_command(keys_group)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(stats_group)
    app.cli.add_command(import_cards_command)


@click.command("demo")
@click.option(
    "--if-possible",
    is_flag=True,
    help="Say why and succeed, instead of failing, when the database holds other data.",
)
def demo_command(if_possible: bool) -> None:
    """Load the demo data (idempotent; refuses a database holding other data)."""
    try:
        cards = demo.load()
    except demo.NotADemoDatabase as exc:
        db.session.rollback()
        if not if_possible:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"{exc} The demo was not loaded; the database is used as it is.", err=True)
        return
    db.session.commit()
    click.echo(f"Demo sign-ins (password {demo.PASSWORD}):", err=True)
    for email in demo.USERS:
        click.echo(f"  {email}", err=True)
    for state, number in cards.items():
        click.echo(f"{state} {number}")
        printed = db.session.scalar(select(Card).where(Card.number == number)).printed_number
        click.echo(f"  {state}: typed as {cardnumbers.format_number(printed)}", err=True)


@click.command("api-token")
@click.argument("email")
@click.option("--revoke", is_flag=True, help="Revoke every API token of the user instead.")
def api_token_command(email: str, revoke: bool) -> None:
    """Create an API token for the user with EMAIL and print it (or revoke their tokens)."""
    user = db.session.scalar(select(User).where(User.email == accounts.normalize_email(email)))
    if revoke:
        if user is None:
            raise click.ClickException(f"No user with the email address {email}")
        count = accounts.revoke_api_tokens(user)
        db.session.commit()
        click.echo(f"{count} API tokens of {user.email} revoked", err=True)
        return
    if user is None or not user.active:
        raise click.ClickException(f"No active user with the email address {email}")
    token = accounts.create_api_token(user)
    db.session.commit()
    click.echo(token)


@click.group("keys")
def keys_group() -> None:
    """Rotate the card signing keys (see docs/operations.md)."""


@keys_group.command("new")
def new_key() -> None:
    """Print a new random signing key to append to CARD_SIGNING_KEYS."""
    key = secrets.token_urlsafe(48)
    click.echo(f"key id {tokens.key_id(key)}", err=True)
    click.echo(key)


@keys_group.command("list")
def list_keys() -> None:
    """List the configured keys (oldest first) and how many valid cards each one signed."""
    in_use = keys.keys_of_valid_cards()
    configured = current_app.config["CARD_SIGNING_KEYS"]
    for position, key in enumerate(configured, start=1):
        key_id = tokens.key_id(key)
        role = "signs new cards" if position == len(configured) else "verifies only"
        click.echo(f"{key_id}  {role:15}  {len(in_use.pop(key_id, ())):6} valid cards")
    for key_id, numbers in in_use.items():
        click.echo(
            f"{key_id}  NOT CONFIGURED   {len(numbers):6} valid cards (they answer invalid_token)"
        )


@keys_group.command("affected")
@click.argument("key_id")
@click.option("--reissue", is_flag=True, help="Reissue the cards with the current signing key.")
def affected_command(key_id: str, reissue: bool) -> None:
    """List the valid cards whose last token KEY_ID signed; with --reissue, reissue them."""
    if reissue and key_id == tokens.key_id(current_app.config["CARD_SIGNING_KEYS"][-1]):
        raise click.ClickException("That key still signs new cards: add a new key first.")
    affected = keys.affected_cards(key_id)
    if reissue:
        keys.reissue_all(affected)
        db.session.commit()
    for card in affected:
        click.echo(f"{card.number} {card.issuer.name}")
    click.echo(f"{len(affected)} cards {'reissued' if reissue else 'affected'}", err=True)


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(target: Path) -> None:
    """Write a consistent backup of the database into TARGET."""
    db.session.remove()
    try:
        backup.backup(current_app.config["SQLALCHEMY_DATABASE_URI"], target)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Backup written to {target}", err=True)


@click.command("restore")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(source: Path, yes: bool) -> None:
    """Replace the database's contents with the backup in SOURCE."""
    if not yes:
        click.confirm("This replaces everything in the database. Continue?", abort=True)
    db.session.remove()
    db.engine.dispose()
    try:
        backup.restore(current_app.config["SQLALCHEMY_DATABASE_URI"], source)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Restored from {source}", err=True)


@click.group("stats")
def stats_group() -> None:
    """Maintain the statistics' daily rollup of the visits."""


@stats_group.command("rebuild")
def rebuild_command() -> None:
    """Recompute the daily visit sums and the cards' first use from the visits.

    Needed only after visits were written around the app (a bulk import, a COPY).
    """
    written = rollup.rebuild(db.session)
    db.session.commit()
    click.echo(f"{written['days']} venue-days, {written['cards']} cards used", err=True)


@click.command("import-cards")
@click.argument("file", type=click.File("rb"))
@click.option("--dry-run", is_flag=True, help="Check every row and report; change nothing.")
@click.option(
    "--language", type=click.Choice(list(i18n.LANGUAGES)), default="fi", help="Of the report."
)
def import_cards_command(file, dry_run: bool, language: str) -> None:
    """Import the cards of the national register's CSV export FILE (see the README).

    A file with a bad row imports nothing; cards already imported are left alone.
    """
    with force_locale(language):
        try:
            report = imports.import_cards(file.read(), dry_run=dry_run, source=file.name)
        except imports.CardImportError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from exc
        for problem in report.problems:
            where = {"line": problem.line, "column": problem.column or "-"}
            click.echo(
                _("Line %(line)s, %(column)s: %(message)s", **where, message=problem.message)
            )
        counts = {"new": report.new, "already": report.already}
        click.echo(_("New cards: %(new)s. Imported before, left alone: %(already)s.", **counts))
        if report.problems:
            db.session.rollback()
            raise click.ClickException(_("Nothing was imported: correct the lines above."))
        if not report.stored:
            click.echo(_("Dry run: nothing was imported."))
            return
        db.session.commit()
        click.echo(_("Imported."))
