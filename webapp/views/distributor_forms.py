"""Forms of the distributor's workspace."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Regexp, ValidationError
from wtforms.widgets import TextInput

from ..models import RevokeReason
from ..services.cards import MAX_CHILDREN, MIN_AGE, one_year_after, today_in_finland
from .fields import DateField, IntegerField


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _valid_until_field() -> DateField:
    return DateField(
        _l("Valid until"),
        default=lambda: one_year_after(today_in_finland()),
        validators=[InputRequired(_l("Enter the last day of validity."))],
    )


def _not_in_the_past(field) -> None:
    if field.data is not None and field.data < today_in_finland():
        raise ValidationError(_("The last day of validity cannot be in the past."))


class RegisterForm(FlaskForm):
    """A new card: what the holder tells the distributor, nothing that names them."""

    issuer = SelectField(_l("Organisation"), coerce=int)
    birth_year = IntegerField(
        _l("Birth year of the cardholder"),
        widget=TextInput(),
        validators=[InputRequired(_l("Enter the birth year, for example 1985."))],
    )
    postcode = StringField(
        _l("Postcode"),
        filters=[_strip],
        validators=[
            InputRequired(_l("Enter the postcode.")),
            Regexp(r"[0-9]{5}\Z", message=_l("Enter the postcode as five digits, e.g. 70100.")),
        ],
    )
    children = IntegerField(
        _l("Children"),
        default=0,
        validators=[
            InputRequired(_l("Enter the number of children, 0 if none.")),
            NumberRange(0, MAX_CHILDREN, _l("Enter a number from %(min)s to %(max)s.")),
        ],
    )
    region = SelectField(_l("Region"), coerce=int)
    valid_until = _valid_until_field()

    def validate_birth_year(self, field) -> None:
        if field.data is None:
            return
        this_year = today_in_finland().year
        if not 1900 <= field.data <= this_year:
            raise ValidationError(_("Enter a year from 1900 to %(year)s.", year=this_year))
        if field.data > this_year - MIN_AGE:
            raise ValidationError(
                _("The cardholder must turn %(age)s this year or be older.", age=MIN_AGE)
            )

    def validate_valid_until(self, field) -> None:
        _not_in_the_past(field)


class RenewForm(FlaskForm):
    valid_until = _valid_until_field()

    def validate_valid_until(self, field) -> None:
        _not_in_the_past(field)


class RevokeForm(FlaskForm):
    reason = SelectField(
        _l("Reason"),
        choices=[
            SelectChoice(RevokeReason.LOST.value, _l("Lost or stolen")),
            SelectChoice(RevokeReason.MISUSE.value, _l("Misused")),
            SelectChoice(RevokeReason.OTHER.value, _l("Other reason")),
        ],
    )


class ConfirmForm(FlaskForm):
    """Reissuing and moving the digital card need only the confirmation itself."""


class FindForm(FlaskForm):
    class Meta:
        csrf = False

    number = StringField(
        _l("Card number"),
        filters=[_strip],
        validators=[InputRequired(_l("Enter a card number.")), Length(max=40)],
    )
