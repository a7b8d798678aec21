"""The people of the network: invitations, roles, organisations and deactivation."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload
from wtforms import SelectChoice

from ...extensions import db
from ...models import Organisation, OrganisationKind, Role, User
from ...services import network
from ...services.network import NetworkError
from ..coordinator_forms import ROLE_LABELS, PersonEditForm, PersonForm
from ..fields import perform
from .base import _regions, _status, _visible_or_404, bp


def _role_choices() -> list[SelectChoice]:
    roles = list(ROLE_LABELS) if network.is_admin(current_user) else list(ROLE_LABELS)[:3]
    return [SelectChoice(role.value, ROLE_LABELS[role]) for role in roles]


def _organisation_choices(region_id: int | None = None) -> dict[str, list[SelectChoice]]:
    """Return the organisations a person may belong to, venues and distributors apart."""
    query = network.organisations_visible_to(current_user).options(
        selectinload(Organisation.region)
    )
    if region_id is not None:
        query = query.where(Organisation.region_id == region_id)
    kinds = (OrganisationKind.VENUE, OrganisationKind.DISTRIBUTOR)
    groups: dict[str, list[SelectChoice]] = {kind.value: [] for kind in kinds}
    for org in db.session.scalars(query):
        label = f"{org.name} ({org.region.local_name})"
        groups[org.kind.value].append(SelectChoice(org.id, label))
    return groups


def _chosen_organisations(ids: list[int]) -> list[Organisation]:
    if not ids:
        return []
    query = network.organisations_visible_to(current_user).where(Organisation.id.in_(ids))
    return list(db.session.scalars(query))


def _link_page(person: User, token: str):
    """Show the one-time password link once; it is a bearer secret, so nothing may keep it."""
    link = url_for("invite.accept", token=token, _external=True)
    page = render_template("coordinator/invite_link.html", person=person, link=link)
    return page, 200, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


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
    form.region.choices = [SelectChoice(r.id, r.local_name) for r in _regions()]
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

    if perform(form, invite):
        return _link_page(created["user"], created["token"])
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
    if perform(
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


@bp.post("/people/<int:user_id>/<any(deactivate, reactivate, invite, reset):action>")
def person_action(user_id: int, action: str):
    person = _visible_or_404(network.people_visible_to(current_user), user_id)
    try:
        if action == "invite":
            token = network.renew_invite(person, actor=current_user)
        elif action == "reset":
            token = network.reset_password(person, actor=current_user)
        elif action == "deactivate":
            network.deactivate_person(person, actor=current_user)
        else:
            network.reactivate_person(person, actor=current_user)
    except NetworkError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for(".person", user_id=person.id), 303)
    db.session.commit()
    if action in ("invite", "reset"):
        return _link_page(person, token)
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
