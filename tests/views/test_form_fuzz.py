"""Hypothesis on every form: whatever is typed into any field, the answer is never a 5xx.

The forms are found by reading the pages, so a new form on these pages is fuzzed too.
"""

from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.extensions import db
from webapp.models import Organisation, Role

from ..factories import create_user

# Typed text: any printable or control character a browser can send (no lone surrogates),
# numbers and dates near the edges, and huge values.
TYPED = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(["", " ", "0", "-1", "1e9", "2011", "70100", "null", "0" * 400, "ä" * 300]),
)


class FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append(
                {
                    "action": attrs.get("action", ""),
                    "method": attrs.get("method", "get"),
                    "fields": {},
                }
            )
        elif tag in ("input", "select", "textarea") and self.forms and attrs.get("name"):
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value", "")


def forms_on(client, url: str) -> list[dict]:
    parser = FormParser()
    parser.feed(client.get(url).text)
    return [form | {"action": urljoin(url, form["action"] or url)} for form in parser.forms]


PAGES = {
    None: ["/"],
    "jakaja@example.fi": [
        "/distributor/",
        "/distributor/cards/new",
        "/distributor/find",
        "/distributor/cards/{active}/revoke",
        "/distributor/cards/{active}/renew",
        "/distributor/community-cards/new",
        "/distributor/cards/{community}/correct",
    ],
    "koordinaattori@example.fi": [
        "/coordinator/venues/new",
        "/coordinator/distributors/new",
        "/coordinator/events/new",
        "/coordinator/people/new",
        "/coordinator/stats",
        "/coordinator/audit",
        "/coordinator/organisations/{venue}",
    ],
    "admin@example.fi": ["/coordinator/regions/new", "/coordinator/regions/{region}"],
    "ovi@example.fi": ["/scan"],
}


@pytest.mark.parametrize(
    ("email", "page"), [(email, page) for email, pages in PAGES.items() for page in pages]
)
def test_every_form_answers_any_input_without_a_server_error(client, demo_cards, email, page):
    create_user("admin@example.fi", Role.ADMIN, password="kaikukortti-demo")
    db.session.commit()
    venue = db.session.scalar(db.select(Organisation).filter_by(name="Kuopion kaupunginteatteri"))
    url = page.format(
        active=demo_cards["active"],
        community=demo_cards["community"],
        venue=venue.id,
        region=venue.region_id,
    )
    if email:
        client.sign_in(email)
    forms = [f for f in forms_on(client, url) if not f["action"].endswith("/sign-out")]
    assert forms, f"no form on {url}"

    for form in forms:
        fuzz_form(client, form)


def fuzz_form(client, form: dict) -> None:
    """Submit the form with typed values in every field (the CSRF token kept)."""
    names = sorted(name for name in form["fields"] if name != "csrf_token")

    @given(values=st.fixed_dictionaries({name: TYPED for name in names}))
    @settings(
        max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def submit(values):
        data = form["fields"] | values
        if form["method"].lower() == "post":
            response = client.post(form["action"], data=data)
        else:
            response = client.get(form["action"], query_string=data)
        response.close()
        assert response.status_code < 500, (form["action"], data)

    submit()
