from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import ApiToken, Card, Organisation, Region, User
from webapp.services.accounts import hash_api_token


def _row_counts():
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Region, Organisation, User, Card)
    }


def test_demo_prints_one_line_per_card_state(runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert [line.split(" ")[0] for line in lines] == [
        "active",
        "expired",
        "revoked",
        "replaced",
        "lappi",
        "community",
    ]
    numbers = [line.split(" ")[1] for line in lines]
    assert set(numbers) == set(db.session.scalars(select(Card.number)))


def test_demo_twice_leaves_the_same_rows(runner):
    first = runner.invoke(args=["demo"])
    counts = _row_counts()
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0
    assert second.stdout == first.stdout
    assert _row_counts() == counts == {"Region": 3, "Organisation": 5, "User": 6, "Card": 6}


def test_demo_refuses_a_database_with_other_data(runner):
    region = Region(code="uusimaa", name="Uusimaa")
    db.session.add(region)
    db.session.commit()
    result = runner.invoke(args=["demo"])
    assert result.exit_code != 0
    assert "not demo data" in result.output
    assert _row_counts()["User"] == 0


def test_demo_if_possible_says_why_and_succeeds_on_other_data(runner):
    db.session.add(Region(code="uusimaa", name="Uusimaa"))
    db.session.commit()
    result = runner.invoke(args=["demo", "--if-possible"])
    assert result.exit_code == 0, result.output
    assert "not demo data" in result.stderr and "The demo was not loaded" in result.stderr
    assert result.stdout == ""
    assert _row_counts() == {"Region": 1, "Organisation": 0, "User": 0, "Card": 0}


def test_demo_if_possible_loads_the_demo_where_it_can(runner):
    plain = runner.invoke(args=["demo"])
    again = runner.invoke(args=["demo", "--if-possible"])
    assert again.exit_code == 0 and again.stdout == plain.stdout
    assert "not loaded" not in again.stderr


def test_demo_users_can_sign_in(runner, client):
    runner.invoke(args=["demo"])
    assert client.sign_in("koordinaattori@example.fi").status_code == 302


def test_api_token_prints_a_token_and_stores_only_its_hash(runner):
    runner.invoke(args=["demo"])
    result = runner.invoke(args=["api-token", "ovi@example.fi"])
    assert result.exit_code == 0
    token = result.stdout.strip().splitlines()[-1]
    stored = db.session.scalars(select(ApiToken.token_hash)).all()
    assert stored == [hash_api_token(token)]
    assert token not in stored


def test_api_token_for_an_unknown_user_fails(runner):
    result = runner.invoke(args=["api-token", "nobody@example.fi"])
    assert result.exit_code != 0
    assert "nobody@example.fi" in result.output


def test_api_token_revoke_stops_every_token_of_the_user(runner, client):
    runner.invoke(args=["demo"])
    token = runner.invoke(args=["api-token", "ovi@example.fi"]).stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/verify", json={"token": "x"}, headers=headers).status_code == 200
    result = runner.invoke(args=["api-token", "ovi@example.fi", "--revoke"])
    assert result.exit_code == 0 and "1 API tokens" in result.output
    assert client.post("/api/v1/verify", json={"token": "x"}, headers=headers).status_code == 401
