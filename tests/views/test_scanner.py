import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from webapp import ROOT, cardnumbers
from webapp.extensions import db
from webapp.models import Card, Event, Organisation, Role, User, Visit, VisitSource
from webapp.services import cards
from webapp.services.offline import CHECK_BYTES, number_hash, number_salt
from webapp.views import scanner as scanner_view
from webapp.views.scanner import SAME_PAGE_SECONDS

from .. import offline_wire
from ..conftest import PASSWORD
from ..factories import create_user
from ..statements import statements

HX = {"HX-Request": "true"}
OFFLINE_VERDICT = "static/js/offline-verdict.js"
SCANNER_SCRIPTS = ("scanner.js", "scanner-ui.js")


def card(number: str) -> Card:
    return db.session.scalar(select(Card).where(Card.number == number))


def venue_id(name: str = "Kuopion kaupunginteatteri") -> int:
    return db.session.scalar(select(Organisation.id).where(Organisation.name == name))


def visits() -> list[Visit]:
    db.session.rollback()
    return list(db.session.scalars(select(Visit).order_by(Visit.id)))


@pytest.fixture
def door(signed_in, demo_cards):
    """The theatre's door staff, signed in; ``door.token(state)`` gives a demo card's token."""
    client = signed_in("ovi@example.fi")
    client.token = lambda state: cards.printed_token(card(demo_cards[state]))
    client.venue = venue_id()
    return client


def verify(client, **data):
    return client.post("/scan/verify", data={"venue": client.venue, **data}, headers=HX)


def record(client, **data):
    data = {"venue": client.venue, "children": "0", **data}
    return client.post("/scan/visits", data=data, headers=HX)


def verdict_of(response) -> tuple[str, str]:
    match = re.search(r'data-state="(\w+)" data-reason="(\w+)"', response.text)
    assert match, response.text
    return match.group(1), match.group(2)


class TestPage:
    def test_venue_staff_gets_the_scanner_of_their_venue(self, door):
        page = door.get("/scan")
        assert page.status_code == 200
        assert "Kuopion kaupunginteatteri" in page.text
        assert 'id="manual-entry"' in page.text and 'id="verdict"' in page.text
        config = json.loads(
            re.search(r'id="scanner-config">(.*?)</script>', page.text, re.S).group(1)
        )
        assert config["venue"] == door.venue
        assert config["urls"]["serviceWorker"] == "/sw.js"
        assert {"ok", "revoked", "offline_unknown", "offline_digital"} <= config["words"].keys()

    def test_the_page_carries_the_words_of_the_phones_own_verdicts_only(self, door):
        """The phone says all of a verdict it makes offline; of a refusal only the server
        makes, it names the title (a visit refused when sent): the page loads twice."""
        raw = re.search(r'id="scanner-config">(.*?)</script>', door.get("/scan").text, re.S)
        words = json.loads(raw.group(1))["words"]
        made_offline = set(re.findall(r'key: "(\w+)"', (ROOT / OFFLINE_VERDICT).read_text()))
        assert {"ok", "replaced", "offline_unknown", "check_card"} <= made_offline
        for key in made_offline:
            assert words[key].keys() == {"title", "staff", "holder"}, key
        for key in ("revoked", "quota_full", "unknown_card", "visit_undone"):
            assert words[key].keys() == {"title"}, key
        assert words["ok"]["title"] in raw.group(1)  # "Hyväksytty" as it is, not \u00e4

    def test_every_label_of_the_page_is_written_by_its_script(self, door):
        raw = re.search(r'id="scanner-config">(.*?)</script>', door.get("/scan").text, re.S)
        script = "".join((ROOT / "static/js" / name).read_text() for name in SCANNER_SCRIPTS)
        labels = json.loads(raw.group(1))["labels"]
        unused = [
            key
            for key in labels
            if not re.search(rf'\b(labels|l)\.{key}\b|cameraMessage\([^)]*"{key}"', script)
        ]
        assert unused == []

    def test_page_has_no_inline_script_or_style(self, door):
        page = door.get("/scan").text
        for attrs in re.findall(r"<script([^>]*)>", page):
            assert "src=" in attrs or 'type="application/json"' in attrs, attrs
        assert " style=" not in page and "<style" not in page
        assert not re.search(r"\son[a-z]+=", page)

    @pytest.mark.parametrize("email", ["jakaja@example.fi", "koordinaattori@example.fi"])
    def test_other_roles_are_refused(self, signed_in, email):
        assert signed_in(email).get("/scan").status_code == 403

    def test_staff_of_several_venues_chooses_one_and_it_is_remembered(self, door):
        user = db.session.scalar(select(User).where(User.email == "ovi@example.fi"))
        college = db.session.get(Organisation, venue_id("Kuopion kansalaisopisto"))
        user.organisations.append(college)
        db.session.commit()
        choose = door.get("/scan")
        assert "Kuopion kansalaisopisto" in choose.text and 'id="manual-entry"' not in choose.text
        page = door.get(f"/scan?venue={college.id}")
        assert f'"venue": {college.id}' in page.text
        assert f'"venue": {college.id}' in door.get("/scan").text
        not_theirs = door.get(f"/scan?venue={venue_id('Kajaanin kaupunginteatteri')}")
        assert f'"venue": {college.id}' in not_theirs.text

    def test_staff_without_a_venue_is_told_so(self, door):
        user = db.session.scalar(select(User).where(User.email == "ovi@example.fi"))
        user.organisations.clear()
        db.session.commit()
        page = door.get("/scan")
        assert page.status_code == 200 and 'id="manual-entry"' not in page.text


def revalidate(client, page):
    return client.get("/scan", headers={"If-None-Match": page.headers["ETag"]})


def later(monkeypatch, page, seconds: int) -> None:
    """Move the clock to the given seconds after the page was sent: its tokens are signed
    anew."""
    issued = int(page.headers["ETag"].removeprefix('W/"').split("-")[0])
    monkeypatch.setattr(scanner_view.time, "time", lambda: issued + seconds)


class TestPageRevalidation:
    """The worker keeps the page the browser has just loaded (a 304), never another one."""

    def test_the_same_page_of_the_same_session_is_not_sent_again(self, door, monkeypatch):
        page = door.get("/scan")
        assert page.headers["Cache-Control"] == "no-cache, private"
        later(monkeypatch, page, 5)
        again = revalidate(door, page)
        assert again.status_code == 304 and again.data == b""
        assert again.headers["ETag"] == page.headers["ETag"]
        assert again.headers["Cache-Control"] == "no-cache, private"

    def test_the_copy_carries_tokens_that_still_work(self, door, monkeypatch):
        page = door.get("/scan")
        later(monkeypatch, page, SAME_PAGE_SECONDS)
        assert revalidate(door, page).status_code == 304
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
        checked = door.post(
            "/scan/verify",
            data={"venue": door.venue, "token": door.token("active")},
            headers={**HX, "X-CSRFToken": csrf},
        )
        assert checked.status_code == 200 and verdict_of(checked) == ("ok", "ok")

    def test_a_page_that_changed_is_sent_again(self, door):
        page = door.get("/scan")
        door.get("/language/sv")
        again = revalidate(door, page)
        assert again.status_code == 200 and "Läsare" in again.text
        assert again.headers["ETag"] != page.headers["ETag"]

    def test_after_sign_out_and_in_again_the_old_copy_is_not_used(self, door):
        page = door.get("/scan")
        door.post("/sign-out")
        assert revalidate(door, page).status_code == 302  # to the sign-in, not the copy
        door.sign_in("ovi@example.fi")
        again = revalidate(door, page)
        assert again.status_code == 200 and again.headers["ETag"] != page.headers["ETag"]

    def test_another_persons_copy_on_a_shared_phone_is_not_used(self, door, app):
        page = door.get("/scan")
        theatre = db.session.get(Organisation, door.venue)
        create_user("ovi2@example.fi", organisations=[theatre])
        db.session.commit()
        door.post("/sign-out")
        assert door.sign_in("ovi2@example.fi", "salasana-123").status_code == 302
        again = revalidate(door, page)
        assert again.status_code == 200 and "ovi2@example.fi" in again.text

    def test_a_copy_older_than_the_limit_is_sent_again(self, door, monkeypatch):
        page = door.get("/scan")
        later(monkeypatch, page, SAME_PAGE_SECONDS)
        assert revalidate(door, page).status_code == 304
        later(monkeypatch, page, SAME_PAGE_SECONDS + 1)
        again = revalidate(door, page)
        assert again.status_code == 200 and again.headers["ETag"] != page.headers["ETag"]

    @pytest.mark.parametrize(
        "tag", ["*", 'W/"1-abc"', 'W/"99999999999999999999-x"', 'W/"²-x"', '"-"', "garbage"]
    )
    def test_a_made_up_tag_gets_the_page(self, door, tag):
        door.get("/scan")
        page = door.get("/scan", headers={"If-None-Match": tag})
        assert page.status_code == 200 and 'id="manual-entry"' in page.text

    @pytest.mark.parametrize("digest", ["é", "xÿ", "ä" * 32])
    def test_a_fresh_tag_with_letters_beyond_ascii_gets_the_page(self, door, digest):
        door.get("/scan")
        tag = f'W/"{int(time.time())}-{digest}"'.encode().decode("latin-1")  # as a server reads it
        page = door.get("/scan", headers={"If-None-Match": tag})
        assert page.status_code == 200 and 'id="manual-entry"' in page.text


class TestVerify:
    def test_htmx_gets_only_the_fragment(self, door):
        response = verify(door, token=door.token("active"))
        assert response.status_code == 200
        assert "<html" not in response.text
        assert "HX-Request" in response.headers["Vary"]
        assert verdict_of(response) == ("ok", "ok")
        assert 'name="children"' in response.text and 'max="2"' in response.text

    def test_without_javascript_the_whole_page_shows_the_verdict(self, door):
        response = door.post("/scan/verify", data={"venue": door.venue, "number": "x"})
        assert response.status_code == 200
        assert "<html" in response.text and verdict_of(response) == ("refuse", "invalid_token")

    @pytest.mark.parametrize(
        ("state", "reason"),
        [("revoked", "revoked"), ("expired", "expired"), ("lappi", "region_not_accepted")],
    )
    def test_refused_cards_are_red_with_their_reason(self, door, state, reason):
        response = verify(door, token=door.token(state))
        assert verdict_of(response) == ("refuse", reason)
        assert "Record visit" not in response.text

    def test_old_token_of_a_reissued_card_is_replaced(self, door, demo_cards):
        replaced = card(demo_cards["replaced"])
        from webapp import tokens

        old = tokens.sign_card(replaced.number, 1, ["current-test-key"])
        assert verdict_of(verify(door, token=old)) == ("refuse", "replaced")
        assert verdict_of(verify(door, token=door.token("replaced"))) == ("ok", "ok")

    def test_digital_card_code_verifies(self, door, demo_cards):
        token = cards.digital_token(card(demo_cards["active"]))
        assert verdict_of(verify(door, token=token)) == ("ok", "ok")

    def test_second_visit_today_is_orange(self, door):
        assert record(door, token=door.token("active")).status_code == 201
        assert verdict_of(verify(door, token=door.token("active"))) == ("warn", "ok")

    def test_typed_number_is_checked_on_the_server(self, door, demo_cards):
        number = demo_cards["active"]
        typed = f" {number[:3].lower()}-{number[3:6]} {number[6:]} "
        assert verdict_of(verify(door, number=typed)) == ("warn", "ok")
        typo = number[:-1] + ("2" if number[-1] != "2" else "3")
        response = verify(door, number=typo)
        assert verdict_of(response) == ("refuse", "invalid_token")
        assert "ei ole Kaikukortin numero" in response.text  # Finnish, the default

    def test_a_reissued_cards_old_printed_number_is_replaced(self, door, demo_cards):
        card = db.session.scalar(select(Card).where(Card.number == demo_cards["replaced"]))
        lost = card.printed_number  # generation 2, as printed on the card now lost
        cards.reissue_card(card, actor=None)
        db.session.commit()
        for old in (lost.lower(), card.number):  # generations 2 and 1
            assert verdict_of(verify(door, number=old)) == ("refuse", "replaced")
        current = cardnumbers.format_number(card.printed_number)
        response = verify(door, number=current.lower())
        assert verdict_of(response) == ("warn", "ok")
        # "Check that the card shown bears this number": the number the card bears.
        assert f">{current}<" in response.text

    def test_the_next_printed_number_cannot_be_made_from_the_lost_card(self, door, demo_cards):
        card = db.session.scalar(select(Card).where(Card.number == demo_cards["replaced"]))
        cards.reissue_card(card, actor=None)
        db.session.commit()
        # What the lost card tells: its data characters and the next version, with a secret
        # the finder makes up (the check character is theirs to compute).
        guess = "EEEEE" if card.printed_secret != "EEEEE" else "FFFFF"
        made_up = cardnumbers.printed_number(card.number, card.generation, guess)
        assert made_up[:9] == card.printed_number[:9]
        response = verify(door, number=made_up)
        assert verdict_of(response) == ("refuse", "invalid_token")
        assert card.number not in response.text  # a made-up number names no card
        later = cardnumbers.printed_number(card.number, card.generation + 1, card.printed_secret)
        assert verdict_of(verify(door, number=later)) == ("refuse", "invalid_token")
        assert record(door, number=made_up).status_code == 422
        assert visits() == []

    @pytest.mark.parametrize("language", ["fi", "sv", "en"])
    def test_the_number_field_takes_any_printed_number_as_the_card_shows_it(self, door, language):
        door.set_cookie("lang", language)
        page = door.get("/scan").text
        field = re.search(r'<input id="manual-number"[^>]*maxlength="(\d+)"', page)
        longest = cardnumbers.printed_number(
            cardnumbers.new_number(), cardnumbers.MAX_GENERATION, cardnumbers.new_secret()
        )
        assert int(field.group(1)) >= len(cardnumbers.format_number(longest))
        # A reissued card carries 15 characters or more: the hint names no one length.
        hint = re.search(r'id="manual-number-hint">([^<]*)<', page).group(1)
        assert not re.search(r"\b(9|15)\b", hint), hint
        assert "K7M X4P Q2D" in hint

    def test_a_typed_number_is_orange_and_asks_to_look_at_the_card(self, door, demo_cards):
        response = verify(door, number=demo_cards["active"])
        assert verdict_of(response) == ("warn", "ok")
        assert "Katso korttia" in response.text  # Finnish, the default
        assert "näytetyssä kortissa on tämä numero" in response.text
        assert "Kirjaa käynti" in response.text  # accepted: the visit can be recorded
        assert record(door, number=demo_cards["active"]).status_code == 201
        scanned = verify(door, token=door.token("active"))  # a scanned code needs no look
        assert "Katso korttia" not in scanned.text

    def test_a_reissued_card_is_shown_by_the_number_it_carries(self, door, demo_cards):
        replaced = card(demo_cards["replaced"])
        shown = cardnumbers.format_number(replaced.printed_number)
        assert shown != cardnumbers.format_number(replaced.number)
        assert shown in verify(door, token=door.token("replaced")).text
        recorded = record(door, token=door.token("replaced"))
        assert recorded.status_code == 201
        assert f'data-card-number="{shown}"' in recorded.text  # the recent list's row

    def test_course_provider_offers_no_children(self, signed_in, demo_cards):
        client = signed_in("opisto@example.fi")
        token = cards.printed_token(card(demo_cards["active"]))
        response = client.post(
            "/scan/verify",
            data={"venue": venue_id("Kuopion kansalaisopisto"), "token": token},
            headers=HX,
        )
        assert verdict_of(response) == ("ok", "ok")
        assert 'name="children" value="0"' in response.text
        assert 'data-slot="children-stepper"' not in response.text
        # An assistant, guide or interpreter comes free beside the holder at a course too.
        assert 'data-slot="assistants-stepper"' in response.text
        # Finnish by default: it says why instead of a bare 0.
        assert "kursseille lapset eivät pääse maksutta" in response.text
        assert re.search(r'data-slot="max-children"[^>]*>0<', response.text) is None

    def test_course_provider_explains_no_children_offline_too(self, signed_in, demo_cards):
        page = signed_in("opisto@example.fi").get("/scan").text
        template = page.split('id="offline-verdict-template"', 1)[1].split("</template>", 1)[0]
        assert 'data-none="Ei yhtään: kursseille lapset eivät pääse maksutta"' in template

    def test_theatre_names_a_card_without_children(self, door, demo_cards):
        holder = card(demo_cards["active"])
        holder.children = 0
        db.session.commit()
        response = verify(door, token=door.token("active"))
        assert verdict_of(response) == ("ok", "ok")
        assert "Kortille ei ole merkitty lapsia" in response.text

    def test_scanner_opens_with_one_start_tap(self, door):
        page = door.get("/scan").text
        assert re.search(
            r'<button type="button" class="start-button" id="scanner-start"[^>]*>Aloita<', page
        )

    def test_another_venue_is_forbidden(self, door):
        response = door.post(
            "/scan/verify",
            data={"venue": venue_id("Kajaanin kaupunginteatteri"), "token": door.token("active")},
            headers=HX,
        )
        assert response.status_code == 403

    @pytest.mark.parametrize(
        ("language", "accepted", "words"),
        [
            ("fi", "kortti hyväksytty", ("pienituloi", "vähävarai", "köyhä", "toimeentulotu")),
            ("sv", "kortet godkänt", ("inkomst", "fattig", "försörjningsstöd")),
            ("en", "card accepted", ("income", "poverty", "poor", "welfare")),
        ],
    )
    def test_wording_is_discreet(self, door, language, accepted, words):
        # the holder hears the verdict: it never says why they have the card
        door.set_cookie("lang", language)
        assert accepted in verify(door, token=door.token("active")).text.lower()
        for state in ("active", "revoked", "expired", "lappi", "community"):
            text = verify(door, token=door.token(state)).text.lower()
            assert not [word for word in words if word in text], (state, text)


class TestRecord:
    def test_records_the_holder_and_the_children(self, door):
        response = record(door, token=door.token("active"), children="2", idempotency_key="k1")
        assert response.status_code == 201
        [visit] = visits()
        assert (visit.children, visit.adults, visit.source) == (2, 1, VisitSource.CAMERA)
        assert f'id="visit-{visit.id}"' in response.text and "hx-swap-oob" in response.text

    def test_an_assistant_stepper_from_0_to_2_sits_beside_the_children(self, door):
        response = verify(door, token=door.token("active"))
        stepper = response.text.split('data-slot="assistants-stepper"', 1)[1].split("</div>")[0]
        assert '<span class="stepper-label" id="assistants-label">Avustajat</span>' in stepper
        assert 'name="assistants" value="0" min="0" max="2"' in stepper
        assert 'aria-label="Yksi avustaja lisää"' in stepper
        assert response.text.index("children-stepper") < response.text.index("assistants-stepper")

    def test_records_the_assistants_and_says_so(self, door):
        response = record(
            door, token=door.token("active"), children="1", assistants="2", idempotency_key="k"
        )
        assert response.status_code == 201
        [visit] = visits()
        assert (visit.adults, visit.children, visit.assistants) == (1, 1, 2)
        assert "1 aikuinen, lapsia 1, avustajia 2" in response.text
        assert 'data-assistants="2"' in response.text

    def test_a_visit_without_assistants_says_nothing_of_them(self, door):
        response = record(door, token=door.token("active"), children="1")
        assert visits()[0].assistants == 0
        assert "1 aikuinen, lapsia 1<" in response.text and "avustaj" not in response.text.lower()

    @pytest.mark.parametrize("assistants", ["3", "-1", "x", "1.5", "9" * 30])
    def test_assistants_beyond_two_are_refused_clearly(self, door, assistants):
        response = record(door, token=door.token("active"), assistants=assistants)
        assert response.status_code == 422
        assert verdict_of(response) == ("refuse", "invalid_assistants")
        assert "Tarkista avustajien määrä" in response.text
        assert visits() == []

    def test_same_key_twice_records_once(self, door):
        first = record(door, token=door.token("active"), idempotency_key="same")
        again = record(door, token=door.token("active"), idempotency_key="same")
        assert (first.status_code, again.status_code) == (201, 200)
        assert len(visits()) == 1

    def test_typed_number_is_recorded_as_manual(self, door, demo_cards):
        assert record(door, number=demo_cards["active"].lower()).status_code == 201
        assert visits()[0].source is VisitSource.MANUAL

    @pytest.mark.parametrize(
        ("children", "reason"), [("3", "too_many_children"), ("-1", "invalid_children")]
    )
    def test_children_beyond_the_card_are_refused(self, door, children, reason):
        response = record(door, token=door.token("active"), children=children)
        assert response.status_code == 422
        assert verdict_of(response) == ("refuse", reason)
        assert visits() == []

    def test_refused_card_is_not_recorded(self, door):
        response = record(door, token=door.token("revoked"))
        assert response.status_code == 422 and verdict_of(response) == ("refuse", "revoked")
        assert visits() == []


class TestCommunityCard:
    """A worker shows the organisation's card with a group of clients under 16."""

    def test_the_verdict_shows_a_community_card_and_its_group(self, door):
        response = verify(door, token=door.token("community"))
        assert verdict_of(response) == ("ok", "ok")
        assert "Yhteisökortti hyväksytty" in response.text
        assert re.search(r'data-slot="kind-row">.*?Yhteisökortti<', response.text)
        assert re.search(r'class="stepper-value"[^>]*max="5"', response.text)

    def test_a_personal_card_shows_no_card_type(self, door):
        response = verify(door, token=door.token("active"))
        assert re.search(r'data-slot="kind-row" hidden>', response.text)

    def test_a_group_within_the_limit_records_the_worker_and_the_clients(self, door):
        response = record(door, token=door.token("community"), children="5")
        assert response.status_code == 201
        [visit] = visits()
        assert (visit.adults, visit.children) == (1, 5)
        assert "1 aikuinen, lapsia 5" in response.text

    def test_a_group_above_the_limit_is_refused_in_a_groups_words(self, door):
        response = record(door, token=door.token("community"), children="6")
        assert response.status_code == 422
        assert verdict_of(response) == ("refuse", "too_many_children")
        assert "Liian suuri ryhmä" in response.text
        assert "Kortti kattaa 5 hengen ryhmän." in response.text
        assert visits() == []

    def test_at_a_course_provider_it_says_the_worker_alone(self, signed_in, demo_cards):
        client = signed_in("opisto@example.fi")
        place = {"venue": venue_id("Kuopion kansalaisopisto")}
        token = cards.printed_token(card(demo_cards["community"]))
        response = client.post("/scan/verify", data={**place, "token": token}, headers=HX)
        assert verdict_of(response) == ("ok", "ok")
        assert "Yhteisökortti: vain työntekijä" in response.text
        assert 'data-slot="children-stepper"' not in response.text
        refused = client.post(
            "/scan/visits", data={**place, "token": token, "children": "1"}, headers=HX
        )
        assert verdict_of(refused) == ("refuse", "children_not_allowed")
        assert "Ei ryhmää kursseille" in refused.text


def undo(client, visit):
    return client.post(f"/scan/visits/{visit.id}/undo", data={"venue": client.venue}, headers=HX)


class TestUndo:
    def test_undo_within_ten_minutes(self, door):
        record(door, token=door.token("active"))
        [visit] = visits()
        response = door.post(
            f"/scan/visits/{visit.id}/undo", data={"venue": door.venue}, headers=HX
        )
        assert response.status_code == 200 and 'data-state="undone"' in response.text
        assert f'id="visit-{visit.id}" hx-swap-oob="outerHTML"' in response.text
        assert visits() == []

    def test_undo_too_late(self, door):
        record(door, token=door.token("active"))
        [visit] = visits()
        visit.recorded_at = datetime.now(UTC) - timedelta(minutes=11)
        db.session.commit()
        response = door.post(
            f"/scan/visits/{visit.id}/undo", data={"venue": door.venue}, headers=HX
        )
        assert response.status_code == 409
        assert len(visits()) == 1

    @pytest.mark.parametrize(
        ("language", "title"), [("fi", "Käynti kumottu"), ("sv", "Besöket ångrat")]
    )
    def test_a_visit_sent_again_after_its_undo_stays_undone(self, door, language, title):
        door.set_cookie("lang", language)
        sent = {"token": door.token("active"), "idempotency_key": "k1"}
        record(door, **sent)
        [visit] = visits()
        assert undo(door, visit).status_code == 200
        again = record(door, **sent)  # the same form sent again
        assert again.status_code == 422 and verdict_of(again) == ("refuse", "visit_undone")
        assert title in again.text
        assert visits() == []

    def test_undo_at_another_venue_is_not_found(self, door, client):
        record(door, token=door.token("active"))
        [visit] = visits()
        door.post("/sign-out")
        door.sign_in("kajaani@example.fi")
        response = door.post(
            f"/scan/visits/{visit.id}/undo",
            data={"venue": venue_id("Kajaanin kaupunginteatteri")},
            headers=HX,
        )
        assert response.status_code == 404
        assert len(visits()) == 1


class TestOfflineList:
    def test_list_of_the_venue(self, door, demo_cards):
        response = door.get(f"/scan/offline-list?venue={door.venue}")
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        width = 2 * response.json["hash_bytes"]
        listed = {entry["number"]: entry for entry in offline_wire.entries(response.json)}
        assert number_hash(demo_cards["active"], number_salt())[:width] in listed
        assert number_hash(demo_cards["revoked"], number_salt())[:width] not in listed
        # a reissued card: under its stable number, with the check of its printed number
        replaced = card(demo_cards["replaced"])
        entry = listed[number_hash(replaced.number, number_salt())[:width]]
        check = number_hash(replaced.printed_number, number_salt())[: 2 * CHECK_BYTES]
        assert entry["check"] == int(check, 16)
        assert response.json["full"] is True

    def test_changes_since_the_last_list(self, door, demo_cards):
        first = door.get(f"/scan/offline-list?venue={door.venue}").json
        cards.revoke_card(card(demo_cards["active"]), actor=None, reason="lost")
        db.session.commit()
        since = first["generated_at"].replace("+", "%2B")
        delta = door.get(f"/scan/offline-list?venue={door.venue}&since={since}").json
        assert delta["full"] is False
        assert card(demo_cards["active"]).id in delta["removed"]

    def test_hashes_computed_for_a_list_are_kept_for_the_next(
        self, app, door, demo_cards, monkeypatch
    ):
        monkeypatch.setitem(app.config, "OFFLINE_NUMBER_SALT", "after-a-secret-key-rotation")
        assert door.get(f"/scan/offline-list?venue={door.venue}").status_code == 200
        db.session.rollback()
        digest = number_hash(demo_cards["active"], "after-a-secret-key-rotation")
        # kept, not one PBKDF2 a card again at every list
        assert card(demo_cards["active"]).number_hash.endswith(":" + digest)

    def test_other_venue_is_forbidden_and_anonymous_is_unauthorized(self, door, client):
        other = venue_id("Kajaanin kaupunginteatteri")
        response = door.get(f"/scan/offline-list?venue={other}")
        assert response.status_code == 403 and response.json["error"] == "not_your_venue"
        door.post("/sign-out")
        assert door.get(f"/scan/offline-list?venue={door.venue}").status_code == 401

    def test_session_gives_a_fresh_csrf_token(self, door):
        response = door.get("/scan/session")
        assert response.status_code == 200 and response.json["csrf_token"]
        assert response.json["venues"] == [door.venue]


class TestSync:
    def payload(self, door, **fields):
        return {
            "venue": door.venue,
            "idempotency_key": "offline-1",
            "token": door.token("active"),
            "children": 1,
            "scanned_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
            **fields,
        }

    def test_records_at_the_scan_time_once(self, door):
        payload = self.payload(door)
        first = door.post("/scan/sync", json=payload)
        again = door.post("/scan/sync", json=payload)
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json["id"] == again.json["id"] and again.json["created"] is False
        [visit] = visits()
        assert visit.source is VisitSource.OFFLINE and visit.children == 1
        assert visit.recorded_at == datetime.fromisoformat(payload["scanned_at"])

    def test_number_instead_of_token(self, door, demo_cards):
        payload = self.payload(door, token=None, number=demo_cards["active"])
        response = door.post("/scan/sync", json=payload)
        assert response.status_code == 201 and response.json["created"] is True
        [visit] = visits()
        assert (visit.card.number, visit.source, visit.children) == (
            demo_cards["active"],
            VisitSource.OFFLINE,
            1,
        )

    def test_scan_time_in_the_future_is_taken_as_now(self, door):
        later = datetime.now(UTC) + timedelta(days=2)
        door.post("/scan/sync", json=self.payload(door, scanned_at=later.isoformat()))
        assert visits()[0].recorded_at <= datetime.now(UTC)

    @pytest.mark.parametrize(
        "fields",
        [
            {"idempotency_key": None},
            {"idempotency_key": "x" * 65},
            {"children": "2"},
            {"children": True},
            {"scanned_at": "yesterday"},
            {"scanned_at": "2026-01-01T10:00:00"},
            {"number": "ABC"},
            {"token": None},
        ],
    )
    def test_bad_input_is_a_400(self, door, fields):
        response = door.post("/scan/sync", json=self.payload(door, **fields))
        assert response.status_code == 400 and response.json["error"] == "invalid_request"
        assert visits() == []

    def test_a_visit_at_an_event_deactivated_since_keeps_its_event(self, door):
        theatre = db.session.get(Organisation, door.venue)
        ours = Event(venue=theatre, name="Hamlet", starts_on=cards.today_in_finland())
        elsewhere = Event(
            venue_id=venue_id("Kajaanin kaupunginteatteri"), name="K", starts_on=ours.starts_on
        )
        db.session.add_all([ours, elsewhere])
        db.session.flush()
        ours.active = False
        db.session.commit()
        first = door.post("/scan/sync", json=self.payload(door, event=ours.id))
        other = self.payload(door, event=elsewhere.id, idempotency_key="offline-2")
        second = door.post("/scan/sync", json={**other, "token": door.token("replaced")})
        assert (first.status_code, second.status_code) == (201, 201)
        assert [visit.event_id for visit in visits()] == [ours.id, None]

    def test_the_assistants_are_stored_at_sync(self, door):
        response = door.post("/scan/sync", json=self.payload(door, assistants=1))
        assert response.status_code == 201 and response.json["assistants"] == 1
        assert visits()[0].assistants == 1

    def test_a_visit_queued_without_assistants_has_none(self, door):
        payload = self.payload(door)
        assert "assistants" not in payload
        assert door.post("/scan/sync", json=payload).json["assistants"] == 0

    @pytest.mark.parametrize(("assistants", "status"), [(3, 422), (-1, 422), ("1", 400)])
    def test_assistants_beyond_two_are_refused_at_sync(self, door, assistants, status):
        response = door.post("/scan/sync", json=self.payload(door, assistants=assistants))
        assert response.status_code == status
        if status == 422:
            assert response.json["error"] == "invalid_assistants"
        assert visits() == []

    def test_not_json_is_a_400(self, door):
        assert door.post("/scan/sync", data="nope").status_code == 400

    def test_a_card_refused_by_then_is_stored_with_its_conflict(self, door):
        response = door.post("/scan/sync", json=self.payload(door, token=door.token("revoked")))
        assert response.status_code == 201 and response.json["offline"] is True
        assert response.json["conflicts"] in (["revoked_after_scan"], ["list_out_of_date"])
        assert len(visits()) == 1

    def test_garbage_is_a_422_with_the_reason(self, door):
        response = door.post("/scan/sync", json=self.payload(door, token="garbage"))
        assert response.status_code == 422 and response.json["error"] == "invalid_token"
        assert visits() == []

    def test_a_shift_change_delivers_the_visit_as_the_recorders(self, door, demo_cards):
        recorder = door.get("/scan/session").json["recorder"]
        theatre = db.session.get(Organisation, door.venue)
        next_shift = create_user("ovi2@example.fi", Role.VENUE, [theatre], password=PASSWORD)
        db.session.commit()
        door.post("/sign-out")
        door.sign_in("ovi2@example.fi")
        response = door.post("/scan/sync", json=self.payload(door, recorder=recorder))
        assert response.status_code == 201
        [visit] = visits()
        ovi = db.session.scalar(select(User.id).where(User.email == "ovi@example.fi"))
        assert visit.recorded_by_id == ovi != next_shift.id

    def test_a_forged_recorder_is_refused(self, door):
        response = door.post("/scan/sync", json=self.payload(door, recorder="1.forged"))
        assert response.status_code == 403 and visits() == []

    def test_the_recorders_venue_still_bounds_the_upload(self, door):
        recorder = door.get("/scan/session").json["recorder"]
        door.post("/sign-out")
        door.sign_in("kajaani@example.fi")
        other = venue_id("Kajaanin kaupunginteatteri")
        response = door.post("/scan/sync", json=self.payload(door, recorder=recorder, venue=other))
        assert response.status_code == 403 and visits() == []

    def test_undo_by_key_removes_the_stored_visit(self, door):
        recent = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        door.post("/scan/sync", json=self.payload(door, scanned_at=recent))
        body = {"venue": door.venue, "idempotency_key": "offline-1"}
        assert door.post("/scan/sync/undo", json=body).status_code == 204
        assert visits() == []
        assert door.post("/scan/sync/undo", json=body).status_code == 204  # retried: done
        unknown = door.post("/scan/sync/undo", json={**body, "idempotency_key": "never-sent"})
        assert unknown.status_code == 404 and unknown.json["error"] == "not_found"
        assert door.post("/scan/sync/undo", json={"venue": door.venue}).status_code == 400

    def test_an_undo_that_overtakes_its_visit_keeps_the_visit_from_being_stored(self, door):
        recent = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
        payload = self.payload(door, scanned_at=recent)
        assert door.post("/scan/sync/undo", json=payload).status_code == 204
        late = door.post("/scan/sync", json=payload)  # the record, after its undo
        assert late.status_code == 422 and late.json["error"] == "visit_undone"
        assert visits() == []

    def test_a_recorder_token_ends_with_the_recorders_session(self, door):
        recorder = door.get("/scan/session").json["recorder"]
        theatre = db.session.get(Organisation, door.venue)
        create_user("ovi2@example.fi", Role.VENUE, [theatre], password=PASSWORD)
        db.session.commit()
        door.post("/sign-out")
        door.sign_in("ovi2@example.fi")
        after = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        response = door.post(
            "/scan/sync", json=self.payload(door, recorder=recorder, scanned_at=after)
        )
        assert response.status_code == 403 and visits() == []  # scanned after the sign-out
        before = self.payload(door, recorder=recorder, idempotency_key="offline-2")
        assert door.post("/scan/sync", json=before).status_code == 201  # scanned before it

    def test_the_next_shift_delivers_an_undo_of_a_visit_recorded_before_the_sign_out(self, door):
        recorder = door.get("/scan/session").json["recorder"]
        recent = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        door.post("/scan/sync", json=self.payload(door, recorder=recorder, scanned_at=recent))
        theatre = db.session.get(Organisation, door.venue)
        create_user("ovi2@example.fi", Role.VENUE, [theatre], password=PASSWORD)
        db.session.commit()
        door.post("/sign-out")
        door.sign_in("ovi2@example.fi")
        undo = {"venue": door.venue, "idempotency_key": "offline-1", "recorder": recorder}
        assert door.post("/scan/sync/undo", json={**undo, "scanned_at": recent}).status_code == 204
        assert visits() == []

    def test_an_uploader_from_another_venue_cannot_use_a_recorder_token(self, door):
        recorder = door.get("/scan/session").json["recorder"]
        door.post("/sign-out")
        door.sign_in("kajaani@example.fi")
        before = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
        response = door.post(
            "/scan/sync", json=self.payload(door, recorder=recorder, scanned_at=before)
        )
        assert response.status_code == 403 and visits() == []

    def test_scan_older_than_a_month_is_refused(self, door):
        old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
        response = door.post("/scan/sync", json=self.payload(door, scanned_at=old))
        assert response.status_code == 422 and response.json["error"] == "scan_too_old"

    def test_other_venue_is_forbidden(self, door):
        other = venue_id("Kajaanin kaupunginteatteri")
        response = door.post("/scan/sync", json=self.payload(door, venue=other))
        assert response.status_code == 403

    def test_csrf_token_is_required(self, door):
        door.auto_csrf = False
        assert door.post("/scan/sync", json=self.payload(door)).status_code == 400
        assert visits() == []


class TestServiceWorker:
    def test_served_from_the_root_with_its_scope_and_without_caching(self, client):
        response = client.get("/sw.js")
        assert response.status_code == 200
        assert response.headers["Service-Worker-Allowed"] == "/"
        assert "no-cache" in response.headers["Cache-Control"]
        assert response.mimetype == "text/javascript"
        settings = json.loads(re.match(r"self\.KAIKU_SW = (.*);\n", response.text).group(1))
        assert re.fullmatch(r"[0-9a-f]{12}", settings["version"])
        assert "/static/js/vendor/zxing_reader.wasm" in settings["precache"]
        assert "/static/js/vendor/htmx.min.js" in settings["precache"]

    def test_every_precached_file_exists(self, client):
        text = client.get("/sw.js").text
        settings = json.loads(re.match(r"self\.KAIKU_SW = (.*);\n", text).group(1))
        for url in settings["precache"]:
            response = client.get(url)
            assert response.status_code == 200, url
            response.close()

    def test_every_module_of_the_scanner_is_precached(self, client):
        """A module missing from the precache would stop the whole scanner offline."""
        text = client.get("/sw.js").text
        precache = set(json.loads(re.match(r"self\.KAIKU_SW = (.*);\n", text).group(1))["precache"])
        js = ROOT / "static" / "js"
        todo, seen = ["scanner.js"], set()
        while todo:
            name = todo.pop()
            seen.add(name)
            imports = re.findall(r'from "\./([\w.-]+\.js)"', (js / name).read_text())
            todo += [i for i in imports if i not in seen]
        assert "wedge.js" in seen
        assert {f"/static/js/{name}" for name in seen} <= precache

    def test_health_check_is_unchanged(self, client):
        assert client.get("/healthz").json == {"status": "ok"}


def test_manifest_meets_installability_criteria():
    manifest = json.loads((ROOT / "static" / "manifest.json").read_text())
    assert manifest["name"] and manifest["short_name"]
    assert manifest["start_url"] == "/scan" and manifest["display"] == "standalone"
    assert manifest["theme_color"] and manifest["background_color"]
    icons = {(icon["sizes"], icon.get("purpose", "any")) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= icons
    for icon in manifest["icons"]:
        assert (ROOT / icon["src"].lstrip("/")).is_file()


class TestEventGone:
    """The page names an event that is no longer in use at the venue (the coordinator
    deactivated it while the door was open): nothing is checked or recorded without it."""

    @pytest.fixture
    def gone(self, door):
        theatre = db.session.get(Organisation, door.venue)
        event = Event(venue=theatre, name="Hamlet", starts_on=cards.today_in_finland(), quota=5)
        db.session.add(event)
        db.session.commit()
        assert verdict_of(verify(door, token=door.token("active"), event=str(event.id))) == (
            "ok",
            "ok",
        )
        event.active = False
        db.session.commit()
        return str(event.id)

    @pytest.mark.parametrize(("send", "status"), [(verify, 200), (record, 422)])
    def test_a_check_or_a_visit_is_refused_and_nothing_stored(self, door, gone, send, status):
        response = send(door, token=door.token("active"), event=gone)
        assert response.status_code == status  # as the view answers any refusal
        assert verdict_of(response) == ("refuse", "unknown_event")
        assert "Valitse tapahtuma uudelleen" in response.text
        assert "Kirjaa käynti" not in response.text  # no record form for a plain visit
        assert visits() == []

    def test_its_button_opens_the_page_without_the_event(self, door, gone):
        response = verify(door, token=door.token("active"), event=gone)
        form = re.search(
            r'<form method="get" action="(/scan)#place">(.*?)</form>', response.text, re.S
        )
        fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.group(2)))
        assert fields == {"venue": str(door.venue), "event": ""}
        page = door.get(form.group(1), query_string=fields)
        assert '"event": null' in page.text and "Hamlet" not in page.text

    def test_a_page_loaded_after_says_so_once_and_shows_no_event(self, door):
        theatre = db.session.get(Organisation, door.venue)
        event = Event(venue=theatre, name="Hamlet", starts_on=cards.today_in_finland())
        db.session.add(event)
        db.session.commit()
        chosen = door.get(f"/scan?event={event.id}")  # the session remembers it
        assert f'"event": {event.id}' in chosen.text
        event.active = False
        db.session.commit()
        page = door.get("/scan")  # reloaded, as a phone does
        assert 'data-reason="unknown_event"' in page.text and '"event": null' in page.text
        again = door.get("/scan")
        assert 'data-reason="unknown_event"' not in again.text and '"event": null' in again.text

    @pytest.mark.parametrize("chosen", ["9" * 5000, "-1", "99999999999"])
    def test_an_impossible_event_in_the_session_is_forgotten_quietly(self, door, chosen):
        assert door.get(f"/scan?event={chosen}").status_code == 200
        page = door.get("/scan")
        assert page.status_code == 200 and 'data-reason="unknown_event"' not in page.text

    def test_an_event_over_since_the_page_was_loaded_is_no_longer_in_use(self, door):
        """An old page, an old event: today's visits are not counted at it."""
        theatre = db.session.get(Organisation, door.venue)
        event = Event(venue=theatre, name="Hamlet", starts_on=cards.today_in_finland(), quota=1)
        db.session.add(event)
        db.session.commit()
        assert f'"event": {event.id}' in door.get(f"/scan?event={event.id}").text
        event.starts_on -= timedelta(days=2)  # as if the page had been open for days
        db.session.commit()
        page = door.get("/scan")  # reloaded
        assert 'data-reason="unknown_event"' in page.text and '"event": null' in page.text
        response = record(door, token=door.token("active"), event=str(event.id))  # not reloaded
        assert response.status_code == 422
        assert verdict_of(response) == ("refuse", "unknown_event")
        assert visits() == []

    def test_another_venues_event_is_forgotten_quietly(self, door):
        """As when the doorkeeper switches venue: the other venue's event is no notice."""
        other = venue_id("Kajaanin kaupunginteatteri")
        event = Event(venue_id=other, name="K", starts_on=cards.today_in_finland())
        db.session.add(event)
        db.session.commit()
        page = door.get(f"/scan?event={event.id}")
        assert 'data-reason="unknown_event"' not in page.text and '"event": null' in page.text

    def test_in_swedish_and_as_a_whole_page(self, door, gone):
        door.get("/language/sv?next=/scan")
        data = {"venue": door.venue, "token": door.token("active"), "event": gone}
        page = door.post("/scan/verify", data=data)  # without script: the page around it
        assert page.status_code == 200
        assert "Välj evenemanget igen" in page.text and 'id="manual-entry"' in page.text

    def test_an_undo_at_the_event_still_undoes(self, door, demo_cards):
        theatre = db.session.get(Organisation, door.venue)
        event = Event(venue=theatre, name="Hamlet", starts_on=cards.today_in_finland())
        db.session.add(event)
        db.session.commit()
        recorded = record(door, token=door.token("active"), event=str(event.id))
        assert recorded.status_code == 201
        event.active = False
        db.session.commit()
        (visit,) = visits()
        data = {"venue": door.venue, "event": str(event.id)}
        response = door.post(f"/scan/visits/{visit.id}/undo", data=data, headers=HX)
        assert response.status_code == 200 and visits() == []


@pytest.mark.parametrize("event", ["99999999999", "²", "-1", "1e3", "0", "9" * 5000])
def test_an_impossible_event_id_is_refused_as_no_event_in_use(door, event):
    response = verify(door, token=door.token("active"), event=event)
    assert response.status_code == 200
    assert verdict_of(response) == ("refuse", "unknown_event")


def test_no_event_is_a_plain_check(door):
    response = verify(door, token=door.token("active"), event=" ")
    assert response.status_code == 200
    assert verdict_of(response) == ("ok", "ok")


class TestDeactivatedVenue:
    """A venue the coordinator deactivated vanishes from its staff's scanner at once."""

    @pytest.fixture
    def closed(self, door):
        theatre = db.session.get(Organisation, door.venue)
        theatre.active = False
        db.session.commit()
        return door

    def test_the_page_no_longer_offers_it(self, closed):
        page = closed.get("/scan")
        assert page.status_code == 200
        assert 'id="manual-entry"' not in page.text
        assert "Kuopion kaupunginteatteri" not in page.text

    def test_its_checks_visits_and_lists_are_refused(self, closed):
        assert verify(closed, token=closed.token("active")).status_code == 403
        assert record(closed, token=closed.token("active")).status_code == 403
        assert closed.get(f"/scan/offline-list?venue={closed.venue}").status_code == 403
        assert closed.get("/scan/session").get_json()["venues"] == []
        assert visits() == []

    def test_the_other_venue_stays(self, closed):
        user = db.session.scalar(select(User).where(User.email == "ovi@example.fi"))
        college = db.session.get(Organisation, venue_id("Kuopion kansalaisopisto"))
        user.organisations.append(college)
        db.session.commit()
        page = closed.get("/scan")
        assert f'"venue": {college.id}' in page.text
        assert closed.get("/scan/session").get_json()["venues"] == [college.id]


class TestQueries:
    """The scanner reads the door facts as the API does: the staff's venues in one statement."""

    def check(self, door, **data):
        """Verify, with the CSRF token fetched beforehand (the test client's fetch is a GET)."""
        headers = {**HX, "X-CSRFToken": door.csrf_token()}
        data = {"venue": door.venue, "token": door.token("active"), **data}
        door.post("/scan/verify", data=data, headers=headers)  # warm the caches, like a door
        with statements() as sent:
            response = door.post("/scan/verify", data=data, headers=headers)
        return response, sent

    def test_a_check_sends_three_statements(self, door):
        response, sent = self.check(door)
        assert verdict_of(response) == ("ok", "ok")
        # the signed-in user, the user's venues with their regions, the card
        assert len(sent) <= 3, "\n".join(sent)

    def test_a_check_at_an_event_adds_only_the_event_and_its_places(self, door):
        theatre = db.session.get(Organisation, door.venue)
        event = Event(venue=theatre, name="Hamlet", starts_on=cards.today_in_finland(), quota=10)
        db.session.add(event)
        db.session.commit()
        response, sent = self.check(door, event=event.id)
        assert verdict_of(response) == ("ok", "ok")
        # and the event, and the places taken
        assert len(sent) <= 5, "\n".join(sent)


class TestFullEvent:
    """An event whose Kaikukortti places are taken: red where the venue refuses, orange where
    it still accepts, each in its own words."""

    @pytest.fixture
    def full_event(self, door, demo_cards):
        venue = db.session.get(Organisation, door.venue)
        event = Event(venue=venue, name="Ensi-ilta", starts_on=cards.today_in_finland(), quota=1)
        db.session.add(event)
        db.session.commit()
        filler = cards.printed_token(card(demo_cards["replaced"]))
        assert record(door, token=filler, event=str(event.id)).status_code == 201
        return venue, event

    @pytest.mark.parametrize(
        ("language", "title", "holder", "accepted"),
        [
            ("fi", "Paikat täynnä", "Valitettavasti tapahtuman Kaikukortti-paikat", "Hyväksytty"),
            ("sv", "Platserna är slut", "Tyvärr är evenemangets platser", "Godkänt"),
        ],
    )
    def test_refusal_says_the_places_are_taken(
        self, door, full_event, language, title, holder, accepted
    ):
        venue, event = full_event
        venue.quota_full_refuses = True
        db.session.commit()
        door.get(f"/language/{language}?next=/scan")
        response = verify(door, token=door.token("active"), event=str(event.id))
        assert verdict_of(response) == ("refuse", "quota_full")
        title_line = re.search(r'id="verdict-title"[^>]*>([^<]*)<', response.text).group(1)
        assert title_line.strip() == title
        assert holder in response.text
        assert accepted not in response.text
        assert "Record visit" not in response.text

    @pytest.mark.parametrize(
        ("language", "title"),
        [("fi", "Hyväksytty – paikat täynnä"), ("sv", "Godkänt – platserna är slut")],
    )
    def test_warning_says_the_venue_still_accepts(self, door, full_event, language, title):
        _, event = full_event
        door.get(f"/language/{language}?next=/scan")
        response = verify(door, token=door.token("active"), event=str(event.id))
        assert verdict_of(response) == ("warn", "ok")
        assert title in response.text

    def test_the_pages_own_words_keep_the_refusal(self, door):
        config = json.loads(
            re.search(
                r'<script type="application/json" id="scanner-config">(.*?)</script>',
                door.get("/scan").text,
                re.S,
            ).group(1)
        )
        assert config["words"]["quota_full"]["title"] == "Paikat täynnä"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_scan_time_beyond_the_calendar_is_a_400(door, moment):
    payload = TestSync().payload(door, scanned_at=moment)
    response = door.post("/scan/sync", json=payload)
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    assert visits() == []


@pytest.mark.parametrize(
    "change",
    [{"token": ""}, {"token": "   "}, {"token": None, "number": "  "}, {"children": 2**63}],
)
def test_a_blank_code_or_a_huge_children_count_is_a_400_not_a_stuck_queue(door, change):
    """A 5xx would stop the phone's queue at this visit for good; a 400 is final and shown."""
    payload = {**TestSync().payload(door), **change}
    response = door.post("/scan/sync", json=payload)
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    assert visits() == []
