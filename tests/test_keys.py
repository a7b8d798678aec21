"""Key rotation: a new key signs, old keys verify, a compromised key's cards are found."""

from webapp import create_app, tokens
from webapp.extensions import db
from webapp.models import Card, Organisation
from webapp.rules import Reason
from webapp.services import cards, door

from .conftest import TEST_SIGNING_KEYS, app_config


def _venue():
    return db.session.scalar(
        db.select(Organisation).where(Organisation.name == "Kuopion kaupunginteatteri")
    )


def test_key_list_shows_which_key_signs(runner, demo_cards):
    result = runner.invoke(args=["keys", "list"])
    lines = result.stdout.splitlines()
    assert lines[0].startswith(tokens.key_id(TEST_SIGNING_KEYS[0]))
    assert "verifies only" in lines[0]
    assert lines[1].startswith(tokens.key_id(TEST_SIGNING_KEYS[1]))
    assert "signs new cards" in lines[1]
    # active, replaced, lappi and community; the expired and the revoked card no longer count
    assert lines[1].split()[-3:] == ["4", "valid", "cards"]


def test_new_key_prints_a_fresh_key(runner):
    first = runner.invoke(args=["keys", "new"]).stdout.strip()
    second = runner.invoke(args=["keys", "new"]).stdout.strip()
    assert first != second and len(first) >= 40


def test_compromised_key_cards_are_found_and_reissued(database_url, demo_cards):
    compromised = TEST_SIGNING_KEYS[-1]
    rotated = create_app(app_config(database_url, CARD_SIGNING_KEYS=["fresh-key"]))
    with rotated.app_context():
        card = db.session.scalar(db.select(Card).where(Card.number == demo_cards["active"]))
        old_token = tokens.sign_card(card.number, card.generation, [compromised])
        assert door.verify(door.Shown.scanned(old_token), _venue()).reason is Reason.INVALID_TOKEN

        runner = rotated.test_cli_runner()
        listed = runner.invoke(args=["keys", "affected", tokens.key_id(compromised)])
        assert demo_cards["active"] in listed.stdout
        assert demo_cards["expired"] not in listed.stdout
        assert demo_cards["revoked"] not in listed.stdout

        result = runner.invoke(args=["keys", "affected", tokens.key_id(compromised), "--reissue"])
        assert result.exit_code == 0
        db.session.expire_all()
        card = db.session.scalar(db.select(Card).where(Card.number == demo_cards["active"]))
        assert card.generation == 2
        assert (
            door.verify(door.Shown.scanned(cards.printed_token(card)), _venue()).reason is Reason.OK
        )
        again = runner.invoke(args=["keys", "affected", tokens.key_id(compromised)])
        assert demo_cards["active"] not in again.stdout
        db.session.remove()
        db.engine.dispose()


def test_reissue_refuses_while_the_key_still_signs(runner, demo_cards):
    result = runner.invoke(
        args=["keys", "affected", tokens.key_id(TEST_SIGNING_KEYS[-1]), "--reissue"]
    )
    assert result.exit_code != 0
