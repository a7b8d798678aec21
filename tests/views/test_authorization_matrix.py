"""Every route of the app, walked with every role and anonymously, against a declared table.

A route added without a rule here fails `test_every_route_has_a_rule`. A role that may use a
route must get past authorization (any answer but 401, 403 or a redirect to sign-in; 404 is
fine, lookups are scoped); any other role gets 403, an anonymous visitor 401 (API) or the
sign-in page.
"""

import pytest
from werkzeug.routing import Rule

from webapp import create_app
from webapp.extensions import db
from webapp.models import Region, Role, User
from webapp.services import accounts

from ..conftest import app_config
from ..factories import create_user

ANONYMOUS = "anonymous"
ACTORS = {
    ANONYMOUS: None,
    "venue": "ovi@example.fi",
    "distributor": "jakaja@example.fi",
    "coordinator": "koordinaattori@example.fi",
    "admin": "admin@example.fi",
}
EVERYONE = frozenset(ACTORS)
SIGNED_IN = EVERYONE - {ANONYMOUS}
VENUE = frozenset({"venue"})
DISTRIBUTOR = frozenset({"distributor"})
NETWORK = frozenset({"coordinator", "admin"})
ADMIN = frozenset({"admin"})
PUBLISHERS = VENUE | NETWORK

RULES: dict[str, frozenset[str]] = {
    "static": EVERYONE,
    "auth.sign_in": EVERYONE,
    "auth.set_language": EVERYONE,
    "auth.sign_out": SIGNED_IN,
    "pwa.healthz": EVERYONE,
    "pwa.service_worker": EVERYONE,
    "pwa.manifest": EVERYONE,
    "invite.accept": EVERYONE,
    "cardholder.card": EVERYONE,
    "cardholder.activate": EVERYONE,
    "cardholder.device": EVERYONE,
    "cardholder.register_device": EVERYONE,
    "cardholder.manifest": EVERYONE,
    "cardholder.service_worker": EVERYONE,
    "cardholder.uses": EVERYONE,
    "offers.catalogue": EVERYONE,
    "offers.feed": EVERYONE,
    "offers.manage": PUBLISHERS,
    "offers.new_offer": PUBLISHERS,
    "offers.edit_offer": PUBLISHERS,
    "offers.withdraw_offer": PUBLISHERS,
    "api-docs.openapi_json": EVERYONE,
    "api.create_card": DISTRIBUTOR,
    "api.get_card": DISTRIBUTOR | NETWORK,
    "api.update_card": NETWORK,
    "api.revoke_card": DISTRIBUTOR | NETWORK,
    "api.reissue_card": DISTRIBUTOR,
    "api.card_pdf": DISTRIBUTOR,
    "api.verify": VENUE,
    "api.record_visit": VENUE,
    "api.undo_visit": VENUE,
    "api.visit_stats": NETWORK,
    "api.national_stats": NETWORK,
    "api.holder_stats": NETWORK,
    "api.list_offers": EVERYONE,
    "scanner.scan": VENUE,
    "scanner.verify": VENUE,
    "scanner.record": VENUE,
    "scanner.undo": VENUE,
    "scanner_sync.session_info": VENUE,
    "scanner_sync.offline_list": VENUE,
    "scanner_sync.sync": VENUE,
    "scanner_sync.undo": VENUE,
    "venue.statistics": VENUE,
    "venue.offline_conflicts": VENUE,
    "venue.statistics_csv": VENUE,
    "paper.upload": VENUE | NETWORK,
    "paper.preview": VENUE | NETWORK,
    "paper.confirm": VENUE | NETWORK,
    "distributor.home": DISTRIBUTOR,
    "distributor.find": DISTRIBUTOR,
    "distributor.register": DISTRIBUTOR,
    "distributor.register_community": DISTRIBUTOR,
    "distributor.check_field": DISTRIBUTOR,
    "distributor.card": DISTRIBUTOR,
    "distributor.act": DISTRIBUTOR,
    "distributor.handover": DISTRIBUTOR,
    "distributor.card_pdf": DISTRIBUTOR,
    "distributor.print_batch": DISTRIBUTOR,
    "distributor.renewals": DISTRIBUTOR,
    "coordinator.home": NETWORK,
    "coordinator.regions": NETWORK,
    "coordinator.region": NETWORK,
    "coordinator.region POST": ADMIN,
    "coordinator.new_region": ADMIN,
    "coordinator.add_membership": ADMIN,
    "coordinator.unsigned_cards": NETWORK,
    "coordinator.remove_membership": ADMIN,
    "coordinator.organisations": NETWORK,
    "coordinator.organisation": NETWORK,
    "coordinator.new_organisation": NETWORK,
    "coordinator.events": NETWORK,
    "coordinator.event": NETWORK,
    "coordinator.new_event": NETWORK,
    "coordinator.people": NETWORK,
    "coordinator.person": NETWORK,
    "coordinator.new_person": NETWORK,
    "coordinator.person_action": NETWORK,
    "coordinator.statistics": NETWORK,
    "coordinator.statistics_export": NETWORK,
    "coordinator.national": NETWORK,
    "coordinator.national_export": NETWORK,
    "coordinator.audit_log": NETWORK,
    "coordinator.offline_conflicts": NETWORK,
}


def _routes() -> list[tuple[str, str]]:
    app = create_app(app_config("sqlite://"))
    return sorted(
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


def _sample_value(rule: Rule, name: str, demo_cards) -> str | int:
    converter = rule._converters[name]
    choices = getattr(converter, "items", None)
    if choices:
        return sorted(choices)[0]
    region = db.session.scalar(db.select(Region).filter_by(code="pohjois-savo"))
    samples = {
        "number": demo_cards["active"],
        "region_id": region.id,
        "membership_id": region.memberships[0].id,
        "user_id": db.session.scalar(db.select(User.id).filter_by(email="ovi@example.fi")),
        "visit_id": 999_999,
        "filename": "css/app.css",
        "code": "sv",
        "key": "no-such-card-link",
        "token": "no-such-invite",
        "region": "pohjois-savo",
    }
    return samples.get(name, 1)


def _url(app, endpoint: str, method: str, demo_cards) -> str:
    rule = next(
        r for r in app.url_map.iter_rules() if r.endpoint == endpoint and method in r.methods
    )
    values = {name: _sample_value(rule, name, demo_cards) for name in rule.arguments}
    path = rule.build(values, append_unknown=False)[1]
    return path


@pytest.fixture
def admin(demo_cards):
    create_user(ACTORS["admin"], Role.ADMIN, password="kaikukortti-demo")
    db.session.commit()


def _allowed(endpoint: str, method: str) -> frozenset[str]:
    return RULES.get(f"{endpoint} {method}", RULES[endpoint])


def test_every_route_has_a_rule():
    unruled = {endpoint for endpoint, _ in _routes()} - set(RULES)
    assert unruled == set(), f"routes without an authorization rule: {sorted(unruled)}"


@pytest.mark.parametrize("actor", sorted(ACTORS))
@pytest.mark.parametrize(("endpoint", "method"), _routes())
def test_route_answers_each_actor_as_declared(
    app, client, admin, demo_cards, endpoint, method, actor
):
    email = ACTORS[actor]
    headers = {}
    if endpoint.startswith("api."):
        if email:
            user = db.session.scalar(db.select(User).filter_by(email=email))
            headers["Authorization"] = f"Bearer {accounts.create_api_token(user)}"
            db.session.commit()
    elif email:
        assert client.sign_in(email).status_code == 302
    url = _url(app, endpoint, method, demo_cards)
    if endpoint.startswith("api."):
        body = {"json": {}} if method in ("POST", "PATCH") else {}
    else:  # the scanner's requests name the venue they are made at
        venue = db.session.scalar(db.select(User).filter_by(email="ovi@example.fi"))
        params = {"venue": str(venue.organisations[0].id)}
        body = {"query_string": params} if method == "GET" else {"data": params}
    response = client.open(url, method=method, headers=headers, **body)
    response.close()

    sent_to_sign_in = response.status_code == 302 and response.headers["Location"].startswith(
        "/?next="
    )
    if actor in _allowed(endpoint, method):
        assert response.status_code not in (401, 403) and not sent_to_sign_in, response.status_code
    elif actor == ANONYMOUS:
        assert response.status_code == 401 or sent_to_sign_in, response.status_code
    else:
        assert response.status_code == 403
