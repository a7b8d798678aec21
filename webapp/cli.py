"""Flask commands: demo data and API tokens."""

import click
from flask import Flask
from sqlalchemy import select

from . import demo
from .extensions import db
from .models import User
from .services import accounts


def register_commands(app: Flask) -> None:
    app.cli.add_command(demo_command)
    app.cli.add_command(api_token_command)


@click.command("demo")
def demo_command() -> None:
    """Load the demo data (idempotent; refuses a database holding other data)."""
    try:
        cards = demo.load()
    except demo.NotADemoDatabase as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Demo sign-ins (password {demo.PASSWORD}):", err=True)
    for email in demo.USERS:
        click.echo(f"  {email}", err=True)
    for state, number in cards.items():
        click.echo(f"{state} {number}")


@click.command("api-token")
@click.argument("email")
def api_token_command(email: str) -> None:
    """Create an API token for the user with EMAIL and print it."""
    user = db.session.scalar(select(User).where(User.email == accounts.normalize_email(email)))
    if user is None or not user.active:
        raise click.ClickException(f"No active user with the email address {email}")
    token = accounts.create_api_token(user)
    db.session.commit()
    click.echo(token)
