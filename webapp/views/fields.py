"""Form helpers: fields that refuse what the database and the date arithmetic cannot hold,
and one way to run a service on a valid form and show its refusal on the field it names.

A page answers a field error, never a 500, for a number beyond a 64-bit integer (WTForms'
own NumberRange overflows on it) or a date outside 1900-2999 (a year 1 or 9999 overflows
when the services step a day or a month beyond it).
"""

from collections.abc import Callable
from datetime import date

from flask_babel import lazy_gettext as _l
from wtforms import fields

from ..errors import DomainError
from ..extensions import db

FIRST_DATE, LAST_DATE = date(1900, 1, 1), date(2999, 12, 31)
MAX_DIGITS = 18  # every such number fits a PostgreSQL bigint
NOT_AN_INTEGER = "Not a valid integer value."  # WTForms' own message, in its own catalogue


class IntegerField(fields.IntegerField):
    def process_formdata(self, valuelist):
        if valuelist and len(str(valuelist[0]).strip().lstrip("+-")) > MAX_DIGITS:
            self.data = None
            raise ValueError(self.gettext(NOT_AN_INTEGER))
        super().process_formdata(valuelist)


class DateField(fields.DateField):
    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None and not FIRST_DATE <= self.data <= LAST_DATE:
            self.data = None
            raise ValueError(_l("Give a date from 1900 to 2999."))


def perform(form, action: Callable[[], object]) -> bool:
    """Validate the form and run the service action; commit, or show its refusal on the form.

    A :class:`~webapp.errors.DomainError` goes to the field it names, else above the form.
    """
    if not form.validate_on_submit():
        return False
    try:
        action()
    except DomainError as error:
        db.session.rollback()
        target = getattr(form, error.field or "", None)
        if target is not None and hasattr(target, "errors"):
            target.errors = [*target.errors, error.message]
        else:
            form.form_errors.append(error.message)
        return False
    db.session.commit()
    return True


MAX_PAGE = 1_000_000  # far beyond any list, and page * size stays within the database's integers


def page_number(args) -> int:
    """Return the list page asked for in the query string: 1 unless a sensible number."""
    page = args.get("page", 1, type=int)
    return page if 1 <= page <= MAX_PAGE else 1
