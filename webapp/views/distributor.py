"""The distributor's workspace: registering, finding, printing and managing cards.

Every card is looked up through :func:`webapp.services.cards.cards_visible_to`, so staff
see and act on their own organisations' cards only; another organisation's card is
simply not found (404), which tells nothing about whether its number exists.
"""

from collections.abc import Callable
from dataclasses import dataclass

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import SelectChoice

from .. import cardnumbers, ratelimits, registerids
from ..access import roles_required
from ..extensions import db
from ..models import Card, CardKind, Organisation, Region, RevokeReason, Role
from ..rules import today_in_finland
from ..services import audit, cards, digital, printing
from ..services.cards import CardError
from .distributor_forms import (
    CommunityCardForm,
    ConfirmForm,
    CorrectForm,
    FindForm,
    RegisterForm,
    RenewForm,
    RevokeForm,
)
from .fields import page_number

bp = Blueprint("distributor", __name__, url_prefix="/distributor")
bp.add_app_template_filter(cardnumbers.format_number, "card_number")
bp.before_request(roles_required(Role.DISTRIBUTOR)(lambda: None))

PER_PAGE = 50
MAX_BATCH = 500  # about 50 A4 sheets: a few seconds, well within a worker timeout
CHECKED_FIELDS = ("birth_year", "postcode", "children", "valid_until")


@dataclass(frozen=True)
class Action:
    """A change to a card that the distributor confirms on its own page."""

    form: type[FlaskForm]
    title: str
    explanation: str
    button: str
    done: str
    perform: Callable[[Card, FlaskForm], object]
    then: str = "distributor.card"
    danger: bool = False
    reprint: bool = False  # the paper card no longer tells the truth: offer to print it
    digital: bool = False  # about the digital card, which a community card has not

    def applies_to(self, card: Card) -> bool:
        return card.has_digital_card or not self.digital


ACTIONS = {
    "renew": Action(
        RenewForm,
        _l("Renew the card"),
        _l(
            "The card keeps its number and gets a new last day of validity. Correct the "
            "children and postcode here if they have changed or were mistyped."
        ),
        _l("Renew"),
        _l("The card was renewed."),
        lambda card, form: cards.renew_card(
            card,
            actor=current_user,
            valid_until=form.valid_until.data,
            children=form.children.data,
            postcode=_postcode(form),
        ),
        reprint=True,
    ),
    "correct": Action(
        CorrectForm,
        _l("Correct the children or postcode"),
        _l("Correct a typing mistake or a change. The correction is recorded in the audit log."),
        _l("Save the correction"),
        _l("The card's details were corrected."),
        lambda card, form: cards.correct_card(
            card, actor=current_user, children=form.children.data, postcode=_postcode(form)
        ),
    ),
    "reissue": Action(
        ConfirmForm,
        _l("Replace a lost card"),
        _l(
            "The card keeps its number, but the old paper card stops working. "
            "Print the new card and give it to the cardholder."
        ),
        _l("Replace the card"),
        _l("The card was replaced. Print the new card now: the old one no longer works."),
        lambda card, form: cards.reissue_card(card, actor=current_user),
        danger=True,
        reprint=True,
    ),
    "revoke": Action(
        RevokeForm,
        _l("Revoke the card"),
        _l("A revoked card stops working at once, on paper and on the phone. This is final."),
        _l("Revoke the card"),
        _l("The card was revoked."),
        lambda card, form: cards.revoke_card(
            card, actor=current_user, reason=RevokeReason(form.reason.data)
        ),
        danger=True,
    ),
    "move-phone": Action(
        ConfirmForm,
        _l("Move the digital card to a new phone"),
        _l(
            "The digital card gets a new link and the old phone stops showing it. "
            "Show the new link to the cardholder's new phone."
        ),
        _l("Move to a new phone"),
        _l("The digital card has a new link. Let the new phone read the code below."),
        lambda card, form: cards.move_digital_card(card, actor=current_user),
        then="distributor.handover",
        digital=True,
    ),
}


@bp.context_processor
def _limits() -> dict:
    return {
        "min_age": cards.MIN_AGE,
        "max_children": cards.MAX_CHILDREN,
        "max_group": cards.MAX_GROUP,
        "group_age": cards.MIN_AGE,
    }


@bp.get("/")
def home():
    query = (
        cards.cards_visible_to(current_user)
        .options(joinedload(Card.region))
        .order_by(Card.created_at.desc(), Card.id.desc())
    )
    listing = db.paginate(query, page=page_number(request.args), per_page=PER_PAGE, error_out=False)
    today = today_in_finland()
    return render_template(
        "distributor/home.html",
        listing=listing,
        statuses={card.id: cards.desk_status(card, today) for card in listing.items},
        printable={card.id for card in listing.items if cards.printable(card, today)},
        find_form=FindForm(formdata=None),
    )


@bp.get("/renewals")
def renewals():
    today = today_in_finland()
    query = cards.due_for_renewal(current_user, today).options(joinedload(Card.region))
    listing = db.paginate(query, page=page_number(request.args), per_page=PER_PAGE, error_out=False)
    return render_template(
        "distributor/renewals.html",
        listing=listing,
        statuses={card.id: cards.desk_status(card, today) for card in listing.items},
        ahead=cards.RENEWAL_AHEAD.days,
        behind=cards.RENEWAL_BEHIND.days,
    )


@bp.get("/find")
@ratelimits.card_lookups
def find():
    form = FindForm(request.args)
    status = 422
    if form.validate():
        number = cardnumbers.normalize(form.number.data)
        card = cards.find_card(number, current_user)
        if card is not None:
            return _redirect(url_for(".card", number=card.number))
        if not cardnumbers.is_valid(number) and registerids.normalize(number) is None:
            form.number.errors.append(
                _("This is not a card number: a character is wrong or missing. Check it.")
            )
        else:
            form.number.errors.append(_("None of your organisation's cards has this number."))
            status = 404
    return _render("distributor/find.html", "distributor/_find_form.html", status, form=form)


@bp.route("/cards/new", methods=["GET", "POST"])
def register():
    form = _register_form(RegisterForm)
    if form.validate_on_submit():
        issued = _issue(form, birth_year=form.birth_year.data, postcode=form.postcode.data)
        if issued is not None:
            return issued
    status = 200 if request.method == "GET" else 422
    return _render(
        "distributor/register.html", "distributor/_register_form.html", status, form=form
    )


@bp.route("/community-cards/new", methods=["GET", "POST"])
def register_community():
    form = _register_form(CommunityCardForm)
    if form.validate_on_submit():
        issued = _issue(form, kind=CardKind.COMMUNITY)
        if issued is not None:
            return issued
    status = 200 if request.method == "GET" else 422
    return make_response(render_template("distributor/register_community.html", form=form), status)


@bp.post("/cards/new/check/<name>")
def check_field(name: str):
    if name not in CHECKED_FIELDS:
        abort(404)
    form = _register_form(RegisterForm)
    all_fixed = form.validate()
    return render_template(
        "distributor/_register_field.html", form=form, name=name, all_fixed=all_fixed
    )


@bp.get("/cards/<number>")
def card(number: str):
    card = _card_or_404(number)
    today = today_in_finland()
    status, joins = cards.desk_status(card, today)
    printable = cards.printable(card, today)
    return render_template(
        "distributor/card.html",
        card=card,
        status=status,
        joins=joins,
        printable=printable,
        reprint=printable and request.args.get("reprint") == "1",
        uses=cards.usage_count(card),
        actions=ACTIONS,
    )


@bp.route("/cards/<number>/<action>", methods=["GET", "POST"])
def act(number: str, action: str):
    spec = ACTIONS.get(action) or abort(404)
    card = _card_or_404(number)
    if not spec.applies_to(card):
        abort(404)
    form = spec.form(data={"children": card.children, "postcode": card.postcode})
    form.card_kind = card.kind  # the children's rule of the card's kind
    if card.is_community and "postcode" in form:
        del form.postcode  # the organisation's card has none
    if form.validate_on_submit():
        try:
            spec.perform(card, form)
        except CardError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for(".card", number=card.number), 303)
        db.session.commit()
        flash(str(spec.done))
        reprint = "1" if spec.reprint else None
        return redirect(url_for(spec.then, number=card.number, reprint=reprint), 303)
    status = 200 if request.method == "GET" else 422
    return make_response(
        render_template("distributor/confirm.html", card=card, form=form, action=spec, name=action),
        status,
    )


@bp.get("/cards/<number>/handover")
def handover(number: str):
    card = _card_or_404(number)
    if not card.has_digital_card:
        abort(404)
    url = url_for("cardholder.card", key=card.digital_key, _external=True)
    qr = digital.qr_svg(url, label=_("QR code that opens the digital card on a phone"))
    response = _render(
        "distributor/handover.html", "distributor/_handover_status.html", card=card, url=url, qr=qr
    )
    response.headers["Cache-Control"] = "no-store"  # the link is the card's bearer secret
    if not _is_htmx():  # the page's status polling hands out nothing new
        audit.record("card.token_handed_out", card, actor=current_user)
        db.session.commit()
    return response


@bp.get("/cards/<number>/card.pdf")
def card_pdf(number: str):
    card = _card_or_404(number)
    if card.revoked:
        flash(_("A revoked card cannot be printed."), "error")
        return redirect(url_for(".card", number=card.number), 303)
    if not cards.printable(card, today_in_finland()):
        flash(_("An expired card cannot be printed: renew it first."), "error")
        return redirect(url_for(".card", number=card.number), 303)
    pdf = printing.card_pdf(card)
    printing.record_printed([card], actor=current_user)
    db.session.commit()
    return _pdf(pdf, f"kaikukortti-{card.number}.pdf")


@bp.post("/print")
def print_batch():
    numbers = {cardnumbers.normalize(n) for n in request.form.getlist("number")}
    if len(numbers) > MAX_BATCH:
        flash(_("Choose at most %(count)s cards at a time.", count=MAX_BATCH), "error")
        return redirect(url_for(".home"), 303)
    today = today_in_finland()
    found = db.session.scalars(
        cards.cards_visible_to(current_user)
        .where(Card.number.in_(numbers))
        .options(joinedload(Card.region))
        .order_by(Card.created_at, Card.id)
    )
    chosen = [card for card in found if cards.printable(card, today)]
    if not chosen:
        flash(_("Choose the cards to print: tick them in the list."), "error")
        return redirect(url_for(".home"), 303)
    pdf = printing.sheet_pdf(chosen, backs=request.form.get("backs") == "1")
    printing.record_printed(chosen, actor=current_user)
    db.session.commit()
    return _pdf(pdf, "kaikukortit.pdf")


def _card_or_404(number: str) -> Card:
    return cards.find_card(number, current_user) or abort(404)


def _register_form(form_class: type[RegisterForm | CommunityCardForm]):
    form = form_class()
    issuers = _issuers()
    form.issuer.choices = [SelectChoice(org.id, org.name) for org in issuers]
    form.region.choices = [
        SelectChoice(region.id, region.local_name)
        for region in db.session.scalars(select(Region).order_by(Region.name))
    ]
    if issuers and not form.is_submitted():
        form.issuer.data = issuers[0].id
        form.region.data = issuers[0].region_id
    return form


def _issue(form: RegisterForm | CommunityCardForm, **holder) -> Response | None:
    """Issue the card of the valid form and go to its page; None when the card service
    refused it (its words are on the field they concern)."""
    try:
        card = cards.issue_card(
            issuer=_issuer(form.issuer.data),
            actor=current_user,
            children=form.children.data,
            region=db.session.get(Region, form.region.data),
            valid_until=form.valid_until.data,
            **holder,
        )
    except CardError as error:
        db.session.rollback()
        _show_card_error(form, error)
        return None
    db.session.commit()
    flash(_("Card %(number)s registered.", number=cardnumbers.format_number(card.number)))
    return _redirect(url_for(".card", number=card.number))


def _postcode(form: FlaskForm) -> str | None:
    """Return the postcode typed on the form; None on a community card's, which has none."""
    return form.postcode.data if "postcode" in form else None


def _issuers() -> list[Organisation]:
    return current_user.distributors


def _issuer(organisation_id: int) -> Organisation:
    return next(org for org in _issuers() if org.id == organisation_id)


def _show_card_error(form: FlaskForm, error: CardError) -> None:
    message = error.message
    field = form._fields.get(error.field or "")
    if field is None:
        flash(message, "error")
    else:
        field.errors = [*field.errors, message]


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _render(page: str, fragment: str, status: int = 200, **context) -> Response:
    """Render the page, or only its fragment for htmx (which swaps 200 answers only)."""
    htmx = _is_htmx()
    response = make_response(
        render_template(fragment if htmx else page, **context), 200 if htmx else status
    )
    response.vary.add("HX-Request")
    return response


def _redirect(url: str) -> Response:
    if _is_htmx():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, 303)


def _pdf(data: bytes, filename: str) -> Response:
    response = make_response(data)
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
