"""Offers: the public catalogue (``/offers``, its iCalendar feeds) and publishing offers.

The catalogue needs no account and sets no cookie: it never touches the session (no CSRF
token, no sign-in) and takes its language from ``?lang=`` or the browser's
Accept-Language. Venue staff and coordinators publish, edit and withdraw offers under
``/offers/manage``.
"""

from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from ..access import roles_required
from ..errors import ErrorCode
from ..extensions import db
from ..i18n import LANGUAGES, choose_for_page
from ..models import Event, OfferKind, Role, VenueCategory, utcnow
from ..rules import HELSINKI, today_in_finland
from ..schemas import MAX_ID
from ..services import network, offers
from .coordinator_forms import CATEGORY_LABELS
from .fields import perform
from .offer_forms import CatalogueForm, OfferForm

bp = Blueprint("offers", __name__, url_prefix="/offers")
PUBLISHERS = (Role.VENUE, Role.COORDINATOR, Role.ADMIN)
WEEK = timedelta(days=6)


# --- the public catalogue -----------------------------------------------------------------


def public_language() -> str:
    """Choose the page's language from ``?lang=`` or Accept-Language, never a cookie."""
    chosen = request.args.get("lang")
    if chosen not in LANGUAGES:
        chosen = request.accept_languages.best_match(LANGUAGES) or "fi"
    choose_for_page(chosen)
    return chosen


@bp.get("")
def catalogue():
    language = public_language()
    form = CatalogueForm(request.args)
    form.region.choices = [SelectChoice("", _("All regions"))] + [
        SelectChoice(region.code, region.local_name) for region in offers.regions()
    ]
    form.municipality.choices = [SelectChoice("", _("All municipalities"))] + [
        SelectChoice(name, name) for name in offers.municipalities()
    ]
    valid = form.validate()
    rows = []
    if valid:
        if form.start.data is None:  # this week, shown in the form
            form.start.data = today_in_finland()
            form.end.data = form.end.data or form.start.data + WEEK
        start, end = form.start.data, form.end.data
        rows = offers.catalogue(
            offers.OfferFilter(
                start=start,
                end=end,
                region=form.region.data or None,
                municipality=form.municipality.data or None,
                field=VenueCategory(form.field.data) if form.field.data else None,
                children=form.children.data,
            )
        )
    region = form.region.data if valid and form.region.data else None
    response = make_response(
        render_template(
            "offers/catalogue.html",
            form=form,
            offers=rows,
            categories=CATEGORY_LABELS,
            language=language,
            feed_region=region,
        ),
        200 if valid else 422,
    )
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Vary"] = "Accept-Language"
    return response


@bp.get("/<region>.ics")
def feed(region: str):
    found = offers.region_by_code(region)
    if found is None:
        abort(404)
    rows = offers.catalogue(offers.OfferFilter(start=today_in_finland(), region=found.code))
    body = offers.ical(
        found, rows, url=url_for(".catalogue", region=found.code, _external=True), stamp=utcnow()
    )
    response = current_app.response_class(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'inline; filename="kaikukortti-{found.code}.ics"'
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


# --- publishing ---------------------------------------------------------------------------


@bp.get("/manage")
@roles_required(*PUBLISHERS)
def manage():
    rows = db.session.scalars(offers.offers_of(current_user).limit(200)).all()
    places = offers.places_left(rows)
    return render_template("offers/manage.html", events=rows, places=places)


@bp.route("/manage/new", methods=["GET", "POST"])
@roles_required(*PUBLISHERS)
def new_offer():
    form = _form(None)
    if _save(form, None):
        flash(_("The offer was published."))
        return redirect(url_for(".manage"), 303)
    return _form_page(form, None)


@bp.route(f"/manage/<int(max={MAX_ID}):event_id>", methods=["GET", "POST"])
@roles_required(*PUBLISHERS)
def edit_offer(event_id: int):
    event = _own_or_404(event_id)
    form = _form(event)
    if _save(form, event):
        flash(_("The offer was saved."))
        return redirect(url_for(".manage"), 303)
    return _form_page(form, event)


@bp.post(f"/manage/<int(max={MAX_ID}):event_id>/withdraw")
@roles_required(*PUBLISHERS)
def withdraw_offer(event_id: int):
    event = _own_or_404(event_id)
    offers.withdraw(event, actor=current_user)
    db.session.commit()
    flash(_("The offer was withdrawn from the catalogue."))
    return redirect(url_for(".manage"), 303)


def _own_or_404(event_id: int) -> Event:
    event = network.find_visible(offers.offers_of(current_user), event_id)
    if event is None:
        abort(404)
    return event


def _form(event: Event | None) -> OfferForm:
    form = OfferForm(obj=event)
    if event is not None and request.method == "GET":
        form.title.data = event.name
        form.kind.data = event.kind.value
        form.venue.data = event.venue_id
        if event.starts_at is not None:
            form.starts_at.data = event.starts_at.astimezone(HELSINKI).time()
        if event.ends_at is not None:
            form.ends_at.data = event.ends_at.astimezone(HELSINKI).time()
    venues = db.session.scalars(offers.venues_of(current_user)).all()
    form.venue.choices = [SelectChoice(venue.id, venue.name) for venue in venues]
    return form


def _save(form: OfferForm, event: Event | None) -> bool:
    """Validate the form and save the offer at one of the user's venues."""

    def save() -> None:
        venue = network.find_visible(offers.venues_of(current_user), form.venue.data)
        if venue is None:
            raise offers.OfferError(ErrorCode.NOT_YOUR_VENUE, "venue")
        offers.save_offer(event, _input(form, venue), actor=current_user)

    return perform(form, save)


def _input(form: OfferForm, venue) -> offers.OfferInput:
    return offers.OfferInput(
        venue=venue,
        kind=OfferKind(form.kind.data),
        title=form.title.data,
        starts_on=form.starts_on.data,
        starts_at=form.starts_at.data,
        ends_at=form.ends_at.data,
        ends_on=form.ends_on.data,
        hours=form.hours.data,
        place=form.place.data,
        municipality=form.municipality.data,
        quota=form.quota.data,
        children_welcome=form.children_welcome.data,
        text_fi=form.text_fi.data,
        text_sv=form.text_sv.data,
        text_en=form.text_en.data,
    )


def _form_page(form: OfferForm, event: Event | None):
    status = 422 if request.method == "POST" else 200
    return render_template("offers/form.html", form=form, event=event), status
