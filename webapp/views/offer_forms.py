"""Forms of the offers: the catalogue's filters (a plain GET form) and the publishing form."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from ..models import OfferKind
from .coordinator_forms import CATEGORY_LABELS

KIND_LABELS = {
    OfferKind.EVENT: _l("An event at a time"),
    OfferKind.STANDING: _l("A standing offer (opening hours, a course term)"),
}
MAX_DAYS = 366


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _empty_to_none(value):
    return None if value in ("", None) else value


class CatalogueForm(FlaskForm):
    """The catalogue's filters, read from the query string.

    No CSRF token: nothing is changed, and making one would set a session cookie.
    """

    class Meta:
        csrf = False

    region = SelectField(_l("Region"), default="")
    municipality = SelectField(_l("Municipality"), default="")
    start = DateField(_l("From"), name="from", validators=[Optional()])
    end = DateField(_l("To"), name="to", validators=[Optional()])
    field = SelectField(
        _l("Field"),
        choices=[SelectChoice("", _l("All fields"))]
        + [SelectChoice(k.value, v) for k, v in CATEGORY_LABELS.items()],
        default="",
    )
    children = BooleanField(_l("Children welcome"))

    def validate_end(self, end):
        if self.start.data and end.data:
            if end.data < self.start.data:
                raise ValidationError(_l("The last day must not be before the first."))
            if (end.data - self.start.data).days > MAX_DAYS:
                raise ValidationError(_l("Choose at most a year."))


class OfferForm(FlaskForm):
    venue = SelectField(_l("Venue"), coerce=int)
    kind = RadioField(
        _l("Kind of offer"),
        choices=[SelectChoice(k.value, v) for k, v in KIND_LABELS.items()],
        default=OfferKind.EVENT.value,
    )
    title = StringField(
        _l("Title"),
        filters=[_strip],
        validators=[InputRequired(_l("Enter a title.")), Length(max=200)],
    )
    starts_on = DateField(_l("Date, or first day"), validators=[InputRequired(_l("Enter a date."))])
    starts_at = TimeField(_l("Starts at"), validators=[Optional()])
    ends_at = TimeField(_l("Ends at"), validators=[Optional()])
    ends_on = DateField(
        _l("Last day (standing offer; empty: until further notice)"), validators=[Optional()]
    )
    hours = StringField(
        _l("Opening hours or schedule"), filters=[_strip], validators=[Length(max=200)]
    )
    place = StringField(_l("Place"), filters=[_strip], validators=[Length(max=200)])
    municipality = StringField(_l("Municipality"), filters=[_strip], validators=[Length(max=80)])
    quota = IntegerField(
        _l("Kaikukortti places (empty: no limit)"),
        filters=[_empty_to_none],
        validators=[Optional(), NumberRange(0, 100_000, _l("Enter a number of 0 or more."))],
    )
    children_welcome = BooleanField(_l("Children come free"))
    text_fi = TextAreaField(
        _l("Short text in Finnish"), filters=[_strip], validators=[Length(max=500)]
    )
    text_sv = TextAreaField(
        _l("Short text in Swedish"), filters=[_strip], validators=[Length(max=500)]
    )
    text_en = TextAreaField(
        _l("Short text in English"), filters=[_strip], validators=[Length(max=500)]
    )
