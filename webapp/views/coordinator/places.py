"""The network's places: regions and their membership periods, venues, distributors and events."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload
from wtforms import SelectChoice

from ...errors import ErrorCode
from ...extensions import db
from ...models import (
    Event,
    NetworkMembership,
    Organisation,
    OrganisationKind,
    Region,
    VenueCategory,
)
from ...rules import today_in_finland
from ...services import door, network
from ...services.network import NetworkError
from ..coordinator_forms import (
    EventForm,
    MembershipForm,
    OrganisationForm,
    RegionForm,
    UnsignedCardsForm,
)
from ..fields import perform
from .base import _regions, _status, _visible_or_404, bp

KINDS = {"venues": OrganisationKind.VENUE, "distributors": OrganisationKind.DISTRIBUTOR}


# --- regions ------------------------------------------------------------------------------


@bp.get("/regions")
def regions():
    query = network.regions_visible_to(current_user).options(selectinload(Region.memberships))
    return render_template("coordinator/regions.html", regions=db.session.scalars(query).all())


@bp.route("/regions/new", methods=["GET", "POST"])
def new_region():
    if not network.is_admin(current_user):
        abort(403)
    form = RegionForm()
    if perform(
        form,
        lambda: network.create_region(
            actor=current_user,
            code=form.code.data,
            name=form.name.data,
            name_sv=form.name_sv.data,
            pilot_ends_on=form.pilot_ends_on.data,
        ),
    ):
        flash(_("The region was added."))
        return redirect(url_for(".regions"), 303)
    return render_template("coordinator/region_form.html", form=form), _status()


def _region_form(region: Region) -> RegionForm:
    form = RegionForm(obj=region)
    del form.code  # a region's code never changes
    return form


def _region_page(
    region: Region, form: RegionForm, membership_form, admin: bool, unsigned_form=None
) -> str:
    return render_template(
        "coordinator/region.html",
        region=region,
        form=form,
        membership_form=membership_form,
        unsigned_form=unsigned_form or UnsignedCardsForm(formdata=None, obj=region),
        admin=admin,
        today=today_in_finland(),
    )


@bp.post("/regions/<int:region_id>/unsigned-cards")
def unsigned_cards(region_id: int):
    region = _visible_or_404(network.regions_visible_to(current_user), region_id)
    form = UnsignedCardsForm()
    if perform(
        form,
        lambda: network.set_unsigned_refused_from(
            region, actor=current_user, refused_from=form.unsigned_refused_from.data
        ),
    ):
        flash(_("The region was saved."))
        return redirect(url_for(".region", region_id=region.id), 303)
    admin = network.is_admin(current_user)
    page = _region_page(region, _region_form(region), MembershipForm(formdata=None), admin, form)
    return page, _status()


@bp.route("/regions/<int:region_id>", methods=["GET", "POST"])
def region(region_id: int):
    region = _visible_or_404(network.regions_visible_to(current_user), region_id)
    admin = network.is_admin(current_user)
    form = _region_form(region)
    if request.method == "POST" and not admin:
        abort(403)
    if perform(
        form,
        lambda: network.update_region(
            region,
            actor=current_user,
            name=form.name.data,
            name_sv=form.name_sv.data,
            pilot_ends_on=form.pilot_ends_on.data,
        ),
    ):
        flash(_("The region was saved."))
        return redirect(url_for(".region", region_id=region.id), 303)
    return _region_page(region, form, MembershipForm(formdata=None), admin), _status()


@bp.post("/regions/<int:region_id>/memberships")
def add_membership(region_id: int):
    region = _visible_or_404(network.regions_visible_to(current_user), region_id)
    if not network.is_admin(current_user):
        abort(403)
    form = MembershipForm()
    if perform(
        form,
        lambda: network.add_membership(
            region, actor=current_user, starts_on=form.starts_on.data, ends_on=form.ends_on.data
        ),
    ):
        flash(_("The membership period was added."))
        return redirect(url_for(".region", region_id=region.id), 303)
    return _region_page(region, _region_form(region), form, admin=True), 422


@bp.post("/regions/<int:region_id>/memberships/<int:membership_id>/delete")
def remove_membership(region_id: int, membership_id: int):
    region = _visible_or_404(network.regions_visible_to(current_user), region_id)
    if not network.is_admin(current_user):
        abort(403)
    membership = db.session.get(NetworkMembership, membership_id)
    if membership is None or membership.region_id != region.id:
        abort(404)
    network.remove_membership(membership, actor=current_user)
    db.session.commit()
    flash(_("The membership period was removed."))
    return redirect(url_for(".region", region_id=region.id), 303)


# --- venues and distributors --------------------------------------------------------------


def _organisation_form(organisation: Organisation | None, kind: OrganisationKind):
    form = OrganisationForm(obj=organisation)
    form.region.choices = [SelectChoice(r.id, r.local_name) for r in _regions()]
    if organisation is None and request.method == "GET":
        form.region.data = current_user.region_id
    if organisation is not None and request.method == "GET" and organisation.category:
        form.category.data = organisation.category.value
    if kind is OrganisationKind.DISTRIBUTOR:
        for name in ("category", "course_provider", "home_region_only", "quota_full_refuses"):
            delattr(form, name)
    return form


def _save_organisation(form, organisation, kind):
    region = network.find_visible(network.regions_visible_to(current_user), form.region.data)
    if region is None:
        raise NetworkError(ErrorCode.NOT_YOUR_REGION, "region")
    venue = kind is OrganisationKind.VENUE
    return network.save_organisation(
        organisation,
        actor=current_user,
        kind=kind,
        region=region,
        name=form.name.data,
        category=VenueCategory(form.category.data) if venue and form.category.data else None,
        course_provider=venue and form.course_provider.data,
        home_region_only=venue and form.home_region_only.data,
        quota_full_refuses=venue and form.quota_full_refuses.data,
        active=form.active.data,
    )


@bp.get("/<any(venues, distributors):kinds>")
def organisations(kinds: str):
    query = network.organisations_visible_to(current_user, KINDS[kinds]).options(
        selectinload(Organisation.region)
    )
    return render_template(
        "coordinator/organisations.html",
        kinds=kinds,
        organisations=db.session.scalars(query).all(),
    )


@bp.route("/<any(venues, distributors):kinds>/new", methods=["GET", "POST"])
def new_organisation(kinds: str):
    kind = KINDS[kinds]
    form = _organisation_form(None, kind)
    if perform(form, lambda: _save_organisation(form, None, kind)):
        flash(_("%(name)s was added.", name=form.name.data))
        return redirect(url_for(".organisations", kinds=kinds), 303)
    return render_template(
        "coordinator/organisation_form.html", form=form, kinds=kinds, organisation=None
    ), _status()


@bp.route("/organisations/<int:organisation_id>", methods=["GET", "POST"])
def organisation(organisation_id: int):
    org = _visible_or_404(network.organisations_visible_to(current_user), organisation_id)
    kinds = "venues" if org.is_venue else "distributors"
    form = _organisation_form(org, org.kind)
    if perform(form, lambda: _save_organisation(form, org, org.kind)):
        flash(_("%(name)s was saved.", name=org.name))
        return redirect(url_for(".organisations", kinds=kinds), 303)
    staff = sorted(org.users, key=lambda user: user.email)
    return render_template(
        "coordinator/organisation_form.html",
        form=form,
        kinds=kinds,
        organisation=org,
        staff=staff,
        events=network.latest_events(org),
    ), _status()


# --- events -------------------------------------------------------------------------------


def _event_form(event: Event | None):
    form = EventForm(obj=event)
    venues = network.organisations_visible_to(current_user, OrganisationKind.VENUE)
    form.venue.choices = [SelectChoice(v.id, v.name) for v in db.session.scalars(venues)]
    if event is None and request.method == "GET" and request.args.get("venue", type=int):
        form.venue.data = request.args.get("venue", type=int)
    if event is not None and request.method == "GET":
        form.venue.data = event.venue_id
    return form


def _save_event(form, event):
    venues = network.organisations_visible_to(current_user, OrganisationKind.VENUE)
    venue = network.find_visible(venues, form.venue.data)
    if venue is None:
        raise NetworkError(ErrorCode.NOT_A_VENUE, "venue")
    return network.save_event(
        event,
        actor=current_user,
        venue=venue,
        name=form.name.data,
        starts_on=form.starts_on.data,
        ends_on=form.ends_on.data,
        quota=form.quota.data,
        active=form.active.data,
    )


@bp.get("/events")
def events():
    query = network.events_visible_to(current_user).options(selectinload(Event.venue))
    rows = db.session.scalars(query.limit(200)).all()
    used = door.visits_per_event([e.id for e in rows])
    return render_template("coordinator/events.html", events=rows, used=used)


@bp.route("/events/new", methods=["GET", "POST"])
def new_event():
    form = _event_form(None)
    if perform(form, lambda: _save_event(form, None)):
        flash(_("The event was added."))
        return redirect(url_for(".events"), 303)
    return render_template("coordinator/event_form.html", form=form, event=None), _status()


@bp.route("/events/<int:event_id>", methods=["GET", "POST"])
def event(event_id: int):
    event = _visible_or_404(network.events_visible_to(current_user), event_id)
    form = _event_form(event)
    if perform(form, lambda: _save_event(form, event)):
        flash(_("The event was saved."))
        return redirect(url_for(".events"), 303)
    return render_template(
        "coordinator/event_form.html", form=form, event=event, used=network.event_usage(event)
    ), _status()
