"""The distributor's workspace: register, find, print and manage the organisation's cards."""

import re
from datetime import timedelta

import flask_babel
import pypdfium2 as pdfium
import pytest
from sqlalchemy import func, select

from tests.factories import create_visit
from webapp.cardnumbers import ALPHABET, format_number
from webapp.extensions import db
from webapp.models import AuditEvent, Card, Organisation, RevokeReason
from webapp.services import cards

JAKAJA = "jakaja@example.fi"
LAPPI = "jakaja.lappi@example.fi"


def card_by_number(number: str) -> Card:
    db.session.expire_all()
    return db.session.scalar(select(Card).where(Card.number == number))


def audit_actions(number: str) -> list[str]:
    """Return what was done to the card after it was issued, oldest first."""
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_id == number).order_by(AuditEvent.id)
    )
    return [action for action in actions if action != "card.issued"]


def in_english(client) -> None:
    client.get("/language/en")
    # The tests' app context outlives requests, so forget the language cached in g.
    flask_babel.refresh()


def register_data(**changes) -> dict:
    this_year = cards.today_in_finland().year
    data = {
        "birth_year": str(this_year - 40),
        "postcode": "70100",
        "children": "2",
        "valid_until": cards.one_year_after(cards.today_in_finland()).isoformat(),
    }
    data.update(changes)
    return data


def with_form_defaults(client, data: dict) -> dict:
    """Add the select fields' values as the register page offers them."""
    page = client.get("/distributor/cards/new").get_data(as_text=True)
    issuer = re.search(r'name="issuer" value="(\d+)"', page).group(1)
    region = re.search(r'<option selected value="(\d+)">', page).group(1)
    return {"issuer": issuer, "region": region, **data}


class TestRegister:
    def test_registers_a_card_of_the_distributors_organisation_and_region(self, signed_in):
        client = signed_in(JAKAJA)
        response = client.post(
            "/distributor/cards/new", data=with_form_defaults(client, register_data())
        )
        assert response.status_code == 303
        number = response.headers["Location"].rsplit("/", 1)[1]
        card = card_by_number(number)
        assert card.issuer.name == "Kuopion sosiaalipalvelut"
        assert card.region.code == "pohjois-savo"
        assert (card.children, card.postcode) == (2, "70100")
        assert (
            db.session.scalar(select(AuditEvent.action).where(AuditEvent.object_id == number))
            == "card.issued"
        )
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert format_number(number) in page

    def test_region_defaults_to_the_distributors(self, signed_in):
        page = signed_in(JAKAJA).get("/distributor/cards/new").get_data(as_text=True)
        assert re.search(r"<option selected value=\"\d+\">Pohjois-Savo</option>", page)

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"birth_year": "YOUNG"}, "Not a valid integer value"),
            ({"postcode": "7010"}, "five digits"),
            ({"postcode": ""}, "Enter the postcode"),
            ({"children": "21"}, "from 0 to 20"),
            ({"valid_until": "2000-01-01"}, "cannot be in the past"),
        ],
    )
    def test_bad_input_is_explained_next_to_the_field(
        self, signed_in, demo_cards, changes, message
    ):
        client = signed_in(JAKAJA)
        in_english(client)
        data = with_form_defaults(client, register_data(**changes))
        response = client.post("/distributor/cards/new", data=data)
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
        assert 'aria-invalid="true"' in response.get_data(as_text=True)
        assert db.session.scalar(select(func.count(Card.id))) == len(demo_cards)

    def test_holder_must_turn_16_this_year(self, signed_in):
        client = signed_in(JAKAJA)
        in_english(client)
        this_year = cards.today_in_finland().year
        young = with_form_defaults(client, register_data(birth_year=str(this_year - 15)))
        response = client.post("/distributor/cards/new", data=young)
        assert response.status_code == 422
        assert "must turn 16 this year" in response.get_data(as_text=True)
        sixteen = with_form_defaults(client, register_data(birth_year=str(this_year - 16)))
        assert client.post("/distributor/cards/new", data=sixteen).status_code == 303

    def test_messages_speak_finnish_by_default(self, signed_in):
        client = signed_in(JAKAJA)
        data = with_form_defaults(client, register_data(postcode="abc"))
        page = client.post("/distributor/cards/new", data=data).get_data(as_text=True)
        assert 'lang="fi"' in page

    def test_htmx_submit_gets_only_the_form_back_with_its_errors(self, signed_in):
        client = signed_in(JAKAJA)
        in_english(client)
        data = with_form_defaults(client, register_data(postcode="7O100"))
        response = client.post("/distributor/cards/new", data=data, headers={"HX-Request": "true"})
        body = response.get_data(as_text=True)
        assert response.status_code == 200  # htmx swaps 2xx answers only
        assert body.lstrip().startswith("<form") and "<html" not in body
        assert "five digits" in body
        assert "HX-Request" in response.headers["Vary"]

    def test_htmx_submit_that_registers_sends_the_browser_to_the_card(self, signed_in):
        client = signed_in(JAKAJA)
        data = with_form_defaults(client, register_data())
        response = client.post("/distributor/cards/new", data=data, headers={"HX-Request": "true"})
        assert response.headers["HX-Redirect"].startswith("/distributor/cards/")

    def test_a_field_is_checked_on_its_own_while_typing(self, signed_in):
        client = signed_in(JAKAJA)
        in_english(client)
        data = with_form_defaults(client, register_data(postcode="123", children="99"))
        response = client.post("/distributor/cards/new/check/postcode", data=data)
        body = response.get_data(as_text=True)
        assert response.status_code == 200
        assert body.strip().startswith('<div class="field has-error">')
        assert "five digits" in body and "from 0 to 20" not in body
        ok = client.post("/distributor/cards/new/check/children", data=register_data()).get_data(
            as_text=True
        )
        assert "has-error" not in ok


class TestFind:
    def test_number_is_found_whatever_its_case_spaces_and_dashes(self, signed_in, demo_cards):
        number = demo_cards["active"]
        typed = f" {number[:3].lower()}-{number[3:6]} {number[6:].lower()} "
        response = signed_in(JAKAJA).get("/distributor/find", query_string={"number": typed})
        assert response.status_code == 303
        assert response.headers["Location"] == f"/distributor/cards/{number}"

    def test_a_typo_is_caught_by_the_check_character(self, signed_in, demo_cards):
        number = demo_cards["active"]
        wrong = next(c for c in ALPHABET if c != number[4])
        typo = number[:4] + wrong + number[5:]
        client = signed_in(JAKAJA)
        in_english(client)
        response = client.get("/distributor/find", query_string={"number": typo})
        assert response.status_code == 422
        assert "not a card number" in response.get_data(as_text=True)

    def test_htmx_find_redirects_or_returns_the_form_fragment(self, signed_in, demo_cards):
        client = signed_in(JAKAJA)
        found = client.get(
            "/distributor/find",
            query_string={"number": demo_cards["active"]},
            headers={"HX-Request": "true"},
        )
        assert found.headers["HX-Redirect"] == f"/distributor/cards/{demo_cards['active']}"
        missing = client.get(
            "/distributor/find", query_string={"number": "x"}, headers={"HX-Request": "true"}
        )
        assert missing.status_code == 200
        assert missing.get_data(as_text=True).lstrip().startswith("<form")


class TestCardPage:
    def test_shows_status_validity_generation_and_use(self, signed_in, demo_cards):
        card = card_by_number(demo_cards["replaced"])
        venue = card.issuer  # any organisation will do
        for _ in range(3):
            create_visit(card, venue)
        db.session.commit()
        client = signed_in(JAKAJA)
        in_english(client)
        page = client.get(f"/distributor/cards/{card.number}").get_data(as_text=True)
        assert "Valid" in page and "Card generation" in page
        assert re.search(r"Card generation</dt><dd>2\b", page)
        assert re.search(r"Times used</dt><dd>3</dd>", page)
        assert card.valid_until.strftime("%Y") in page

    def test_revoked_card_shows_the_reason_and_no_actions(self, signed_in, demo_cards):
        client = signed_in(JAKAJA)
        in_english(client)
        page = client.get(f"/distributor/cards/{demo_cards['revoked']}").get_data(as_text=True)
        assert "Revoked" in page and "lost or stolen" in page
        assert "/revoke" not in page and "card.pdf" not in page

    def test_list_shows_the_organisations_cards(self, signed_in, demo_cards):
        page = signed_in(JAKAJA).get("/distributor/").get_data(as_text=True)
        for state in ("active", "expired", "revoked", "replaced"):
            card = db.session.scalar(select(Card).where(Card.number == demo_cards[state]))
            assert format_number(card.printed_number) in page  # what the card shows
        replaced = db.session.scalar(select(Card).where(Card.number == demo_cards["replaced"]))
        # The lost card's number is not (its first groups may begin the new one's: the new
        # version character can be the old check character).
        lost = re.escape(format_number(replaced.number)) + r"(?! [0-9A-Z])"
        assert re.search(lost, page) is None
        assert format_number(demo_cards["lappi"]) not in page


class TestActions:
    def test_each_change_is_confirmed_first(self, signed_in, demo_cards):
        number = demo_cards["active"]
        client = signed_in(JAKAJA)
        for action in ("renew", "reissue", "revoke", "move-phone"):
            page = client.get(f"/distributor/cards/{number}/{action}")
            assert page.status_code == 200
            assert 'method="post"' in page.get_data(as_text=True)
        card = card_by_number(number)
        assert (card.generation, card.revoked) == (1, False)
        assert audit_actions(number) == []

    def test_renew_sets_the_chosen_last_day(self, signed_in, demo_cards):
        number = demo_cards["expired"]
        new_end = cards.one_year_after(cards.today_in_finland())
        response = signed_in(JAKAJA).post(
            f"/distributor/cards/{number}/renew", data={"valid_until": new_end.isoformat()}
        )
        assert response.status_code == 303
        assert card_by_number(number).valid_until == new_end
        assert audit_actions(number) == ["card.renewed"]

    def test_reissue_makes_a_new_generation(self, signed_in, demo_cards):
        number = demo_cards["active"]
        old_token = cards.printed_token(card_by_number(number))
        signed_in(JAKAJA).post(f"/distributor/cards/{number}/reissue")
        card = card_by_number(number)
        assert card.generation == 2 and cards.printed_token(card) != old_token
        assert audit_actions(number) == ["card.reissued"]

    def test_revoke_records_the_reason(self, signed_in, demo_cards):
        number = demo_cards["active"]
        response = signed_in(JAKAJA).post(
            f"/distributor/cards/{number}/revoke", data={"reason": "misuse"}
        )
        assert response.status_code == 303
        card = card_by_number(number)
        assert card.revoked and card.revoke_reason is RevokeReason.MISUSE
        assert audit_actions(number) == ["card.revoked"]

    def test_revoke_refuses_an_unknown_reason(self, signed_in, demo_cards):
        number = demo_cards["active"]
        response = signed_in(JAKAJA).post(
            f"/distributor/cards/{number}/revoke", data={"reason": "bored"}
        )
        assert response.status_code == 422
        assert not card_by_number(number).revoked

    def test_moving_the_digital_card_gives_a_new_link_and_shows_it(self, signed_in, demo_cards):
        number = demo_cards["active"]
        card = card_by_number(number)
        old_key = card.digital_key
        card.digital_device = "0" * 64
        db.session.commit()
        client = signed_in(JAKAJA)
        response = client.post(f"/distributor/cards/{number}/move-phone")
        assert response.headers["Location"] == f"/distributor/cards/{number}/handover"
        card = card_by_number(number)
        assert card.digital_key != old_key and card.digital_device is None
        handover = client.get(response.headers["Location"]).get_data(as_text=True)
        assert f"/k/{card.digital_key}" in handover and "<svg" in handover
        assert audit_actions(number) == ["card.digital_moved", "card.token_handed_out"]

    def test_a_revoked_card_cannot_be_renewed(self, signed_in, demo_cards):
        number = demo_cards["revoked"]
        client = signed_in(JAKAJA)
        before = audit_actions(number)
        response = client.post(
            f"/distributor/cards/{number}/renew",
            data={"valid_until": cards.one_year_after(cards.today_in_finland()).isoformat()},
        )
        assert response.status_code == 303
        assert audit_actions(number) == before

    def test_unknown_action_is_not_found(self, signed_in, demo_cards):
        client = signed_in(JAKAJA)
        assert client.get(f"/distributor/cards/{demo_cards['active']}/burn").status_code == 404


class TestHandover:
    def test_shows_a_qr_of_the_digital_card_link_until_a_phone_opens_it(
        self, signed_in, demo_cards
    ):
        number = demo_cards["active"]
        client = signed_in(JAKAJA)
        page = client.get(f"/distributor/cards/{number}/handover").get_data(as_text=True)
        assert "<svg" in page and 'hx-trigger="every 3s"' in page
        card = card_by_number(number)
        card.digital_device = "0" * 64
        db.session.commit()
        status = client.get(f"/distributor/cards/{number}/handover", headers={"HX-Request": "true"})
        body = status.get_data(as_text=True)
        assert body.lstrip().startswith('<p id="handover-status"') and "hx-trigger" not in body


class TestPrinting:
    def test_card_pdf_is_one_card_front_and_back(self, signed_in, demo_cards):
        number = demo_cards["active"]
        response = signed_in(JAKAJA).get(f"/distributor/cards/{number}/card.pdf")
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert len(pdfium.PdfDocument(response.data)) == 2
        assert audit_actions(number) == ["card.printed"]

    def test_batch_prints_the_chosen_cards_on_a4(self, signed_in, demo_cards):
        chosen = [demo_cards["active"], demo_cards["expired"], demo_cards["replaced"]]
        response = signed_in(JAKAJA).post(
            "/distributor/print", data={"number": chosen, "backs": "1"}
        )
        assert response.mimetype == "application/pdf"
        document = pdfium.PdfDocument(response.data)
        assert len(document) == 2  # fronts, then backs
        width, height = document[0].get_size()
        assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (210, 297)

    def test_batch_without_cards_explains_what_to_do(self, signed_in, demo_cards):
        response = signed_in(JAKAJA).post("/distributor/print", data={})
        assert response.status_code == 303 and response.headers["Location"] == "/distributor/"


class TestOtherOrganisationsCards:
    """Staff of Rovaniemen sosiaalipalvelut may not see or touch Kuopio's cards."""

    def test_card_page_and_pdf_are_not_found(self, signed_in, demo_cards):
        client = signed_in(LAPPI)
        number = demo_cards["active"]
        assert client.get(f"/distributor/cards/{number}").status_code == 404
        assert client.get(f"/distributor/cards/{number}/card.pdf").status_code == 404
        assert client.get(f"/distributor/cards/{number}/handover").status_code == 404
        assert client.get(f"/distributor/cards/{number}/revoke").status_code == 404

    def test_actions_are_refused_and_change_nothing(self, signed_in, demo_cards):
        client = signed_in(LAPPI)
        number = demo_cards["active"]
        before = card_by_number(number)
        key, generation = before.digital_key, before.generation
        for action, data in (
            ("revoke", {"reason": "lost"}),
            ("reissue", {}),
            ("renew", {"valid_until": "2099-01-01"}),
            ("move-phone", {}),
        ):
            assert (
                client.post(f"/distributor/cards/{number}/{action}", data=data).status_code == 404
            )
        card = card_by_number(number)
        assert not card.revoked and card.generation == generation and card.digital_key == key
        assert audit_actions(number) == []

    def test_find_and_list_do_not_reveal_them(self, signed_in, demo_cards):
        client = signed_in(LAPPI)
        in_english(client)
        found = client.get("/distributor/find", query_string={"number": demo_cards["active"]})
        assert found.status_code == 404
        assert "None of your organisation" in found.get_data(as_text=True)
        page = client.get("/distributor/").get_data(as_text=True)
        assert format_number(demo_cards["lappi"]) in page
        assert format_number(demo_cards["active"]) not in page

    def test_batch_print_leaves_them_out(self, signed_in, demo_cards):
        client = signed_in(LAPPI)
        response = client.post("/distributor/print", data={"number": [demo_cards["active"]]})
        assert response.status_code == 303  # nothing of theirs was chosen
        both = client.post(
            "/distributor/print", data={"number": [demo_cards["active"], demo_cards["lappi"]]}
        )
        assert both.mimetype == "application/pdf"
        assert audit_actions(demo_cards["active"]) == []
        assert audit_actions(demo_cards["lappi"]) == ["card.printed"]


@pytest.mark.parametrize("email", ["ovi@example.fi", "koordinaattori@example.fi"])
def test_other_roles_cannot_use_the_workspace(signed_in, demo_cards, email):
    client = signed_in(email)
    assert client.get("/distributor/").status_code == 403
    assert client.get(f"/distributor/cards/{demo_cards['active']}").status_code == 403


def test_a_deactivated_distributor_vanishes_from_the_register_page(signed_in):
    client = signed_in(JAKAJA)
    name = "Kuopion sosiaalipalvelut"
    org = db.session.scalar(select(Organisation).where(Organisation.name == name))
    assert f'name="issuer" value="{org.id}"' in client.get("/distributor/cards/new").text
    org.active = False
    db.session.commit()
    assert f'value="{org.id}"' not in client.get("/distributor/cards/new").text
    before = db.session.scalar(select(func.count()).select_from(Card))
    client.post("/distributor/cards/new", data={"issuer": org.id, **register_data()})
    assert db.session.scalar(select(func.count()).select_from(Card)) == before


class TestCorrections:
    """A mistyped number of children or postcode can be put right, and the log says so."""

    def test_renewal_corrects_children_and_postcode(self, signed_in, demo_cards):
        number = demo_cards["active"]
        new_end = cards.one_year_after(cards.today_in_finland())
        response = signed_in(JAKAJA).post(
            f"/distributor/cards/{number}/renew",
            data={"valid_until": new_end.isoformat(), "children": "3", "postcode": "70200"},
        )
        assert response.status_code == 303
        card = card_by_number(number)
        assert (card.valid_until, card.children, card.postcode) == (new_end, 3, "70200")
        assert audit_actions(number) == ["card.renewed", "card.corrected"]
        corrected = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "card.corrected")
        )
        assert corrected.details == {"children": 3, "postcode": "70200"}

    def test_renewal_form_offers_the_card_as_it_is(self, signed_in, demo_cards):
        card = card_by_number(demo_cards["active"])
        page = signed_in(JAKAJA).get(f"/distributor/cards/{card.number}/renew").text
        assert f'name="children" type="number" value="{card.children}"' in page
        assert f'name="postcode" type="text" value="{card.postcode}"' in page

    def test_renewal_with_a_bad_postcode_changes_nothing(self, signed_in, demo_cards):
        number = demo_cards["active"]
        before = card_by_number(number).valid_until
        response = signed_in(JAKAJA).post(
            f"/distributor/cards/{number}/renew",
            data={"valid_until": "2099-01-01", "children": "2", "postcode": "7010"},
        )
        assert response.status_code == 422 and "viitenä numerona" in response.text
        assert card_by_number(number).valid_until == before
        assert audit_actions(number) == []

    def test_children_and_postcode_are_corrected_as_an_edit(self, signed_in, demo_cards):
        number = demo_cards["active"]
        client = signed_in(JAKAJA)
        assert "/correct" in client.get(f"/distributor/cards/{number}").text
        response = client.post(
            f"/distributor/cards/{number}/correct", data={"children": "0", "postcode": "70100"}
        )
        assert response.status_code == 303
        assert card_by_number(number).children == 0
        assert audit_actions(number) == ["card.corrected"]

    def test_a_correction_outside_the_limits_is_explained(self, signed_in, demo_cards):
        number = demo_cards["active"]
        children = card_by_number(number).children
        response = signed_in(JAKAJA).post(
            f"/distributor/cards/{number}/correct", data={"children": "21", "postcode": "70100"}
        )
        assert response.status_code == 422 and 'class="error"' in response.text
        assert card_by_number(number).children == children
        assert audit_actions(number) == []

    def test_a_revoked_card_cannot_be_corrected(self, signed_in, demo_cards):
        number = demo_cards["revoked"]
        with pytest.raises(cards.CardError) as error:
            cards.correct_card(card_by_number(number), actor=None, children=1, postcode="70100")
        assert error.value.code == "revoked"


class TestReprint:
    def test_renewal_offers_to_print_the_new_card(self, signed_in, demo_cards):
        number = demo_cards["expired"]
        client = signed_in(JAKAJA)
        new_end = cards.one_year_after(cards.today_in_finland())
        response = client.post(
            f"/distributor/cards/{number}/renew", data={"valid_until": new_end.isoformat()}
        )
        assert response.headers["Location"] == f"/distributor/cards/{number}?reprint=1"
        page = client.get(response.headers["Location"]).text
        offer = page.split('<div class="reprint" role="status">', 1)[1].split("</div>", 1)[0]
        assert "Tulosta uusi kortti nyt." in offer
        assert f'href="/distributor/cards/{number}/card.pdf"' in offer

    def test_replacing_a_lost_card_offers_to_print_it(self, signed_in, demo_cards):
        number = demo_cards["active"]
        client = signed_in(JAKAJA)
        response = client.post(f"/distributor/cards/{number}/reissue")
        page = client.get(response.headers["Location"]).text
        assert 'class="reprint"' in page and f"/cards/{number}/card.pdf" in page

    def test_no_offer_without_a_change(self, signed_in, demo_cards):
        page = signed_in(JAKAJA).get(f"/distributor/cards/{demo_cards['active']}").text
        assert 'class="reprint"' not in page


class TestRegionOutsideTheNetwork:
    """Lappi joins the network a year after the demo: its cards are refused at every door."""

    def test_card_page_shows_the_day_its_region_joins(self, signed_in, demo_cards):
        card = card_by_number(demo_cards["lappi"])
        [joins] = [m.starts_on for m in card.region.memberships]
        page = signed_in(LAPPI).get(f"/distributor/cards/{card.number}").text
        status = page.split('<p class="status', 1)[1].split("</p>", 1)[0]
        assert "Ei vielä käytössä: alue liittyy verkostoon" in status
        assert str(joins.year) in status and "Voimassa" not in status

    def test_list_shows_the_same_status(self, signed_in, demo_cards):
        page = signed_in(LAPPI).get("/distributor/").text
        assert "Ei vielä käytössä: alue liittyy verkostoon" in page

    def test_status_follows_the_door_rule_on_the_joining_day(self, demo_cards):
        card = card_by_number(demo_cards["lappi"])
        [joins] = [m.starts_on for m in card.region.memberships]
        assert cards.desk_status(card, cards.today_in_finland()) == ("not_in_network", joins)
        card.valid_until = joins + timedelta(days=30)
        assert cards.desk_status(card, joins) == ("active", None)


class TestExpiredCardsAreNotPrinted:
    def test_list_offers_no_tick_box_for_an_expired_card(self, signed_in, demo_cards):
        page = signed_in(JAKAJA).get("/distributor/").text
        boxes = set(re.findall(r'name="number" value="(\w+)" class="pick-card"', page))
        assert demo_cards["active"] in boxes
        assert demo_cards["expired"] not in boxes and demo_cards["revoked"] not in boxes

    def test_batch_leaves_an_expired_card_out(self, signed_in, demo_cards):
        client = signed_in(JAKAJA)
        response = client.post("/distributor/print", data={"number": [demo_cards["expired"]]})
        assert response.status_code == 303
        assert audit_actions(demo_cards["expired"]) == []

    def test_card_pdf_of_an_expired_card_says_renew_first(self, signed_in, demo_cards):
        number = demo_cards["expired"]
        client = signed_in(JAKAJA)
        response = client.get(f"/distributor/cards/{number}/card.pdf")
        assert response.status_code == 303
        page = client.get(response.headers["Location"]).text
        assert "jatka ensin sen voimassaoloa" in page
        assert f"/cards/{number}/card.pdf" not in page
        assert audit_actions(number) == []


class TestFixedFormBanner:
    def test_banner_goes_once_every_field_is_right(self, signed_in):
        client = signed_in(JAKAJA)
        bad = client.post("/distributor/cards/new", data=with_form_defaults(client, {}))
        assert 'id="form-problems"><p class="message message-error"' in bad.text
        fixed = client.post(
            "/distributor/cards/new/check/postcode",
            data=with_form_defaults(client, register_data()),
        )
        assert '<div id="form-problems" hx-swap-oob="true"></div>' in fixed.text

    def test_banner_stays_while_a_field_is_wrong(self, signed_in):
        client = signed_in(JAKAJA)
        data = with_form_defaults(client, register_data(children="99"))
        response = client.post("/distributor/cards/new/check/postcode", data=data)
        assert "form-problems" not in response.text


def test_coordinator_reads_the_correction_in_the_audit_log(signed_in, demo_cards):
    cards.correct_card(
        card_by_number(demo_cards["active"]), actor=None, children=0, postcode="70100"
    )
    db.session.commit()
    page = signed_in("koordinaattori@example.fi").get("/coordinator/audit").text
    assert "Kortin lasten määrä tai postinumero korjattu" in page


class TestRenewals:
    """The worklist of cards to offer a renewal: ending within 30 days or ended within 60."""

    def rows(self, page: str) -> list[str]:
        return re.findall(r'class="card-link">([^<]+)</a>', page)

    def test_home_links_to_the_worklist(self, signed_in):
        page = signed_in(JAKAJA).get("/distributor/").get_data(as_text=True)
        assert 'href="/distributor/renewals">Voimassaoloa jatkettavat kortit</a>' in page

    def test_lists_cards_due_earliest_first_each_with_its_renew_action(self, signed_in, demo_cards):
        revoked = card_by_number(demo_cards["revoked"])
        revoked.valid_until = cards.today_in_finland() + timedelta(days=5)  # due, but revoked
        soon = card_by_number(demo_cards["active"])
        soon.valid_until = cards.today_in_finland() + timedelta(days=10)
        db.session.commit()
        response = signed_in(JAKAJA).get("/distributor/renewals")
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "<h1>Voimassaoloa jatkettavat kortit</h1>" in page
        # The demo's expired card ended 35 days ago; the replaced one runs for months yet.
        assert self.rows(page) == [format_number(demo_cards[s]) for s in ("expired", "active")]
        for state in ("expired", "active"):
            assert (
                f'href="/distributor/cards/{demo_cards[state]}/renew">Jatka voimassaoloa<' in page
            )
        assert "Vanhentunut" in page

    def test_speaks_swedish(self, signed_in, demo_cards):
        client = signed_in(JAKAJA)
        client.get("/language/sv")
        flask_babel.refresh()
        page = client.get("/distributor/renewals").get_data(as_text=True)
        assert "<h1>Kort att förlänga</h1>" in page
        assert "inom 30 dagar" in page and "senaste 60 dagarna" in page
        assert ">Förläng<" in page

    def test_other_organisations_cards_never_appear(self, app, signed_in, demo_cards):
        lappi = card_by_number(demo_cards["lappi"])
        lappi.valid_until = cards.today_in_finland() + timedelta(days=3)
        db.session.commit()
        kuopio = signed_in(JAKAJA).get("/distributor/renewals").get_data(as_text=True)
        assert format_number(demo_cards["lappi"]) not in kuopio
        rovaniemi = app.test_client()
        assert rovaniemi.sign_in(LAPPI).status_code == 302
        page = rovaniemi.get("/distributor/renewals").get_data(as_text=True)
        assert self.rows(page) == [format_number(demo_cards["lappi"])]
        assert format_number(demo_cards["expired"]) not in page

    def test_says_so_when_nothing_is_due(self, signed_in, demo_cards):
        client = signed_in(LAPPI)
        in_english(client)
        page = client.get("/distributor/renewals").get_data(as_text=True)
        assert "No card of your organisation is due for renewal now." in page
        assert "<table" not in page


class TestCommunityCards:
    """The organisation's own card for its workers' groups of clients under 16."""

    def form(self, client, **changes) -> dict:
        page = client.get("/distributor/community-cards/new").get_data(as_text=True)
        data = {
            "issuer": re.search(r'name="issuer" value="(\d+)"', page).group(1),
            "region": re.search(r'<option selected value="(\d+)">', page).group(1),
            "children": "6",
            "valid_until": cards.one_year_after(cards.today_in_finland()).isoformat(),
        }
        data.update(changes)
        return data

    def test_home_offers_to_register_one(self, signed_in):
        page = signed_in(JAKAJA).get("/distributor/").get_data(as_text=True)
        assert 'href="/distributor/community-cards/new">Rekisteröi yhteisökortti<' in page

    def test_registers_the_organisations_card_without_a_holder(self, signed_in):
        client = signed_in(JAKAJA)
        page = client.get("/distributor/community-cards/new").get_data(as_text=True)
        assert 'name="birth_year"' not in page and 'name="postcode"' not in page
        # A birth year or postcode slipped into the post is no field of the form: not stored.
        data = self.form(client, birth_year="1980", postcode="70100")
        response = client.post("/distributor/community-cards/new", data=data)
        assert response.status_code == 303
        number = response.headers["Location"].rsplit("/", 1)[1]
        card = card_by_number(number)
        assert card.is_community and card.issuer.name == "Kuopion sosiaalipalvelut"
        assert (card.birth_year, card.postcode, card.children) == (None, None, 6)
        shown = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "<dd>Yhteisökortti</dd>" in shown and "<dd>Kuopion sosiaalipalvelut</dd>" in shown
        assert "Syntymävuosi" not in shown and "Postinumero" not in shown
        assert "/handover" not in shown and "/move-phone" not in shown  # printed only

    @pytest.mark.parametrize("children", ["0", "16", "", "viisi"])
    def test_a_group_size_outside_1_to_15_is_explained_and_nothing_stored(
        self, signed_in, demo_cards, children
    ):
        client = signed_in(JAKAJA)
        response = client.post(
            "/distributor/community-cards/new", data=self.form(client, children=children)
        )
        assert response.status_code == 422
        assert 'class="error"' in response.get_data(as_text=True)
        assert db.session.scalar(select(func.count()).select_from(Card)) == len(demo_cards)

    def test_the_group_is_corrected_without_a_postcode(self, signed_in, demo_cards):
        client = signed_in(JAKAJA)
        number = demo_cards["community"]
        page = client.get(f"/distributor/cards/{number}/correct").get_data(as_text=True)
        assert 'name="children"' in page and 'name="postcode"' not in page
        response = client.post(f"/distributor/cards/{number}/correct", data={"children": "3"})
        assert response.status_code == 303
        assert (card_by_number(number).children, card_by_number(number).postcode) == (3, None)
        assert audit_actions(number) == ["card.corrected"]

    def test_renewal_keeps_it_a_community_card(self, signed_in, demo_cards):
        number = demo_cards["community"]
        new_end = cards.today_in_finland() + timedelta(days=200)
        response = signed_in(JAKAJA).post(
            f"/distributor/cards/{number}/renew", data={"valid_until": new_end.isoformat()}
        )
        assert response.status_code == 303
        card = card_by_number(number)
        assert card.valid_until == new_end and card.is_community and card.postcode is None

    @pytest.mark.parametrize("path", ["handover", "move-phone"])
    def test_it_has_no_digital_card(self, signed_in, demo_cards, path):
        number = demo_cards["community"]
        assert signed_in(JAKAJA).get(f"/distributor/cards/{number}/{path}").status_code == 404

    def test_its_digital_link_opens_nothing(self, client, demo_cards):
        key = card_by_number(demo_cards["community"]).digital_key
        assert client.get(f"/k/{key}").status_code == 404

    def test_it_is_marked_in_the_renewal_worklist(self, signed_in, demo_cards):
        community = card_by_number(demo_cards["community"])
        community.valid_until = cards.today_in_finland() + timedelta(days=3)
        db.session.commit()
        page = signed_in(JAKAJA).get("/distributor/renewals").get_data(as_text=True)
        row = page.split(format_number(demo_cards["community"]), 1)[1].split("</td>", 1)[0]
        assert "Yhteisökortti" in row

    def test_it_prints_as_a_community_card(self, signed_in, demo_cards):
        response = signed_in(JAKAJA).get(f"/distributor/cards/{demo_cards['community']}/card.pdf")
        assert response.status_code == 200
        front = pdfium.PdfDocument(response.data)[0].get_textpage().get_text_range()
        assert "Yhteisön Kaikukortti" in front and "Kuopion sosiaalipalvelut" in front


@pytest.mark.parametrize(
    ("action", "children"), [("correct", "16"), ("renew", "0"), ("renew", "20")]
)
def test_a_community_cards_group_beyond_1_to_15_is_explained_on_the_field(
    signed_in, demo_cards, action, children
):
    number = demo_cards["community"]
    response = signed_in(JAKAJA).post(
        f"/distributor/cards/{number}/{action}",
        data={"children": children, "valid_until": cards.today_in_finland().isoformat()},
    )
    assert response.status_code == 422
    assert "Anna luku väliltä 1–15." in response.get_data(as_text=True)
    assert card_by_number(number).children == 5
