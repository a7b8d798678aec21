"""Forms of the distributor's workspace.

The forms check the shape of what is typed; the card holder's rules (the age, the postcode,
the children, the validity) are the card service's, and each field shows its refusal.
"""

from collections.abc import Callable

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional, ValidationError
from wtforms.widgets import TextInput

from ..models import CardKind, RevokeReason
from ..rules import today_in_finland
from ..services import cards
from ..services.cards import one_year_after
from .fields import DateField, IntegerField


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _rule(check: Callable[..., None], *, by_kind: bool = False) -> Callable:
    """Return a validator that applies the card service's rule to the field's value (with
    ``by_kind``, the rule for the form's ``card_kind``: personal unless the form says)."""

    def validate(form, field) -> None:
        if field.data is None:
            return
        kind = (getattr(form, "card_kind", CardKind.PERSONAL),) if by_kind else ()
        try:
            check(field.data, *kind)
        except cards.CardError as error:
            raise ValidationError(error.message) from None

    return validate


def _valid_until_field() -> DateField:
    return DateField(
        _l("Valid until"),
        default=lambda: one_year_after(today_in_finland()),
        validators=[
            InputRequired(_l("Enter the last day of validity.")),
            _rule(cards.check_valid_until),
        ],
    )


def _postcode_field(required) -> StringField:
    return StringField(
        _l("Postcode"), filters=[_strip], validators=[required, _rule(cards.check_postcode)]
    )


def _children_field(required, default: int | None = 0, label=None) -> IntegerField:
    return IntegerField(
        label or _l("Children"),
        default=default,
        validators=[required, _rule(cards.check_children, by_kind=True)],
    )


class RegisterForm(FlaskForm):
    """A new card: what the holder tells the distributor, nothing that names them."""

    issuer = SelectField(_l("Organisation"), coerce=int)
    birth_year = IntegerField(
        _l("Birth year of the cardholder"),
        widget=TextInput(),
        validators=[
            InputRequired(_l("Enter the birth year, for example 1985.")),
            _rule(cards.check_birth_year),
        ],
    )
    postcode = _postcode_field(InputRequired(_l("Enter the postcode.")))
    children = _children_field(InputRequired(_l("Enter the number of children, 0 if none.")))
    region = SelectField(_l("Region"), coerce=int)
    valid_until = _valid_until_field()


class CommunityCardForm(FlaskForm):
    """A community card: the organisation's own, for its workers' groups; nothing personal."""

    card_kind = CardKind.COMMUNITY
    issuer = SelectField(_l("Organisation"), coerce=int)
    children = _children_field(
        InputRequired(_l("Enter the size of the group, for example 5.")),
        default=cards.MAX_GROUP,
        label=_l("Group size"),
    )
    region = SelectField(_l("Region"), coerce=int)
    valid_until = _valid_until_field()


class CorrectForm(FlaskForm):
    """A mistyped number of children or postcode, corrected."""

    children = _children_field(InputRequired(_l("Enter the number of children, 0 if none.")))
    postcode = _postcode_field(InputRequired(_l("Enter the postcode.")))


class RenewForm(FlaskForm):
    """A new last day of validity; children and postcode as they are unless corrected."""

    valid_until = _valid_until_field()
    children = _children_field(Optional(), default=None)
    postcode = _postcode_field(Optional())


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
