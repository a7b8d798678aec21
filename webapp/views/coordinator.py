"""The regional coordinator: the network (regions, venues, distributors, events, people),
its statistics and the audit log.

A coordinator acts only inside their region, a national admin everywhere. Every lookup
goes through a ``*_visible_to`` query of :mod:`webapp.services.network`, so another
region's venue or person is simply not found (404). Lists that filter (statistics, audit
log) answer htmx requests with their results fragment only (``Vary: HX-Request``).
"""

from datetime import date, datetime, time, timedelta

from flask import (
    Blueprint,
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
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from wtforms import SelectChoice

from ..access import roles_required
from ..charts import month_chart
from ..exports import csv_bytes, report_tables, xlsx_bytes
from ..extensions import db
from ..models import (
    AuditEvent,
    Event,
    NetworkMembership,
    Organisation,
    OrganisationKind,
    Region,
    Role,
    User,
    VenueCategory,
    Visit,
)
from ..rules import HELSINKI
from ..services import network, stats
from ..services.network import NetworkError
from .coordinator_forms import (
    ACTION_LABELS,
    CATEGORY_LABELS,
    ROLE_LABELS,
    AuditFilterForm,
    EventForm,
    MembershipForm,
    OrganisationForm,
    PersonEditForm,
    PersonForm,
    RegionForm,
    StatsFilterForm,
)

bp = Blueprint("coordinator", __name__, url_prefix="/coordinator")
bp.before_request(roles_required(Role.COORDINATOR, Role.ADMIN)(lambda: None))

AUDIT_PER_PAGE = 50
KINDS = {"venues": OrganisationKind.VENUE, "distributors": OrganisationKind.DISTRIBUTOR}

NETWORK_ERRORS = {
    "not_your_region": _l("You can act only inside your own region."),
    "admin_only": _l("Only a national administrator can do this."),
    "required": _l("This field is required."),
    "too_long": _l("This is too long."),
    "invalid_code": _l("Use lower-case letters, digits and dashes, for example pohjois-savo."),
    "code_taken": _l("A region with this code already exists."),
    "invalid_period": _l("The period cannot end before it starts."),
    "membership_overlap": _l("The period overlaps another membership period of the region."),
    "category_required": _l("Choose the venue's category."),
    "name_taken": _l("The region already has an organisation with this name."),
    "not_a_venue": _l("Choose a venue."),
    "invalid_quota": _l("Enter a number of 0 or more."),
    "invalid_email": _l("Enter an email address, for example name@example.fi."),
    "email_taken": _l("Someone already uses this email address."),
    "organisation_required": _l("Choose at least one organisation for this role."),
    "wrong_organisation": _l("Choose organisations of the right kind in the person's region."),
    "no_organisations_for_role": _l("Coordinators and administrators belong to no organisation."),
    "cannot_change_own_role": _l("You cannot change your own role."),
    "cannot_deactivate_self": _l("You cannot deactivate yourself."),
    "inactive": _l("The person is deactivated."),
}
STATS_ERRORS = {
    "invalid_range": _l("The end date is before the start date."),
    "range_too_long": _l("Choose a period of at most ten years."),
}


@bp.app_template_filter("helsinki_time")
def helsinki_time(moment: datetime) -> str:
    """Show a UTC moment as Finnish local time, e.g. 2024-03-31 02:30."""
    return moment.astimezone(HELSINKI).strftime("%Y-%m-%d %H:%M")


@bp.app_context_processor
def _labels() -> dict:
    return {
        "role_labels": ROLE_LABELS,
        "category_labels": CATEGORY_LABELS,
        "action_labels": ACTION_LABELS,
    }


# --- helpers ------------------------------------------------------------------------------


def _visible_or_404(query, object_id: int):
    return network.find_visible(query, object_id) or abort(404)


def _page(template: str, fragment: str | None = None, status: int = 200, **context):
    """Render the page, or for htmx only its fragment; tell caches the answer varies."""
    name = fragment if fragment and request.headers.get("HX-Request") else template
    response = make_response(render_template(name, **context), status)
    response.headers["Vary"] = "HX-Request"
    return response


def _perform(form, action) -> bool:
    """Validate the form and run the action; commit, or show its error on the form."""
    if not form.validate_on_submit():
        return False
    try:
        action()
    except NetworkError as error:
        db.session.rollback()
        message = str(NETWORK_ERRORS.get(error.code, error.code))
        target = getattr(form, error.field or "", None)
        if target is not None and hasattr(target, "errors"):
            target.errors = [*target.errors, message]
        else:
            form.form_errors.append(message)
        return False
    db.session.commit()
    return True


def _status() -> int:
    return 422 if request.method == "POST" else 200


def _regions() -> list[Region]:
    return list(db.session.scalars(network.regions_visible_to(current_user)))


def _helsinki_today() -> date:
    return datetime.now(HELSINKI).date()


# --- home ---------------------------------------------------------------------------------


@bp.get("/")
def home():
    today = _helsinki_today()
    regions = None if network.is_admin(current_user) else _regions()
    year = stats.visit_stats(date(today.year, 1, 1), today, "region", regions)
    counts = {
        kind: db.session.scalar(
            select(func.count()).select_from(
                network.organisations_visible_to(current_user, kind).subquery()
            )
        )
        for kind in OrganisationKind
    }
    people = db.session.scalar(
        select(func.count()).select_from(network.people_visible_to(current_user).subquery())
    )
    return render_template(
        "coordinator/home.html", year=year["totals"], today=today, counts=counts, people=people
    )


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
    if _perform(
        form,
        lambda: network.create_region(
            actor=current_user,
            code=form.code.data,
            name=form.name.data,
            pilot_ends_on=form.pilot_ends_on.data,
        ),
    ):
        flash(_("The region was added."))
        return redirect(url_for(".regions"), 303)
    return render_template("coordinator/region_form.html", form=form), _status()


@bp.route("/regions/<int:region_id>", methods=["GET", "POST"])
def region(region_id: int):
    region = _visible_or_404(network.regions_visible_to(current_user), region_id)
    admin = network.is_admin(current_user)
    form = RegionForm(obj=region)
    del form.code
    if request.method == "POST" and not admin:
        abort(403)
    if _perform(
        form,
        lambda: network.update_region(
            region, actor=current_user, name=form.name.data, pilot_ends_on=form.pilot_ends_on.data
        ),
    ):
        flash(_("The region was saved."))
        return redirect(url_for(".region", region_id=region.id), 303)
    return render_template(
        "coordinator/region.html",
        region=region,
        form=form,
        membership_form=MembershipForm(formdata=None),
        admin=admin,
        today=_helsinki_today(),
    ), _status()


@bp.post("/regions/<int:region_id>/memberships")
def add_membership(region_id: int):
    region = _visible_or_404(network.regions_visible_to(current_user), region_id)
    if not network.is_admin(current_user):
        abort(403)
    form = MembershipForm()
    if _perform(
        form,
        lambda: network.add_membership(
            region, actor=current_user, starts_on=form.starts_on.data, ends_on=form.ends_on.data
        ),
    ):
        flash(_("The membership period was added."))
        return redirect(url_for(".region", region_id=region.id), 303)
    region_form = RegionForm(obj=region)
    del region_form.code
    return render_template(
        "coordinator/region.html",
        region=region,
        form=region_form,
        membership_form=form,
        admin=True,
        today=_helsinki_today(),
    ), 422


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
    form.region.choices = [SelectChoice(r.id, r.name) for r in _regions()]
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
        raise NetworkError("not_your_region", "region")
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
    if _perform(form, lambda: _save_organisation(form, None, kind)):
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
    if _perform(form, lambda: _save_organisation(form, org, org.kind)):
        flash(_("%(name)s was saved.", name=org.name))
        return redirect(url_for(".organisations", kinds=kinds), 303)
    staff = sorted(org.users, key=lambda user: user.email)
    events = db.session.scalars(
        select(Event).where(Event.venue_id == org.id).order_by(Event.starts_on.desc()).limit(20)
    ).all()
    return render_template(
        "coordinator/organisation_form.html",
        form=form,
        kinds=kinds,
        organisation=org,
        staff=staff,
        events=events,
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
        raise NetworkError("not_a_venue", "venue")
    return network.save_event(
        event,
        actor=current_user,
        venue=venue,
        name=form.name.data,
        starts_on=form.starts_on.data,
        quota=form.quota.data,
        active=form.active.data,
    )


@bp.get("/events")
def events():
    query = network.events_visible_to(current_user).options(selectinload(Event.venue))
    rows = db.session.scalars(query.limit(200)).all()
    used = dict(
        db.session.execute(
            select(Visit.event_id, func.count())
            .where(Visit.event_id.in_([e.id for e in rows]))
            .group_by(Visit.event_id)
        ).all()
    )
    return render_template("coordinator/events.html", events=rows, used=used)


@bp.route("/events/new", methods=["GET", "POST"])
def new_event():
    form = _event_form(None)
    if _perform(form, lambda: _save_event(form, None)):
        flash(_("The event was added."))
        return redirect(url_for(".events"), 303)
    return render_template("coordinator/event_form.html", form=form, event=None), _status()


@bp.route("/events/<int:event_id>", methods=["GET", "POST"])
def event(event_id: int):
    event = _visible_or_404(network.events_visible_to(current_user), event_id)
    form = _event_form(event)
    if _perform(form, lambda: _save_event(form, event)):
        flash(_("The event was saved."))
        return redirect(url_for(".events"), 303)
    return render_template(
        "coordinator/event_form.html", form=form, event=event, used=network.event_usage(event)
    ), _status()


# --- people -------------------------------------------------------------------------------


def _role_choices() -> list[SelectChoice]:
    roles = list(ROLE_LABELS) if network.is_admin(current_user) else list(ROLE_LABELS)[:3]
    return [SelectChoice(role.value, ROLE_LABELS[role]) for role in roles]


def _organisation_choices(region_id: int | None = None) -> list[SelectChoice]:
    query = network.organisations_visible_to(current_user).options(
        selectinload(Organisation.region)
    )
    if region_id is not None:
        query = query.where(Organisation.region_id == region_id)
    return [SelectChoice(o.id, f"{o.name} ({o.region.name})") for o in db.session.scalars(query)]


def _chosen_organisations(ids: list[int]) -> list[Organisation]:
    if not ids:
        return []
    query = network.organisations_visible_to(current_user).where(Organisation.id.in_(ids))
    return list(db.session.scalars(query))


def _invite_link(token: str) -> str:
    return url_for("invite.accept", token=token, _external=True)


@bp.get("/people")
def people():
    query = network.people_visible_to(current_user).options(
        selectinload(User.organisations), selectinload(User.region)
    )
    return render_template("coordinator/people.html", people=db.session.scalars(query).all())


@bp.route("/people/new", methods=["GET", "POST"])
def new_person():
    form = PersonForm()
    form.role.choices = _role_choices()
    form.region.choices = [SelectChoice(r.id, r.name) for r in _regions()]
    form.organisations.choices = _organisation_choices()
    if request.method == "GET":
        form.region.data = current_user.region_id
        form.role.data = Role.VENUE.value
        form.organisations.data = request.args.getlist("organisation", type=int)
    created = {}

    def invite():
        region = network.find_visible(network.regions_visible_to(current_user), form.region.data)
        created["user"], created["token"] = network.invite_person(
            actor=current_user,
            email=form.email.data,
            role=Role(form.role.data),
            region=region,
            organisations=_chosen_organisations(form.organisations.data),
        )

    if _perform(form, invite):
        return render_template(
            "coordinator/invite_link.html",
            person=created["user"],
            link=_invite_link(created["token"]),
        )
    return render_template("coordinator/person_form.html", form=form, person=None), _status()


@bp.route("/people/<int:user_id>", methods=["GET", "POST"])
def person(user_id: int):
    person = _visible_or_404(network.people_visible_to(current_user), user_id)
    form = PersonEditForm(obj=person)
    form.role.choices = _role_choices()
    form.organisations.choices = _organisation_choices(person.region_id)
    if request.method == "GET":
        form.role.data = person.role.value
        form.organisations.data = [o.id for o in person.organisations]
    if _perform(
        form,
        lambda: network.update_person(
            person,
            actor=current_user,
            role=Role(form.role.data),
            organisations=_chosen_organisations(form.organisations.data),
        ),
    ):
        flash(_("%(email)s was saved.", email=person.email))
        return redirect(url_for(".people"), 303)
    return render_template("coordinator/person_form.html", form=form, person=person), _status()


@bp.post("/people/<int:user_id>/<any(deactivate, reactivate, invite):action>")
def person_action(user_id: int, action: str):
    person = _visible_or_404(network.people_visible_to(current_user), user_id)
    try:
        if action == "invite":
            token = network.renew_invite(person, actor=current_user)
        elif action == "deactivate":
            network.deactivate_person(person, actor=current_user)
        else:
            network.reactivate_person(person, actor=current_user)
    except NetworkError as error:
        db.session.rollback()
        flash(str(NETWORK_ERRORS.get(error.code, error.code)), "error")
        return redirect(url_for(".person", user_id=person.id), 303)
    db.session.commit()
    if action == "invite":
        return render_template(
            "coordinator/invite_link.html", person=person, link=_invite_link(token)
        )
    if action == "deactivate":
        flash(
            _(
                "%(email)s was deactivated: their sessions and API tokens stopped.",
                email=person.email,
            )
        )
    else:
        flash(_("%(email)s is in use again.", email=person.email))
    return redirect(url_for(".people"), 303)


# --- statistics ---------------------------------------------------------------------------


def _stats_filter() -> tuple[StatsFilterForm, list[Region] | None]:
    """Parse the statistics filter: dates (default this year) and one region or all."""
    today = _helsinki_today()
    regions = _regions()
    admin = network.is_admin(current_user)
    choices = [SelectChoice(0, _("All regions"))] if admin else []
    choices += [SelectChoice(r.id, r.name) for r in regions]
    args = request.args.copy()
    args.setdefault("start", date(today.year, 1, 1).isoformat())
    args.setdefault("end", date(today.year, 12, 31).isoformat())
    args.setdefault("region", str(choices[0].value if choices else 0))
    form = StatsFilterForm(args)
    form.region.choices = choices
    if admin and not form.region.data:
        return form, None
    return form, [r for r in regions if r.id == form.region.data]


def _report(form, regions, only: str | None = None):
    if not form.validate():
        return None
    try:
        return stats.report(form.start.data, form.end.data, regions, only=only)
    except stats.StatsError as error:
        form.end.errors = [*form.end.errors, str(STATS_ERRORS.get(error.code, error.code))]
        return None


@bp.get("/stats")
def statistics():
    form, regions = _stats_filter()
    report = _report(form, regions)
    context = {"form": form, "report": report}
    if report is not None:
        context["tables"] = report_tables(report, CATEGORY_LABELS)
        context["chart"] = month_chart(report.month, _("Uses per month"))
        context["export_args"] = {
            "start": report.start.isoformat(),
            "end": report.end.isoformat(),
            "region": form.region.data,
        }
        context["scope"] = regions[0].name if regions else _("All regions")
    status = 200 if report is not None else 422
    return _page("coordinator/stats.html", "coordinator/_stats.html", status, **context)


@bp.get("/stats.<any(csv, xlsx):fmt>")
def statistics_export(fmt: str):
    name = request.args.get("table", "month") if fmt == "csv" else None
    if name is not None and name not in (*stats.GROUPS, "cards"):
        abort(404)
    form, regions = _stats_filter()
    report = _report(form, regions, only=name)
    if report is None:
        flash(_("Check the dates of the statistics."), "error")
        return redirect(url_for(".statistics", **request.args), 303)
    tables = report_tables(report, CATEGORY_LABELS)
    stem = f"kaikukortti-{report.start.isoformat()}-{report.end.isoformat()}"
    if fmt == "xlsx":
        subtitle = _(
            "%(start)s – %(end)s", start=report.start.isoformat(), end=report.end.isoformat()
        )
        body = xlsx_bytes(list(tables.values()), subtitle)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        filename = f"{stem}.xlsx"
    else:
        table = tables[name]
        body, mimetype = csv_bytes(table), "text/csv; charset=utf-8"
        filename = f"{stem}-{table.name}.csv"
    response = make_response(body)
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- audit log ----------------------------------------------------------------------------


def _audit_query(form: AuditFilterForm):
    query = select(AuditEvent).options(selectinload(AuditEvent.actor))
    if not network.is_admin(current_user):
        query = query.where(AuditEvent.region_id == current_user.region_id)
    if form.action.data:
        query = query.where(AuditEvent.action == form.action.data)
    if form.actor.data:
        pattern = f"%{form.actor.data.lower()}%"
        query = query.join(AuditEvent.actor).where(User.email.like(pattern))
    if form.subject.data:
        subject = form.subject.data.upper().replace(" ", "").replace("-", "")
        query = query.where(AuditEvent.object_id.in_({form.subject.data, subject}))
    if form.start.data:
        start = datetime.combine(form.start.data, time(), HELSINKI)
        query = query.where(AuditEvent.at >= start)
    if form.end.data:
        end = datetime.combine(form.end.data + timedelta(days=1), time(), HELSINKI)
        query = query.where(AuditEvent.at < end)
    return query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())


@bp.get("/audit")
def audit_log():
    form = AuditFilterForm(request.args)
    form.action.choices = [SelectChoice("", _("Anything"))] + [
        SelectChoice(code, str(label)) for code, label in ACTION_LABELS.items()
    ]
    listing = None
    if form.validate():
        listing = db.paginate(
            _audit_query(form),
            page=request.args.get("page", 1, type=int),
            per_page=AUDIT_PER_PAGE,
            error_out=False,
        )
    filters = {k: v for k, v in request.args.items() if k != "page" and v}
    return _page(
        "coordinator/audit.html",
        "coordinator/_audit.html",
        200 if listing is not None else 422,
        form=form,
        listing=listing,
        filters=filters,
    )
