"""Forms and labels of the coordinator's pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import EqualTo, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..models import Role, VenueCategory
from ..services.network import MIN_PASSWORD_LENGTH
from .fields import DateField, IntegerField

ROLE_LABELS = {
    Role.VENUE: _l("Venue staff"),
    Role.DISTRIBUTOR: _l("Distributor staff"),
    Role.COORDINATOR: _l("Regional coordinator"),
    Role.ADMIN: _l("National administrator"),
}
CATEGORY_LABELS = {
    VenueCategory.CULTURE: _l("Culture"),
    VenueCategory.EDUCATION: _l("Education"),
    VenueCategory.SCIENCE: _l("Science"),
    VenueCategory.SPORT: _l("Sport"),
    VenueCategory.NATURE: _l("Nature"),
}
ACTION_LABELS = {
    "card.issued": _l("Card issued"),
    "card.renewed": _l("Card renewed"),
    "card.corrected": _l("Card's children or postcode corrected"),
    "card.validity_changed": _l("Card validity changed"),
    "card.reissued": _l("Card reissued"),
    "card.revoked": _l("Card revoked"),
    "card.printed": _l("Card printed"),
    "card.token_handed_out": _l("Card's code or digital-card link handed out"),
    "card.digital_moved": _l("Digital card moved to a new phone"),
    "card.digital_activated": _l("Digital card opened"),
    "visit.undone": _l("Visit undone"),
    "region.created": _l("Region added"),
    "region.updated": _l("Region changed"),
    "region.unsigned_refused_from": _l("End of unsigned cards changed"),
    "cards.imported": _l("Cards imported from the national register"),
    "membership.added": _l("Network membership added"),
    "membership.removed": _l("Network membership removed"),
    "organisation.created": _l("Organisation added"),
    "organisation.updated": _l("Organisation changed"),
    "event.created": _l("Event added"),
    "event.updated": _l("Event changed"),
    "user.invited": _l("Person invited"),
    "user.invite_renewed": _l("New invitation link"),
    "user.invite_accepted": _l("Invitation accepted"),
    "user.updated": _l("Person changed"),
    "user.deactivated": _l("Person deactivated"),
    "user.reactivated": _l("Person reactivated"),
}


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _empty_to_none(value):
    return None if value in ("", None) else value


class RegionForm(FlaskForm):
    code = StringField(
        _l("Code"),
        filters=[_strip],
        validators=[InputRequired(_l("Enter a code.")), Length(max=40)],
    )
    name = StringField(
        _l("Name"),
        filters=[_strip],
        validators=[InputRequired(_l("Enter a name.")), Length(max=120)],
    )
    name_sv = StringField(
        _l("Name in Swedish"),
        filters=[_strip, _empty_to_none],
        validators=[Optional(), Length(max=120)],
    )
    pilot_ends_on = DateField(_l("Pilot ends on"), validators=[Optional()])


class UnsignedCardsForm(FlaskForm):
    unsigned_refused_from = DateField(_l("Unsigned cards refused from"), validators=[Optional()])


class MembershipForm(FlaskForm):
    starts_on = DateField(_l("Member from"), validators=[InputRequired(_l("Enter a date."))])
    ends_on = DateField(_l("Member until (empty: until further notice)"), validators=[Optional()])


class OrganisationForm(FlaskForm):
    name = StringField(
        _l("Name"),
        filters=[_strip],
        validators=[InputRequired(_l("Enter a name.")), Length(max=200)],
    )
    region = SelectField(_l("Region"), coerce=int)
    category = SelectField(
        _l("Category"),
        choices=[SelectChoice(c.value, label) for c, label in CATEGORY_LABELS.items()],
        validators=[Optional()],
    )
    course_provider = BooleanField(_l("Course provider (no children; courses and classes)"))
    home_region_only = BooleanField(_l("Accepts only cards of its own region"))
    quota_full_refuses = BooleanField(
        _l("Refuse the card when an event's Kaikukortti quota is full (otherwise only warn)")
    )
    active = BooleanField(_l("In use"), default=True)


class EventForm(FlaskForm):
    venue = SelectField(_l("Venue"), coerce=int)
    name = StringField(
        _l("Name"),
        filters=[_strip],
        validators=[InputRequired(_l("Enter a name.")), Length(max=200)],
    )
    starts_on = DateField(_l("Date"), validators=[InputRequired(_l("Enter a date."))])
    ends_on = DateField(
        _l("Last day (a course: the last day of its term)"), validators=[Optional()]
    )
    quota = IntegerField(
        _l("Kaikukortti quota (empty: no limit)"),
        filters=[_empty_to_none],
        validators=[Optional(), NumberRange(0, 100_000, _l("Enter a number of 0 or more."))],
    )
    active = BooleanField(_l("In use"), default=True)


class PersonForm(FlaskForm):
    email = EmailField(
        _l("Email"),
        filters=[_strip],
        validators=[InputRequired(_l("Enter an email address.")), Length(max=254)],
    )
    role = SelectField(_l("Role"))
    region = SelectField(_l("Region"), coerce=int)
    organisations = SelectMultipleField(
        _l("Organisations"),
        coerce=int,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


class PersonEditForm(FlaskForm):
    role = SelectField(_l("Role"))
    organisations = SelectMultipleField(
        _l("Organisations"),
        coerce=int,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


class InviteForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        validators=[
            InputRequired(_l("Choose a password.")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=1024,
                message=_l("The password must be at least %(min)d characters long."),
            ),
        ],
    )
    confirm = PasswordField(
        _l("The same password again"),
        validators=[
            InputRequired(_l("Type the password again.")),
            EqualTo("password", _l("The passwords differ.")),
        ],
    )


class StatsFilterForm(FlaskForm):
    class Meta:
        csrf = False

    start = DateField(_l("From"), validators=[InputRequired(_l("Enter a date."))])
    end = DateField(_l("To"), validators=[InputRequired(_l("Enter a date."))])
    region = SelectField(_l("Region"), coerce=int)


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    action = SelectField(_l("What"), validators=[Optional()])
    actor = StringField(_l("Who (email)"), filters=[_strip], validators=[Length(max=254)])
    subject = StringField(
        _l("Object (card number or id)"), filters=[_strip], validators=[Length(max=40)]
    )
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])


class VenueStatsForm(FlaskForm):
    class Meta:
        csrf = False

    venue = SelectField(_l("Venue"), coerce=int)
    year = IntegerField(
        _l("Year"), validators=[InputRequired(), NumberRange(2000, 2100, _l("Enter a year."))]
    )


class NationalStatsForm(FlaskForm):
    class Meta:
        csrf = False

    year = IntegerField(
        _l("Year"), validators=[InputRequired(), NumberRange(2000, 2100, _l("Enter a year."))]
    )
    region = SelectField(_l("Region"), coerce=int)
